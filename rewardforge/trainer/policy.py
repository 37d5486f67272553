"""The policy: any Hugging Face causal LM with its tokenizer (or a tiny one built in code), optional LoRA.

The loss never asks the model for logits. It takes the decoder's last hidden states at the completion
positions and hands them with the lm_head weight to the fused kernels, so the ``[tokens, vocab]`` logits
never exist in full. Models whose head is more than a linear layer (logit soft-capping, logit scales)
fall back to the logits path. Position ids follow the attention mask exactly as ``generate`` computes
them, so the training pass scores left-padded prompts the way they were sampled.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from rewardforge.trainer.config import ModelConfig
from rewardforge.trainer.errors import ConfigError
from rewardforge.trainer.tiny import char_tokenizer, tiny_llama

Prompt = str | list[dict[str, Any]]
#: Config attributes that put something between the last hidden state and the logits.
HEAD_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "logits_scaling", "output_multiplier_scale")


@dataclass
class Policy:
    model: torch.nn.Module  # a PreTrainedModel, or a peft PeftModel around one
    tokenizer: PreTrainedTokenizerBase
    use_chat: bool
    system_prompt: str | None = None
    adapter_off: bool = False  # a LoRA policy's reference: the same weights with the adapter switched off
    eos_ids: set[int] = field(default_factory=set)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def causal_lm(self) -> PreTrainedModel:
        model: Any = self.model
        return model.get_base_model() if hasattr(model, "get_base_model") else model

    @property
    def head(self) -> torch.nn.Linear:
        head = self.causal_lm.get_output_embeddings()
        assert isinstance(head, torch.nn.Linear)
        return head

    @property
    def fused_head(self) -> bool:
        """Whether logits are exactly ``hidden @ head.weight.T + head.bias`` (the fused kernels' contract)."""
        config = self.causal_lm.config
        plain = isinstance(self.causal_lm.get_output_embeddings(), torch.nn.Linear)
        return plain and not any(getattr(config, name, None) not in (None, 1.0) for name in HEAD_TRANSFORMS)

    def trainable(self) -> list[torch.nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def prompt_ids(self, prompt: Prompt) -> list[int]:
        """Token ids of the prompt as the model sees it: through the chat template, or as plain text."""
        if self.use_chat:
            messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
            if self.system_prompt and messages[0].get("role") != "system":
                messages.insert(0, {"role": "system", "content": self.system_prompt})
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        else:
            if not isinstance(prompt, str):
                raise ConfigError("chat-message prompts need a tokenizer with a chat template "
                                  "(model.chat_template: true)")
            text = f"{self.system_prompt}\n{prompt}" if self.system_prompt else prompt
            ids = self.tokenizer(text)["input_ids"]
        return list(ids)

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=True))

    def _adapter_context(self) -> AbstractContextManager[Any]:
        return self.model.disable_adapter() if self.adapter_off else nullcontext()  # type: ignore[operator]

    def completion_hidden(self, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, completion_ids: torch.Tensor,
                          completion_mask: torch.Tensor) -> torch.Tensor:
        """Last hidden states ``[B, T, H]`` at the positions that predict each completion token."""
        ids, attention, positions = _joined(prompt_ids, prompt_mask, completion_ids, completion_mask)
        with self._adapter_context():
            hidden = self.causal_lm.get_decoder()(input_ids=ids, attention_mask=attention, position_ids=positions,
                                                  use_cache=False).last_hidden_state
        return hidden[:, prompt_ids.shape[1] - 1: -1]

    def completion_logits(self, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, completion_ids: torch.Tensor,
                          completion_mask: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, T, V]`` for the completion tokens: the path for heads the fused kernels cannot take."""
        ids, attention, positions = _joined(prompt_ids, prompt_mask, completion_ids, completion_mask)
        with self._adapter_context():
            logits = self.model(input_ids=ids, attention_mask=attention, position_ids=positions, use_cache=False,
                                logits_to_keep=completion_ids.shape[1] + 1).logits
        return logits[:, :-1]

    def reference(self) -> Policy:
        """A frozen copy for the KL term; for a LoRA policy, the same model with its adapter switched off."""
        if hasattr(self.model, "disable_adapter"):
            return Policy(self.model, self.tokenizer, self.use_chat, self.system_prompt, True, self.eos_ids)
        frozen = copy.deepcopy(self.model).eval().requires_grad_(False)
        return Policy(frozen, self.tokenizer, self.use_chat, self.system_prompt, False, self.eos_ids)

    def save(self, path: Path) -> None:
        with quiet_hub_bars():
            self.model.save_pretrained(path)  # type: ignore[operator]
            self.tokenizer.save_pretrained(path)


@contextmanager
def quiet_hub_bars() -> Iterator[None]:
    """No transformers progress bars while loading or saving: they would tear through the run's display."""
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _joined(prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, completion_ids: torch.Tensor,
            completion_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    ids = torch.cat([prompt_ids, completion_ids], dim=1)
    attention = torch.cat([prompt_mask, completion_mask], dim=1).long()
    positions = (attention.cumsum(-1) - 1).clamp(min=0)  # as generate() numbers left-padded rows
    return ids, attention, positions


def pick_device(setting: str) -> torch.device:
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(setting)


def pick_dtype(setting: str, device: torch.device) -> torch.dtype:
    if setting == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    dtype: torch.dtype = getattr(torch, setting)
    return dtype


def load_policy(config: ModelConfig, seed: int) -> Policy:
    """The policy on its device in its dtype, LoRA applied, ready to train."""
    device = pick_device(config.device)
    dtype = pick_dtype(config.dtype, device)
    tokenizer: Any
    if config.tiny is not None:
        tokenizer = char_tokenizer(config.tiny.alphabet, config.tiny.special_tokens)
        model: Any = tiny_llama(config.tiny, len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id, seed)
    else:
        assert config.name_or_path is not None
        tokenizer = AutoTokenizer.from_pretrained(config.name_or_path, trust_remote_code=config.trust_remote_code)
        tokenizer.padding_side = "left"
        with quiet_hub_bars():
            model = AutoModelForCausalLM.from_pretrained(config.name_or_path, dtype=dtype,
                                                         trust_remote_code=config.trust_remote_code)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = model.to(device=device, dtype=dtype)
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    if config.lora is not None:
        model = _with_lora(model, config)
    has_template = bool(getattr(tokenizer, "chat_template", None))
    use_chat = has_template if config.chat_template is None else config.chat_template
    if use_chat and not has_template:
        raise ConfigError("model.chat_template is true but the tokenizer has no chat template")
    return Policy(model, tokenizer, use_chat, config.system_prompt, eos_ids=_eos_ids(model, tokenizer))


def _with_lora(model: PreTrainedModel, config: ModelConfig) -> Any:
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise ConfigError("model.lora needs peft (pip install 'rewardforge[trainer]')") from None
    assert config.lora is not None
    lora = LoraConfig(r=config.lora.r, lora_alpha=config.lora.alpha, lora_dropout=config.lora.dropout,
                      target_modules=config.lora.target_modules, task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


def _eos_ids(model: Any, tokenizer: PreTrainedTokenizerBase) -> set[int]:
    """Every id that ends a completion: the tokenizer's EOS and the generation config's (chat models add
    end-of-turn tokens there)."""
    found = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(configured, int):
        found.add(configured)
    elif configured:
        found.update(configured)
    return found


def named_weights(policy: Policy) -> Iterator[tuple[str, torch.Tensor]]:
    """The policy's weights under the base model's names, LoRA deltas added, for an inference engine.

    The model is never merged in place: merging and unmerging after every optimizer step would let
    rounding drift into the base weights; each merged weight is a fresh tensor instead.
    """
    model: Any = policy.model
    if not hasattr(model, "get_base_model"):
        yield from ((name, param.data) for name, param in model.named_parameters())
        return
    deltas: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for name, module in model.named_modules():
            if hasattr(module, "get_delta_weight") and hasattr(module, "base_layer"):
                for adapter in module.active_adapters:
                    delta = module.get_delta_weight(adapter)
                    key = f"{name}.base_layer.weight"
                    deltas[key] = deltas[key] + delta if key in deltas else delta
        for name, param in model.named_parameters():
            if "lora_" in name or "modules_to_save" in name:
                continue
            weight = param.data + deltas[name] if name in deltas else param.data
            yield name.removeprefix("base_model.model.").replace(".base_layer", ""), weight
