"""Sampling completions: G per prompt, from ``transformers.generate`` (default, CPU or GPU) or a colocated vLLM.

A ``Rollout`` keeps the groups together: rows ``g*G .. g*G+G-1`` answer prompt ``g``. Prompts are
left-padded, completions right-padded; the completion mask covers each token up to and including the
first end token, and a row without one is ``truncated`` (it ran into ``max_new_tokens``).
Sampling uses exactly the configured parameters: nothing from the model's own generation config
(a repetition penalty, say) sneaks in and makes the sampling distribution differ from the policy.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from transformers import GenerationConfig

from rewardforge.trainer.config import ModelConfig, RolloutConfig
from rewardforge.trainer.errors import ConfigError
from rewardforge.trainer.policy import Policy, named_weights


@dataclass
class Rollout:
    prompt_ids: torch.Tensor  # [N, P] left-padded
    prompt_mask: torch.Tensor  # [N, P] bool
    completion_ids: torch.Tensor  # [N, T] right-padded
    completion_mask: torch.Tensor  # [N, T] bool: up to and including the end token
    truncated: torch.Tensor  # [N] bool
    texts: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def lengths(self) -> torch.Tensor:
        return self.completion_mask.sum(-1)

    def rows(self, index: torch.Tensor) -> Rollout:
        chosen = index.tolist()
        return Rollout(self.prompt_ids[index], self.prompt_mask[index], self.completion_ids[index],
                       self.completion_mask[index], self.truncated[index], [self.texts[i] for i in chosen])

    @staticmethod
    def concat(parts: Sequence[Rollout], pad_id: int) -> Rollout:
        if len(parts) == 1:
            return parts[0]
        width_p = max(part.prompt_ids.shape[1] for part in parts)
        width_c = max(part.completion_ids.shape[1] for part in parts)

        def left(t: torch.Tensor, fill: Any) -> torch.Tensor:
            return torch.nn.functional.pad(t, (width_p - t.shape[1], 0), value=fill)

        def right(t: torch.Tensor, fill: Any) -> torch.Tensor:
            return torch.nn.functional.pad(t, (0, width_c - t.shape[1]), value=fill)

        return Rollout(
            torch.cat([left(p.prompt_ids, pad_id) for p in parts]),
            torch.cat([left(p.prompt_mask, False) for p in parts]),
            torch.cat([right(p.completion_ids, pad_id) for p in parts]),
            torch.cat([right(p.completion_mask, False) for p in parts]),
            torch.cat([p.truncated for p in parts]),
            [text for p in parts for text in p.texts],
        )


def build_rollout(policy: Policy, prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]],
                  repeats: int) -> Rollout:
    """A Rollout from token lists; each prompt answers ``repeats`` consecutive completions."""
    pad = int(policy.tokenizer.pad_token_id)
    device = policy.device
    rows = [list(prompts[i // repeats]) for i in range(len(completions))]
    width_p = max(len(row) for row in rows)
    prompt_ids = torch.full((len(rows), width_p), pad, dtype=torch.long)
    prompt_mask = torch.zeros((len(rows), width_p), dtype=torch.bool)
    for i, row in enumerate(rows):
        prompt_ids[i, width_p - len(row):] = torch.tensor(row, dtype=torch.long)
        prompt_mask[i, width_p - len(row):] = True
    kept, truncated = [], []
    for tokens in completions:
        end = next((i for i, token in enumerate(tokens) if token in policy.eos_ids), None)
        kept.append(list(tokens) if end is None else list(tokens[: end + 1]))
        truncated.append(end is None)
    width_c = max(1, max(len(tokens) for tokens in kept))
    completion_ids = torch.full((len(kept), width_c), pad, dtype=torch.long)
    completion_mask = torch.zeros((len(kept), width_c), dtype=torch.bool)
    for i, tokens in enumerate(kept):
        completion_ids[i, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        completion_mask[i, : len(tokens)] = True
    texts = [policy.decode(tokens) for tokens in kept]
    return Rollout(prompt_ids.to(device), prompt_mask.to(device), completion_ids.to(device),
                   completion_mask.to(device), torch.tensor(truncated, device=device), texts)


class RolloutBackend(Protocol):
    def generate(self, policy: Policy, prompts: Sequence[Sequence[int]], repeats: int, *, greedy: bool = False,
                 seed: int = 0) -> Rollout: ...

    def sync(self, policy: Policy) -> None:
        """Bring the engine's weights up to date with the policy after an optimizer step."""


