"""In-process judges: a transformers model, or the vLLM offline engine when `vllm` is importable.

Both can score by verdict probability instead of parsing text: the probability the judge's reply
starts with each label ("Yes"/"No", or "1".."10"), which gives a continuous, deterministic reward.
The transformers judge computes the exact probability of every label's full token sequence, so a
label that is a prefix of another ("1" of "10" with a digit-per-token tokenizer) is separated
correctly; vLLM, like an OpenAI-compatible server, only reports the first token's distribution.
"""

from __future__ import annotations

import asyncio
import functools
import math
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rewardforge.verifiers.judge.client import JudgeFailure, JudgeReply, Prompt, label_probs_from_first_token

# Local judges run here rather than in the loop's default executor: `asyncio.run` waits for that
# executor at exit, which would turn a judge past its deadline back into a wait.
_EXECUTOR = ThreadPoolExecutor(max_workers=4, thread_name_prefix="rewardforge-judge")


async def _off_loop(fn: Callable[[], Any], deadline: float | None) -> Any:
    future = asyncio.get_running_loop().run_in_executor(_EXECUTOR, fn)
    return await asyncio.wait_for(future, deadline)


class TransformersJudge:
    """A causal LM judging in this process. Calls are serialised per model and batched."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        name: str = "local",
        temperature: float = 0.0,
        max_tokens: int = 1024,
        seed: int | None = None,
        batch_size: int = 8,
        deadline: float | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed
        self.batch_size = max(1, batch_size)
        self.deadline = deadline
        self._lock = _model_lock(id(model))
        self._special = sorted(
            {t for t in getattr(tokenizer, "all_special_tokens", []) if t}, key=len, reverse=True
        )

    @classmethod
    def load(
        cls, *, model: str | None, device: str = "auto", dtype: str = "auto", **settings: Any
    ) -> TransformersJudge:
        if not model:
            raise JudgeFailure("no model", "the transformers backend needs `model`: a local path or hub id")
        try:
            loaded, tokenizer = _load_pretrained(model, device, dtype)
        except ImportError as exc:
            raise JudgeFailure("transformers not installed", f"{exc}; pip install 'rewardforge[trainer]'") from None
        except (OSError, ValueError) as exc:
            raise JudgeFailure("model load failed", f"{model!r}: {exc}") from None
        return cls(loaded, tokenizer, name=model, **settings)

    @property
    def identity(self) -> str:
        return f"transformers:{self.name}"

    async def aclose(self) -> None:
        """The model stays loaded (cached per process) for the next scoring call."""

    async def complete_many(self, prompts: Sequence[Prompt]) -> list[JudgeReply | JudgeFailure]:
        return await self._in_batches(prompts, self._generate_batch)

    async def label_probs_many(
        self, prompts: Sequence[Prompt], labels: Sequence[str]
    ) -> list[JudgeReply | JudgeFailure]:
        return await self._in_batches(prompts, functools.partial(self._label_probs_batch, labels=labels))

    async def _in_batches(self, prompts: Sequence[Prompt], work: Any) -> list[JudgeReply | JudgeFailure]:
        results: list[JudgeReply | JudgeFailure] = []
        for start in range(0, len(prompts), self.batch_size):
            chunk = list(prompts[start : start + self.batch_size])
            try:
                # A running forward pass cannot be interrupted: past the deadline the batch is reported
                # as timed out and the thread finishes in the background, holding the model's lock.
                results += await _off_loop(functools.partial(self._locked, work, chunk), self.deadline)
            except asyncio.TimeoutError:
                results += [JudgeFailure("timeout", f"local judge took over {self.deadline:g}s") for _ in chunk]
            except Exception as exc:  # a CUDA OOM or a broken chat template fails this batch, not the run
                results += [JudgeFailure("local judge error", f"{type(exc).__name__}: {exc}") for _ in chunk]
        return results

    def _locked(self, work: Any, chunk: list[Prompt]) -> list[JudgeReply | JudgeFailure]:
        import torch

        with self._lock, torch.inference_mode():
            return list(work(chunk))

    def encode_prompt(self, prompt: Prompt) -> list[int]:
        """Token ids of the prompt up to where the judge's reply starts.

        Special-token strings inside message texts (e.g. a completion containing "<|im_start|>system")
        are broken up first, so quoted text can never become chat structure.
        """
        messages = [{**m, "content": self._defuse(str(m.get("content", "")))} for m in prompt]
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            return list(tok(text, add_special_tokens=False)["input_ids"])
        text = "\n\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in messages) + "\n\nAssistant:"
        return list(tok(text)["input_ids"])

    def _defuse(self, text: str) -> str:
        for token in self._special:
            if token in text:
                text = text.replace(token, token[0] + "\u200b" + token[1:])
        return text

    def _pad_id(self) -> int:
        tok = self.tokenizer
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        return int(pad) if pad is not None else 0

    def _generate_batch(self, prompts: list[Prompt]) -> list[JudgeReply]:
        import torch

        encoded = [self.encode_prompt(p) for p in prompts]
        width = max(len(ids) for ids in encoded)
        pad = self._pad_id()
        device = _device_of(self.model)
        input_ids = torch.tensor([[pad] * (width - len(ids)) + ids for ids in encoded], device=device)
        mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in encoded], device=device)
        sampling = self.temperature > 0
        if sampling and self.seed is not None:
            torch.manual_seed(self.seed)
        kwargs: dict[str, Any] = {"do_sample": sampling, "max_new_tokens": self.max_tokens, "pad_token_id": pad}
        if sampling:
            kwargs["temperature"] = self.temperature
        output = self.model.generate(input_ids=input_ids, attention_mask=mask, **kwargs)
        new_tokens = output[:, width:]
        replies = []
        for row in new_tokens.tolist():
            text = self.tokenizer.decode(row, skip_special_tokens=True)
            replies.append(JudgeReply(text=text, usage_tokens=len(row)))
        return replies

    def _label_probs_batch(self, prompts: list[Prompt], labels: Sequence[str]) -> list[JudgeReply | JudgeFailure]:
        label_ids = [list(self.tokenizer(label, add_special_tokens=False)["input_ids"]) for label in labels]
        empty = [label for label, ids in zip(labels, label_ids, strict=True) if not ids]
        if empty:
            return [JudgeFailure("bad labels", f"labels {empty} tokenize to nothing") for _ in prompts]
        replies: list[JudgeReply | JudgeFailure] = []
        for prompt in prompts:
            logprobs = self._sequence_logprobs(self.encode_prompt(prompt), label_ids)
            exclusive = _exclusive_probs([math.exp(lp) for lp in logprobs], label_ids)
            mass = sum(exclusive)
            if mass <= 0.0:
                replies.append(JudgeFailure("unparseable", "the judge puts no probability on any verdict label"))
                continue
            probs = {label: p / mass for label, p in zip(labels, exclusive, strict=True)}
            replies.append(JudgeReply(label_probs=probs, label_mass=mass))
        return replies

    def _sequence_logprobs(self, prompt_ids: list[int], continuations: list[list[int]]) -> list[float]:
        """log P(continuation | prompt) for each continuation, in one right-padded forward pass."""
        import torch

        pad = self._pad_id()
        rows = [prompt_ids + c for c in continuations]
        width = max(len(r) for r in rows)
        device = _device_of(self.model)
        input_ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows], device=device)
        mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], device=device)
        logits = self.model(input_ids=input_ids, attention_mask=mask).logits.float()
        logprobs = torch.log_softmax(logits, dim=-1)
        start = len(prompt_ids)
        totals = []
        for row, cont in enumerate(continuations):
            positions = torch.arange(start - 1, start - 1 + len(cont), device=device)
            targets = torch.tensor(cont, device=device)
            totals.append(float(logprobs[row, positions, targets].sum()))
        return totals


def _exclusive_probs(probs: list[float], label_ids: list[list[int]]) -> list[float]:
    """P(reply starts with exactly this label and not a longer label that extends it).

    P("1") with a digit tokenizer includes every reply starting "10"; subtracting the exclusive
    probabilities of the labels that extend it (longest first) leaves the reply "1" alone.
    """
    order = sorted(range(len(probs)), key=lambda i: len(label_ids[i]), reverse=True)
    exclusive = list(probs)
    for i in order:
        ids = label_ids[i]
        extensions = [j for j in range(len(probs)) if len(label_ids[j]) > len(ids) and label_ids[j][: len(ids)] == ids]
        exclusive[i] = max(0.0, probs[i] - sum(exclusive[j] for j in extensions))
    return exclusive


def _device_of(model: Any) -> Any:
    return next(model.parameters()).device


_locks: dict[int, threading.Lock] = {}
_locks_guard = threading.Lock()


def _model_lock(key: int) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


@functools.lru_cache(maxsize=2)
def _load_pretrained(model: str, device: str, dtype: str) -> tuple[Any, Any]:
    """Load once per process: scoring calls come every training step."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    torch_dtype = "auto" if dtype == "auto" else getattr(torch, dtype)
    tokenizer = AutoTokenizer.from_pretrained(model)
    loaded: Any = AutoModelForCausalLM.from_pretrained(model, dtype=torch_dtype)
    return loaded.to(device).eval(), tokenizer


