"""The OpenAI-compatible chat-completions judge (vLLM, SGLang, Ollama, hosted APIs).

The SDK's own retries are switched off: this client retries itself, so that every attempt goes
through the endpoint's rate limits and the whole request stays inside one deadline, and so the
final failure carries a typed cause ("timeout", "http 503", ...) instead of an SDK exception.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import openai

from rewardforge.verifiers.judge.client import (
    JudgeFailure,
    JudgeReply,
    Prompt,
    label_probs_from_first_token,
    resolve_api_key,
)
from rewardforge.verifiers.judge.limits import RetryPolicy, retryable_status, shared_limits

_CHARS_PER_TOKEN = 4  # rough prompt-size estimate for the tokens/min budget, settled after the reply
_discovered: dict[str, str] = {}  # base_url -> the model its /models listed first, asked once per process


class OpenAIJudge:
    """An async chat-completions client with limits, retries and typed failures."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        api_key_file: str | None = None,
        temperature: float = 0.0,
        max_tokens: int = 1024,
        seed: int | None = None,
        top_logprobs: int = 20,
        extra_body: dict[str, Any] | None = None,
        max_concurrency: int = 32,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed
        self.top_logprobs = top_logprobs
        self.extra_body = extra_body or {}
        self.retry = retry or RetryPolicy()
        self.limits = shared_limits(self.base_url, max_concurrency, requests_per_minute, tokens_per_minute)
        self._api_key = resolve_api_key(api_key_env, api_key_file)
        self._sdk: openai.AsyncOpenAI | None = None

    @property
    def _client(self) -> openai.AsyncOpenAI:
        """Built on first use: building one costs a TLS context, wasted when every verdict is cached."""
        if self._sdk is None:
            self._sdk = openai.AsyncOpenAI(
                base_url=self.base_url, api_key=self._api_key, max_retries=0, timeout=self.retry.attempt_timeout
            )
        return self._sdk

    @property
    def identity(self) -> str:
        return f"openai:{self.model}@{self.base_url}"

    async def aclose(self) -> None:
        if self._sdk is not None:
            await self._sdk.close()
            self._sdk = None

    async def resolve_model(self) -> None:
        """Ask the server which model it serves when none was given (vLLM and SGLang serve one)."""
        if self.model:
            return
        if self.base_url in _discovered:
            self.model = _discovered[self.base_url]
            return
        page = await self._with_retries(lambda timeout: self._client.models.list(timeout=timeout))
        ids = [m.id for m in getattr(page, "data", None) or []]
        if not ids:
            raise JudgeFailure("no model", f"{self.base_url}/models lists no model; set the `model` param")
        self.model = _discovered[self.base_url] = ids[0]

    async def complete_many(self, prompts: Sequence[Prompt]) -> list[JudgeReply | JudgeFailure]:
        return list(await asyncio.gather(*(self._complete(p) for p in prompts)))

    async def label_probs_many(
        self, prompts: Sequence[Prompt], labels: Sequence[str]
    ) -> list[JudgeReply | JudgeFailure]:
        return list(await asyncio.gather(*(self._label_probs(p, labels) for p in prompts)))

    async def _complete(self, prompt: Prompt) -> JudgeReply | JudgeFailure:
        try:
            response = await self._chat(prompt, max_tokens=self.max_tokens, logprobs=False)
            text = _message_text(response)
        except JudgeFailure as failure:
            return failure
        return JudgeReply(text=text, usage_tokens=_usage(response), extra={"finish_reason": _finish(response)})

    async def _label_probs(self, prompt: Prompt, labels: Sequence[str]) -> JudgeReply | JudgeFailure:
        try:
            response = await self._chat(prompt, max_tokens=1, logprobs=True)
            text = _message_text(response)
            candidates = _first_token_candidates(response)
        except JudgeFailure as failure:
            return failure
        found = label_probs_from_first_token(candidates, labels)
        if found is None:
            shown = ", ".join(repr(t) for t, _ in candidates[:8]) or "none"
            return JudgeFailure("unparseable", f"no verdict label among the top tokens ({shown})", text=text)
        probs, mass = found
        return JudgeReply(text=text, label_probs=probs, label_mass=mass, usage_tokens=_usage(response))

    async def _chat(self, prompt: Prompt, *, max_tokens: int, logprobs: bool) -> Any:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": prompt,
            "temperature": self.temperature,
            "max_tokens": max_tokens,
        }
        if self.seed is not None:
            kwargs["seed"] = self.seed
        if logprobs:
            kwargs["logprobs"] = True
            kwargs["top_logprobs"] = self.top_logprobs
        if self.extra_body:
            kwargs["extra_body"] = self.extra_body
        estimate = sum(len(str(m.get("content", ""))) for m in prompt) // _CHARS_PER_TOKEN + max_tokens
        attempts = 0

        async def attempt(timeout: float) -> Any:
            nonlocal attempts
            attempts += 1
            if attempts > 1:  # a retry pays for its rate allowance inside the deadline
                await self.limits.admit(estimate)
            response = await self._client.chat.completions.create(**kwargs, timeout=timeout)
            _message_text(response)  # a body without a message is retried like any malformed reply
            return response

        async with self.limits.hold():
            # Waiting in the queue is not the judge's fault: the deadline starts once the request may go.
            await self.limits.admit(estimate)
            response = await self._with_retries(attempt)
        self.limits.settle_tokens(estimate, _usage(response))
        return response

    async def _with_retries(self, attempt: Any) -> Any:
        """Run `attempt(timeout)` until it succeeds, a failure is final, or the deadline passes."""
        policy = self.retry
        deadline = time.monotonic() + policy.deadline
        tries = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise JudgeFailure("timeout", f"deadline of {policy.deadline:g}s passed", attempts=tries)
            tries += 1
            try:
                return await asyncio.wait_for(attempt(min(policy.attempt_timeout, remaining)), remaining)
            except asyncio.TimeoutError:
                cause, detail, retry_after, again = "timeout", f"no answer within {remaining:.3g}s", None, True
            except openai.APIStatusError as exc:
                cause, detail = f"http {exc.status_code}", _short(exc.message)
                retry_after, again = _retry_after(exc), retryable_status(exc.status_code)
            except openai.APITimeoutError:
                cause, detail, retry_after, again = "timeout", "request timed out", None, True
            except openai.APIConnectionError as exc:
                cause, detail, retry_after, again = "connection error", _short(str(exc.__cause__ or exc)), None, True
            except (openai.APIResponseValidationError, ValueError) as exc:  # non-JSON or schema-breaking body
                cause, detail, retry_after, again = "malformed response", _short(str(exc)), None, True
            if not again or tries > policy.max_retries:
                raise JudgeFailure(cause, detail, attempts=tries)
            delay = policy.delay(tries - 1, retry_after)
            if delay >= deadline - time.monotonic():
                raise JudgeFailure(cause, f"{detail}; no time left to retry before the deadline", attempts=tries)
            await asyncio.sleep(delay)


