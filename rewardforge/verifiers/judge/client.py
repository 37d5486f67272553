"""LLM-as-judge clients: what a judge is asked, what comes back, and how a call fails.

Three backends share one small interface (`JudgeClient`):
- `openai`: any OpenAI-compatible chat-completions server (vLLM, SGLang, Ollama, hosted APIs),
  through the async `openai` SDK, with rate limits, retries and deadlines (`openai_server.py`);
- `transformers`: a local model in this process, which can also score by verdict-token
  probability (`local.py`);
- `vllm`: the vLLM offline engine, when `vllm` is importable (`local.py`).

A failed call is a `JudgeFailure` with a short, typed `cause` ("timeout", "http 503",
"connection error", "malformed response", "unparseable", ...). The reward turns it into
`Score.error`, never into a 0.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

Message = dict[str, Any]
Prompt = list[Message]


class JudgeFailure(Exception):
    """A judge call that produced no usable answer; `cause` is the short typed reason."""

    def __init__(self, cause: str, detail: str = "", *, attempts: int = 1, text: str | None = None) -> None:
        self.cause = cause
        self.detail = detail
        self.attempts = attempts
        self.text = text
        super().__init__(f"{cause}: {detail}" if detail else cause)

    def info(self) -> dict[str, Any]:
        """What a Score's `info` should carry so a user can see why the judge failed."""
        info: dict[str, Any] = {"cause": self.cause, "attempts": self.attempts}
        if self.detail:
            info["detail"] = self.detail
        if self.text is not None:
            info["judge_text"] = self.text
        return info


@dataclass(frozen=True)
class JudgeReply:
    """What a judge returned: generated text, or verdict-label probabilities (or both)."""

    text: str = ""
    label_probs: dict[str, float] | None = None  # normalised over the requested labels
    label_mass: float | None = None  # total probability the judge put on any label, before normalising
    usage_tokens: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class JudgeClient(Protocol):
    """A judge backend. Batch-first so local backends can batch and remote ones can fan out."""

    @property
    def identity(self) -> str:
        """Who judges, for cache keys and Score info: backend, model and endpoint."""
        ...

    async def complete_many(self, prompts: Sequence[Prompt]) -> list[JudgeReply | JudgeFailure]:
        """Generate one reply per prompt; failures are returned in place, never raised."""
        ...

    async def label_probs_many(
        self, prompts: Sequence[Prompt], labels: Sequence[str]
    ) -> list[JudgeReply | JudgeFailure]:
        """For each prompt, the probability of each label as the start of the judge's reply."""
        ...

    async def aclose(self) -> None: ...


def resolve_api_key(env_var: str | None, key_file: str | None) -> str:
    """The API key from a file (first line) or an environment variable; "EMPTY" when neither is set.

    Local servers (vLLM without --api-key, Ollama) accept any key, so a missing key is not an error
    here; a server that needs one answers 401, which becomes the typed failure "http 401".
    """
    if key_file:
        path = Path(key_file).expanduser()
        try:
            key = path.read_text(encoding="utf-8").strip().splitlines()
        except OSError as exc:
            raise ValueError(f"cannot read api_key_file {str(path)!r}: {exc.strerror}") from None
        if not key or not key[0].strip():
            raise ValueError(f"api_key_file {str(path)!r} is empty")
        return key[0].strip()
    if env_var and os.environ.get(env_var):
        return os.environ[env_var]
    return "EMPTY"


def label_probs_from_first_token(
    candidates: Iterable[tuple[str, float]], labels: Sequence[str]
) -> tuple[dict[str, float], float] | None:
    """Label probabilities from (token text, logprob) pairs for the first generated token.

    A token counts for a label when it equals the label after stripping whitespace, ignoring case
    ("Yes", " yes", "YES" all count for "Yes"). Returns (probabilities normalised over the labels,
    total label mass), or None when no label appears among the candidates.
    """
    wanted = {label.strip().lower(): label for label in labels}
    mass = dict.fromkeys(labels, 0.0)
    seen: set[str] = set()
    for token, logprob in candidates:
        if token in seen:  # the sampled token is often repeated among the top logprobs
            continue
        seen.add(token)
        label = wanted.get(token.strip().lower())
        if label is not None and math.isfinite(logprob):
            mass[label] += math.exp(logprob)
    total = sum(mass.values())
    if total <= 0.0:
        return None
    return {label: p / total for label, p in mass.items()}, total


def make_judge_client(backend: str, **settings: Any) -> JudgeClient:
    """Build a client for `backend` ("openai", "transformers" or "vllm") from plain settings."""
    if backend == "openai":
        from rewardforge.verifiers.judge.openai_server import OpenAIJudge

        return OpenAIJudge(**settings)
    if backend == "transformers":
        from rewardforge.verifiers.judge.local import TransformersJudge

        return TransformersJudge.load(**settings)
    if backend == "vllm":
        from rewardforge.verifiers.judge.local import VLLMJudge

        return VLLMJudge.load(**settings)
    raise ValueError(f"unknown judge backend {backend!r}; use 'openai', 'transformers' or 'vllm'")