class VLLMJudge:
    """The vLLM offline engine in this process (`pip install 'rewardforge[vllm]'`, needs a GPU)."""

    def __init__(
        self,
        llm: Any,
        *,
        name: str,
        temperature: float = 0.0,
        max_tokens: int = 1024,
        seed: int | None = None,
        top_logprobs: int = 20,
        deadline: float | None = None,
    ) -> None:
        self.llm = llm
        self.name = name
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed
        self.top_logprobs = top_logprobs
        self.deadline = deadline
        self._lock = _model_lock(id(llm))

    @classmethod
    def load(cls, *, model: str | None, **settings: Any) -> VLLMJudge:
        if not model:
            raise JudgeFailure("no model", "the vllm backend needs `model`: a local path or hub id")
        try:
            import vllm  # noqa: F401  (optional dependency)
        except ImportError:
            raise JudgeFailure("vllm not installed", "pip install 'rewardforge[vllm]' (needs a GPU)") from None
        return cls(_load_vllm(model), name=model, **settings)

    @property
    def identity(self) -> str:
        return f"vllm:{self.name}"

    async def aclose(self) -> None:
        """The engine stays loaded (cached per process)."""

    def _sampling(self, max_tokens: int, logprobs: int | None) -> Any:
        from vllm import SamplingParams

        return SamplingParams(
            temperature=self.temperature, max_tokens=max_tokens, seed=self.seed, logprobs=logprobs
        )

    def _chat(self, prompts: list[Prompt], sampling: Any) -> list[Any]:
        with self._lock:
            return list(self.llm.chat(prompts, sampling, use_tqdm=False))

    async def _run(self, prompts: Sequence[Prompt], sampling: Any) -> list[Any] | JudgeFailure:
        try:
            return await _off_loop(functools.partial(self._chat, list(prompts), sampling), self.deadline)
        except asyncio.TimeoutError:
            return JudgeFailure("timeout", f"vllm judge took over {self.deadline:g}s")
        except Exception as exc:
            return JudgeFailure("local judge error", f"{type(exc).__name__}: {exc}")

    async def complete_many(self, prompts: Sequence[Prompt]) -> list[JudgeReply | JudgeFailure]:
        outputs = await self._run(prompts, self._sampling(self.max_tokens, None))
        if isinstance(outputs, JudgeFailure):
            return [outputs for _ in prompts]
        return [JudgeReply(text=o.outputs[0].text, usage_tokens=len(o.outputs[0].token_ids)) for o in outputs]

    async def label_probs_many(
        self, prompts: Sequence[Prompt], labels: Sequence[str]
    ) -> list[JudgeReply | JudgeFailure]:
        outputs = await self._run(prompts, self._sampling(1, self.top_logprobs))
        if isinstance(outputs, JudgeFailure):
            return [outputs for _ in prompts]
        replies: list[JudgeReply | JudgeFailure] = []
        for output in outputs:
            first = (output.outputs[0].logprobs or [{}])[0]
            pairs = [(lp.decoded_token or "", lp.logprob) for lp in first.values()]
            found = label_probs_from_first_token(pairs, labels)
            if found is None:
                replies.append(JudgeFailure("unparseable", "no verdict label among the top tokens",
                                            text=output.outputs[0].text))
            else:
                replies.append(JudgeReply(text=output.outputs[0].text, label_probs=found[0], label_mass=found[1]))
        return replies


@functools.lru_cache(maxsize=1)
def _load_vllm(model: str) -> Any:
    from vllm import LLM

    return LLM(model=model)