class _Malformed(ValueError):
    """A 200 reply that is not a chat completion (a proxy's error page, a truncated body)."""


def _message_text(response: Any) -> str:
    """The reply text; a body without choices/message is a malformed response, not an empty verdict."""
    try:
        message = response.choices[0].message
    except (AttributeError, IndexError, TypeError):
        raise _Malformed("the reply has no choices[0].message") from None
    content = getattr(message, "content", None)
    if content is None:
        # Reasoning servers may put everything in `reasoning_content` when max_tokens runs out.
        return ""
    return str(content)


def _first_token_candidates(response: Any) -> list[tuple[str, float]]:
    try:
        first = response.choices[0].logprobs.content[0]
    except (AttributeError, IndexError, TypeError):
        raise JudgeFailure(
            "no logprobs", "the server returned no logprobs; use scoring=text or a server that supports them"
        ) from None
    pairs = [(first.token, first.logprob)]
    pairs += [(alt.token, alt.logprob) for alt in (first.top_logprobs or [])]
    return pairs


def _usage(response: Any) -> int | None:
    usage = getattr(response, "usage", None)
    total = getattr(usage, "total_tokens", None)
    return int(total) if isinstance(total, int) else None


def _finish(response: Any) -> str | None:
    try:
        return str(response.choices[0].finish_reason)
    except (AttributeError, IndexError, TypeError):
        return None


def _retry_after(exc: openai.APIStatusError) -> float | None:
    value = exc.response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
