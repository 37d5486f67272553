"""The OpenAI-compatible judge client against a real loopback server: retries, limits, typed failures."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from judge_server import (
    JudgeServer,
    Logprobs,
    Raw,
    Slow,
    Status,
    Verdict,
    closed_port_url,
    running_judge_server,
)

from rewardforge.verifiers.judge.client import JudgeFailure, JudgeReply, resolve_api_key
from rewardforge.verifiers.judge.limits import RetryPolicy
from rewardforge.verifiers.judge.openai_server import OpenAIJudge

PROMPT = [{"role": "system", "content": "judge"}, {"role": "user", "content": "Is 2+2=4? Yes or No."}]
FAST = RetryPolicy(max_retries=2, base_delay=0.01, max_delay=0.05, attempt_timeout=2.0, deadline=10.0)


@pytest.fixture
def server() -> Iterator[JudgeServer]:
    with running_judge_server() as srv:
        yield srv


def _judge(url: str, **kwargs: object) -> OpenAIJudge:
    settings: dict[str, object] = {"base_url": url, "model": "judge-model", "retry": FAST}
    settings.update(kwargs)
    return OpenAIJudge(**settings)  # type: ignore[arg-type]


def _complete(judge: OpenAIJudge, n: int = 1) -> list[JudgeReply | JudgeFailure]:
    async def main() -> list[JudgeReply | JudgeFailure]:
        try:
            return await judge.complete_many([PROMPT] * n)
        finally:
            await judge.aclose()

    return asyncio.run(main())


def test_sends_the_settings_and_returns_the_text(server: JudgeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RF_TEST_JUDGE_KEY", "sk-from-env")
    server.script(Verdict("Yes"))
    reply = _complete(_judge(server.base_url, temperature=0.3, max_tokens=17, seed=5,
                             api_key_env="RF_TEST_JUDGE_KEY", extra_body={"top_k": 3}))[0]
    assert isinstance(reply, JudgeReply) and reply.text == "Yes"
    assert reply.usage_tokens == 11
    body = server.chat_requests[0].body
    assert body["model"] == "judge-model" and body["messages"] == PROMPT
    assert (body["temperature"], body["max_tokens"], body["seed"], body["top_k"]) == (0.3, 17, 5, 3)
    assert server.chat_requests[0].headers["authorization"] == "Bearer sk-from-env"


def test_api_key_from_a_file_wins(tmp_path: Path, server: JudgeServer) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("sk-from-file\n")
    _complete(_judge(server.base_url, api_key_file=str(key_file)))
    assert server.chat_requests[0].headers["authorization"] == "Bearer sk-from-file"
    assert resolve_api_key("RF_UNSET_VARIABLE_XYZ", None) == "EMPTY"
    with pytest.raises(ValueError, match="cannot read"):
        resolve_api_key(None, str(tmp_path / "missing"))


def test_model_is_discovered_from_the_server_once(server: JudgeServer) -> None:
    async def discover() -> OpenAIJudge:
        judge = _judge(server.base_url, model=None)
        await judge.resolve_model()
        await judge.aclose()
        return judge

    first, second = asyncio.run(discover()), asyncio.run(discover())
    assert first.model == second.model == "judge-model"
    assert first.identity == f"openai:judge-model@{server.base_url}"
    assert [s.path for s in server.seen].count("/v1/models") == 1, "asked once per process"


def test_retries_5xx_then_succeeds(server: JudgeServer) -> None:
    server.script(Status(503), Status(500), Verdict("No"))
    reply = _complete(_judge(server.base_url))[0]
    assert isinstance(reply, JudgeReply) and reply.text == "No"
    assert server.hits == 3


def test_429_waits_for_retry_after(server: JudgeServer) -> None:
    server.script(Status(429, retry_after=0.4), Verdict("Yes"))
    reply = _complete(_judge(server.base_url))[0]
    assert isinstance(reply, JudgeReply)
    first, second = server.chat_requests
    assert second.arrived - first.arrived >= 0.38


def test_backoff_grows_between_attempts(server: JudgeServer) -> None:
    server.default = lambda request: Status(503)
    policy = RetryPolicy(max_retries=3, base_delay=0.1, max_delay=10, attempt_timeout=2, deadline=20)
    start = time.monotonic()
    reply = _complete(_judge(server.base_url, retry=policy))[0]
    assert isinstance(reply, JudgeFailure) and reply.cause == "http 503" and reply.attempts == 4
    assert server.hits == 4
    assert time.monotonic() - start < 0.1 + 0.2 + 0.4 + 1.5  # full jitter never exceeds the caps


@pytest.mark.parametrize(
    ("reply", "cause", "hits"),
    [
        (Status(503), "http 503", 3),
        (Status(500), "http 500", 3),
        (Status(429), "http 429", 3),
        (Status(400), "http 400", 1),  # a bad request is not retried
        (Status(401), "http 401", 1),
        (Raw(b'{"choices": [{"message": '), "malformed response", 3),
        (Raw(b"<html>bad gateway</html>", "text/html"), "malformed response", 3),
        (Raw(b'{"object": "chat.completion", "choices": []}'), "malformed response", 3),
    ],
)
def test_typed_failure_after_retries(server: JudgeServer, reply: object, cause: str, hits: int) -> None:
    server.default = lambda request: reply  # type: ignore[assignment,return-value]
    result = _complete(_judge(server.base_url))[0]
    assert isinstance(result, JudgeFailure)
    assert result.cause == cause
    assert server.hits == hits == result.attempts


def test_slow_server_is_a_timeout_within_the_attempt_limit(server: JudgeServer) -> None:
    server.default = lambda request: Slow(3.0, Verdict("Yes"))
    policy = RetryPolicy(max_retries=1, base_delay=0.01, attempt_timeout=0.3, deadline=10)
    start = time.monotonic()
    result = _complete(_judge(server.base_url, retry=policy))[0]
    assert isinstance(result, JudgeFailure) and result.cause == "timeout"
    assert server.hits == 2
    assert time.monotonic() - start < 2.0


def test_deadline_bounds_the_whole_request(server: JudgeServer) -> None:
    server.default = lambda request: Slow(0.2, Status(503))
    policy = RetryPolicy(max_retries=100, base_delay=0.05, attempt_timeout=5, deadline=0.8)
    start = time.monotonic()
    result = _complete(_judge(server.base_url, retry=policy))[0]
    assert isinstance(result, JudgeFailure)
    assert result.cause in ("http 503", "timeout")
    assert time.monotonic() - start < 1.5
    assert 2 <= server.hits < 10


def test_closed_port_is_a_connection_error() -> None:
    result = _complete(_judge(closed_port_url()))[0]
    assert isinstance(result, JudgeFailure) and result.cause == "connection error"
    assert result.attempts == 3


def test_concurrency_limit_holds_at_the_server(server: JudgeServer) -> None:
    server.default = lambda request: Slow(0.15, Verdict("Yes"))
    replies = _complete(_judge(server.base_url, max_concurrency=2), n=6)
    assert all(isinstance(r, JudgeReply) for r in replies)
    assert server.max_in_flight() == 2
    arrivals = sorted(s.arrived for s in server.chat_requests)
    assert arrivals[-1] - arrivals[0] >= 2 * 0.15 * 0.9


def test_requests_per_minute_spaces_arrivals(server: JudgeServer) -> None:
    start = time.monotonic()
    replies = _complete(_judge(server.base_url, requests_per_minute=600), n=5)  # one per 100 ms
    assert all(isinstance(r, JudgeReply) for r in replies)
    arrivals = sorted(s.arrived for s in server.chat_requests)
    # The k-th request reaches the server no sooner than k intervals after the call began.
    assert all(t - start >= k * 0.1 * 0.95 for k, t in enumerate(arrivals))


def test_label_probs_from_logprobs(server: JudgeServer) -> None:
    server.script(Logprobs({"Yes": math.log(0.6), " yes": math.log(0.1), "No": math.log(0.1), "The": -1.0}))
    judge = _judge(server.base_url)

    async def main() -> list[JudgeReply | JudgeFailure]:
        try:
            return await judge.label_probs_many([PROMPT], ["Yes", "No"])
        finally:
            await judge.aclose()

    reply = asyncio.run(main())[0]
    assert isinstance(reply, JudgeReply) and reply.label_probs is not None
    assert reply.label_probs["Yes"] == pytest.approx(0.7 / 0.8)
    assert reply.label_mass == pytest.approx(0.8)
    body = server.chat_requests[0].body
    assert body["logprobs"] is True and body["top_logprobs"] == 20 and body["max_tokens"] == 1


def test_missing_logprobs_or_labels_are_typed_failures(server: JudgeServer) -> None:
    server.script(Verdict("Yes"), Logprobs({"Maybe": -0.1, "The": -2.0}))
    judge = _judge(server.base_url)

    async def main() -> list[JudgeReply | JudgeFailure]:
        try:
            first = await judge.label_probs_many([PROMPT], ["Yes", "No"])
            second = await judge.label_probs_many([PROMPT], ["Yes", "No"])
            return first + second
        finally:
            await judge.aclose()

    no_logprobs, no_label = asyncio.run(main())
    assert isinstance(no_logprobs, JudgeFailure) and no_logprobs.cause == "no logprobs"
    assert isinstance(no_label, JudgeFailure) and no_label.cause == "unparseable"
    assert no_label.text == "Maybe"


def test_waiting_in_the_queue_does_not_count_against_the_deadline(server: JudgeServer) -> None:
    server.default = lambda request: Slow(0.25, Verdict("Yes"))
    policy = RetryPolicy(max_retries=0, attempt_timeout=0.6, deadline=0.6)
    replies = _complete(_judge(server.base_url, max_concurrency=1, retry=policy), n=4)  # 1 s of queue
    assert all(isinstance(r, JudgeReply) for r in replies), replies
    assert server.max_in_flight() == 1