class TransformersBackend:
    """``model.generate`` on the policy itself: nothing to sync, works on any device."""

    def __init__(self, config: RolloutConfig) -> None:
        self.config = config

    def generate(self, policy: Policy, prompts: Sequence[Sequence[int]], repeats: int, *, greedy: bool = False,
                 seed: int = 0) -> Rollout:
        cfg = self.config
        pad = int(policy.tokenizer.pad_token_id)
        width = max(len(p) for p in prompts)
        ids = torch.tensor([[pad] * (width - len(p)) + list(p) for p in prompts], device=policy.device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=policy.device)
        sampling = {} if greedy else {"temperature": cfg.temperature, "top_p": cfg.top_p, "top_k": cfg.top_k,
                                      "min_p": cfg.min_p or None}
        generation = GenerationConfig(do_sample=not greedy, num_return_sequences=repeats,
                                      max_new_tokens=cfg.max_new_tokens, pad_token_id=pad,
                                      eos_token_id=sorted(policy.eos_ids), **sampling)
        was_training = policy.model.training
        policy.model.eval()
        try:
            with torch.no_grad():
                out = policy.model.generate(input_ids=ids, attention_mask=mask,  # type: ignore[operator]
                                            generation_config=generation)
        finally:
            policy.model.train(was_training)
        return build_rollout(policy, prompts, out[:, width:].tolist(), repeats)

    def sync(self, policy: Policy) -> None:
        return None


class VLLMBackend:
    """A vLLM engine in this process, on the same GPU; weights are pushed into it after every optimizer step."""

    def __init__(self, config: RolloutConfig, model: ModelConfig, dtype: torch.dtype, seed: int) -> None:
        try:
            from vllm import LLM
        except ImportError:
            raise ConfigError("rollout.backend=vllm needs vllm (pip install 'rewardforge[vllm]')") from None
        if not torch.cuda.is_available():
            raise ConfigError("rollout.backend=vllm needs a CUDA GPU; use rollout.backend=transformers")
        if model.name_or_path is None:
            raise ConfigError("rollout.backend=vllm needs model.name_or_path (vLLM loads the model itself)")
        # One process, one GPU: vLLM's external launcher runs the engine here, beside the trainer.
        for key, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1",
                           "MASTER_PORT": str(_free_port())}.items():
            os.environ.setdefault(key, value)
        self.config = config
        self.llm = LLM(model=model.name_or_path, dtype=dtype, seed=seed, trust_remote_code=model.trust_remote_code,
                       gpu_memory_utilization=config.vllm.gpu_memory_utilization,
                       max_model_len=config.vllm.max_model_len, enforce_eager=config.vllm.enforce_eager,
                       distributed_executor_backend="external_launcher")

    def generate(self, policy: Policy, prompts: Sequence[Sequence[int]], repeats: int, *, greedy: bool = False,
                 seed: int = 0) -> Rollout:
        from vllm import SamplingParams

        cfg = self.config
        params = SamplingParams(
            n=repeats, max_tokens=cfg.max_new_tokens, seed=seed, temperature=0.0 if greedy else cfg.temperature,
            top_p=1.0 if greedy else cfg.top_p, top_k=-1 if greedy or cfg.top_k == 0 else cfg.top_k,
            min_p=0.0 if greedy else cfg.min_p, stop_token_ids=sorted(policy.eos_ids),
        )
        outputs = self.llm.generate([{"prompt_token_ids": list(p)} for p in prompts], params, use_tqdm=False)
        completions = [list(choice.token_ids) for output in outputs for choice in output.outputs]
        return build_rollout(policy, prompts, completions, repeats)

    def sync(self, policy: Policy) -> None:
        engine_model = self.llm.llm_engine.model_executor.driver_worker.model_runner.model
        engine_model.load_weights(named_weights(policy))
        self.llm.reset_prefix_cache()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_backend(config: RolloutConfig, model: ModelConfig, policy: Policy, seed: int) -> RolloutBackend:
    if config.backend == "vllm":
        return VLLMBackend(config, model, next(policy.model.parameters()).dtype, seed)
    return TransformersBackend(config)
