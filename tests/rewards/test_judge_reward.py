"""`llm_judge` end to end against a real loopback server: rubrics, cache, limits, and no silent zeros."""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from judge_server import (
    JudgeServer,
    Logprobs,
    Raw,
    Seen,
    Slow,
    Status,
    Verdict,
    closed_port_url,
    running_judge_server,
)

from rewardforge.core.cache import reset_shared_caches
from rewardforge.core.registry import default_registry
from rewardforge.core.types import RewardContext, RewardError, Sample, Score
from rewardforge.rewards.judge import LLMJudge, llm_judge
from rewardforge.verifiers.judge.prompts import INJECTION_PROBES

FAST = {"max_retries": 2, "backoff_base": 0.01, "backoff_max": 0.05, "request_timeout": 2.0}


@pytest.fixture
def server() -> Iterator[JudgeServer]:
    with running_judge_server() as srv:
        yield srv


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    """Each test starts with empty process-wide judge caches."""
    reset_shared_caches()
    yield
    reset_shared_caches()


def make(server: JudgeServer | str, **params: Any) -> LLMJudge:
    url = server if isinstance(server, str) else server.base_url
    return LLMJudge(**{"base_url": url, "model": "judge-model", **FAST, **params})


def response_block(request: Seen) -> str:
    """The quoted completion inside the judge prompt."""
    blocks = re.findall(r"<response-[0-9a-f]{12}>\n(.*?)\n</response-[0-9a-f]{12}>", request.user_text, re.S)
    return blocks[-1] if blocks else ""


def says_four(request: Seen) -> Verdict:
    return Verdict("Yes" if response_block(request).strip() == "4" else "No")


def samples(*completions: str, prompt: str = "What is 2+2?", **extra: Any) -> list[Sample]:
    return [Sample(prompt=prompt, completion=c, **extra) for c in completions]


# -- rubrics ---------------------------------------------------------------------------------------


def test_binary_rubric_is_the_default(server: JudgeServer) -> None:
    server.default = says_four
    scores = make(server).score(samples("4", "5"))
    assert [s.value for s in scores] == [1.0, 0.0]
    assert all(s.ok for s in scores)
    assert scores[0].info["judge_text"] == "Yes"
    assert scores[0].info["judge"] == f"openai:judge-model@{server.base_url}"
    assert "Answer with exactly one word: Yes or No." in server.chat_requests[0].user_text


def test_scale_rubric_maps_1_to_10_onto_0_to_1(server: JudgeServer) -> None:
    server.default = lambda r: Verdict(f"Fine work.\n<score>{'10' if response_block(r) == '4' else '3'}</score>")
    scores = make(server, rubric="scale").score(samples("4", "5"))
    assert [s.value for s in scores] == [1.0, pytest.approx(2 / 9)]
    assert "<score>N</score>" in server.chat_requests[0].user_text


def test_reference_rubric_quotes_the_reference_and_skips_without_one(server: JudgeServer) -> None:
    def equivalent(request: Seen) -> Verdict:
        reference = re.search(r"<reference-[0-9a-f]{12}>\n(.*?)\n</reference", request.user_text, re.S)
        assert reference is not None
        return Verdict("Yes" if response_block(request).endswith(reference.group(1)) else "No")

    server.default = equivalent
    batch = [Sample(prompt="2+2?", completion="so it is 4", reference="4"),
             Sample(prompt="2+2?", completion="so it is 5", reference="4"),
             Sample(prompt="2+2?", completion="4", reference=None),
             Sample(prompt="list", completion="[1, 2]", reference=[1, 2])]
    scores = make(server, rubric="reference").score(batch)
    assert [s.status for s in scores] == ["ok", "ok", "skipped", "ok"]
    assert [scores[0].value, scores[1].value, scores[3].value] == [1.0, 0.0, 1.0]
    assert scores[2].value is None and "reference" in (scores[2].reason or "")
    assert server.hits == 3


def test_ranking_rubric_judges_a_group_in_one_call(server: JudgeServer) -> None:
    def rank(request: Seen) -> Verdict:
        blocks = re.findall(r"Response (\d+):\n<response-[0-9a-f]{12}>\n(.*?)\n</response", request.user_text, re.S)
        order = sorted(blocks, key=lambda b: abs(4 - int(b[1])))  # closest to 4 is best
        return Verdict(json.dumps({"ranking": [int(n) for n, _ in order]}))

    server.default = rank
    group = samples("5", "4", "9", "4", prompt="What is 2+2?")  # "4" twice: judged once
    other = samples("1", "3", prompt="What is 1+2?")
    scores = make(server, rubric="ranking").score(group + other)
    assert [s.value for s in scores] == [0.5, 1.0, 0.0, 1.0, 0.0, 1.0]
    assert [s.info["rank"] for s in scores[:4]] == [2, 1, 3, 1]
    assert server.hits == 2, "one call per prompt group"
    assert server.chat_requests[0].user_text.count("<response-") == 3 or \
        server.chat_requests[1].user_text.count("<response-") == 3


def test_ranking_groups_by_group_id_before_prompt(server: JudgeServer) -> None:
    server.default = lambda r: Verdict('{"ranking": [2, 1]}')
    batch = [Sample(prompt="same", completion="a", group_id=1), Sample(prompt="same", completion="b", group_id=1),
             Sample(prompt="same", completion="c", group_id=2), Sample(prompt="same", completion="d", group_id=2)]
    scores = make(server, rubric="ranking").score(batch)
    assert [s.value for s in scores] == [0.0, 1.0, 0.0, 1.0]
    assert server.hits == 2


def test_ranking_needs_two_different_completions(server: JudgeServer) -> None:
    scores = make(server, rubric="ranking").score(samples("4", "4") + samples("7", prompt="other"))
    assert [s.status for s in scores] == ["skipped"] * 3
    assert all(s.value is None for s in scores)
    assert server.hits == 0


def test_an_invalid_ranking_fails_the_whole_group(server: JudgeServer) -> None:
    server.default = lambda r: Verdict('{"ranking": [1, 1, 2]}')
    scores = make(server, rubric="ranking").score(samples("a", "b", "c"))
    assert [s.status for s in scores] == ["error"] * 3
    assert all(s.info["cause"] == "unparseable" and s.value is None for s in scores)
    assert scores[0].info["judge_text"] == '{"ranking": [1, 1, 2]}'


def test_custom_template_with_declared_metadata_variable(server: JudgeServer) -> None:
    server.default = lambda r: Verdict('{"score": 4, "why": "ok"}' if "cite a source" in r.user_text else "??")
    template = ("Criteria: {{ criteria }}\nResponse:\n{{ completion }}\n"
                'Reply with JSON {"score": N} where N is 0 to 4.')
    judge = make(server, template=template, variables="criteria", verdict_format="json", scale_min=0, scale_max=4)
    assert judge.rubric.name == "custom"
    batch = [Sample(completion="Paris [1]", metadata={"criteria": "must cite a source"}),
             Sample(completion="Paris", metadata={})]
    scores = judge.score(batch)
    assert scores[0].value == 1.0
    assert scores[1].status == "skipped" and "criteria" in (scores[1].reason or "")
    assert server.hits == 1
    request = server.chat_requests[0]
    assert request.body["messages"][0]["content"].startswith("You are an impartial judge")
    assert request.user_text.startswith("Criteria: must cite a source\nResponse:\n<response-")


def test_custom_template_from_a_file_with_a_tag_verdict(tmp_path: Path, server: JudgeServer) -> None:
    path = tmp_path / "judge.j2"
    path.write_text("Is this polite?\n{{ completion }}\nAnswer <verdict>Yes</verdict> or <verdict>No</verdict>.")
    server.default = lambda r: Verdict("<verdict>No</verdict>" if "idiot" in r.user_text else "<verdict>Yes</verdict>")
    judge = make(server, template_file=str(path), verdict_format="tag", verdict_tag="verdict",
                 system_prompt="You grade politeness.")
    scores = judge.score([Sample(completion="Thank you!"), Sample(completion="you idiot")])
    assert [s.value for s in scores] == [1.0, 0.0]
    assert server.chat_requests[0].body["messages"][0]["content"] == "You grade politeness."


def test_custom_template_over_candidates_is_a_group_ranking(server: JudgeServer) -> None:
    server.default = lambda r: Verdict('{"order": [2, 1]}')
    template = "{% for c in candidates %}#{{ loop.index }} {{ c }}\n{% endfor %}JSON {\"order\": [...]}, best first."
    scores = make(server, template=template, verdict_key="order").score(samples("x", "y"))
    assert [s.value for s in scores] == [0.0, 1.0]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"rubric": "custom"}, "needs `template`"),
        ({"template": "{{ completion }} {{ oops }}", "variables": "criteria"}, "not declared"),
        ({"template": "{{ completion ", "variables": ""}, "syntax error"),
        ({"template": "{{ completion }}", "rubric": "binary"}, "use rubric=custom"),
        ({"template_file": "/nonexistent/judge.j2"}, "cannot read template_file"),
        ({"rubric": "ranking", "scoring": "logprobs"}, "scoring=logprobs"),
        ({"scale_min": 5, "scale_max": 5}, "scale_max"),
        ({"temperature": -1}, "temperature"),
        ({"backend": "carrier-pigeon"}, "backend"),
        ({"extra_body": "[1, 2]"}, "extra_body"),
        ({"api_key_file": "/nonexistent/key"}, "cannot read api_key_file"),
        ({"unknown_param": 1}, "unknown_param"),
    ],
)
def test_bad_configuration_is_a_clear_error(params: dict[str, Any], message: str) -> None:
    with pytest.raises(RewardError, match=re.escape(message)):
        LLMJudge(**params)


def test_params_given_as_cli_strings(server: JudgeServer) -> None:
    judge = llm_judge.with_params(base_url=server.base_url, model="judge-model", temperature="0.5", seed="7",
                                  max_retries="0", requests_per_minute="6000", cache="false", max_tokens="64",
                                  extra_body='{"chat_template_kwargs": {"enable_thinking": false}}')
    assert judge.config.temperature == 0.5 and judge.config.cache is False and judge.config.seed == 7
    assert judge.score(samples("4"))[0].ok
    body = server.chat_requests[0].body
    assert (body["temperature"], body["seed"], body["max_tokens"]) == (0.5, 7, 64)
    assert body["chat_template_kwargs"] == {"enable_thinking": False}


def test_model_is_asked_from_the_server_when_not_given(server: JudgeServer) -> None:
    scores = LLMJudge(base_url=server.base_url, **FAST).score(samples("4"))
    assert scores[0].ok and server.chat_requests[0].body["model"] == "judge-model"


# -- scoring by verdict-token probability ----------------------------------------------------------


def test_logprob_scoring_binary(server: JudgeServer) -> None:
    server.default = lambda r: Logprobs({"Yes": math.log(0.72), "No": math.log(0.18), "Well": math.log(0.1)})
    score = make(server, scoring="logprobs").score(samples("4"))[0]
    assert score.value == pytest.approx(0.8)
    assert score.info["label_mass"] == pytest.approx(0.9)
    assert server.chat_requests[0].body["logprobs"] is True


def test_logprob_scoring_scale_is_an_expectation(server: JudgeServer) -> None:
    server.default = lambda r: Logprobs({"7": math.log(0.5), "9": math.log(0.25), "10": math.log(0.25)})
    score = make(server, rubric="scale", scoring="logprobs").score(samples("4"))[0]
    assert score.value == pytest.approx(0.5 * 6 / 9 + 0.25 * 8 / 9 + 0.25 * 1.0)
    assert "number only" in server.chat_requests[0].user_text


def test_logprob_scoring_without_a_verdict_token_is_an_error(server: JudgeServer) -> None:
    server.default = lambda r: Logprobs({"I": -0.1, "The": -2.5})
    score = make(server, scoring="logprobs").score(samples("4"))[0]
    assert score.status == "error" and score.value is None and score.info["cause"] == "unparseable"


# -- the cache -------------------------------------------------------------------------------------


def test_identical_completions_cost_one_call_and_verdicts_are_cached(server: JudgeServer) -> None:
    server.default = says_four
    group = samples("4", "4", "5", "4", "5", "4", "4", "12")  # a GRPO group with repeats
    judge = make(server)
    first = judge.score(group)
    assert server.hits == 3
    assert [s.value for s in first] == [1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0]
    assert not any(s.info["cached"] for s in first)
    again = judge.with_params().score(group)
    assert server.hits == 3, "a second call is served from the cache"
    assert [s.value for s in again] == [s.value for s in first]
    assert all(s.info["cached"] for s in again)


def test_cache_key_covers_model_template_and_inputs(server: JudgeServer) -> None:
    server.default = says_four
    make(server).score(samples("4"))
    make(server).score(samples("4", prompt="What is 3+1?"))  # other input
    make(server, model="other-judge").score(samples("4"))  # other model
    make(server, rubric="scale").score(samples("4"))  # other template (unparseable here, still a call)
    make(server, temperature=0.7).score(samples("4"))  # other sampling
    make(server, cache=False).score(samples("4"))  # cache off
    assert server.hits == 6
    make(server).score(samples("4"))
    assert server.hits == 6


def test_errors_are_not_cached(server: JudgeServer) -> None:
    server.script(Status(400))
    assert make(server).score(samples("4"))[0].status == "error"
    assert make(server).score(samples("4"))[0].value == 1.0
    assert server.hits == 2


def test_sqlite_cache_survives_a_new_process_cache(tmp_path: Path, server: JudgeServer) -> None:
    server.default = says_four
    path = str(tmp_path / "judge.sqlite")
    make(server, cache_path=path).score(samples("4", "5"))
    reset_shared_caches()  # as if a new process
    scores = make(server, cache_path=path).score(samples("4", "5"))
    assert server.hits == 2
    assert [s.value for s in scores] == [1.0, 0.0] and all(s.info["cached"] for s in scores)


# -- failures are errors, never zeros --------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "cause"),
    [
        (Status(503), "http 503"),
        (Status(500), "http 500"),
        (Status(429), "http 429"),
        (Status(401), "http 401"),
        (Raw(b"{not json"), "malformed response"),
        (Raw(b"<html>502 Bad Gateway</html>", "text/html"), "malformed response"),
        (Verdict("I cannot judge this."), "unparseable"),
        (Verdict(""), "unparseable"),
        (Verdict("<score>11</score>"), "unparseable"),
        (Slow(3.0, Verdict("Yes")), "timeout"),
    ],
)
@pytest.mark.parametrize("rubric", ["binary", "scale", "reference", "ranking"])
def test_no_failure_ever_becomes_a_zero(server: JudgeServer, reply: Any, cause: str, rubric: str) -> None:
    server.default = lambda r: reply
    judge = make(server, rubric=rubric, request_timeout=0.3, max_retries=1)
    batch = [Sample(prompt="2+2?", completion=c, reference="4") for c in ("4", "5")]
    scores = judge.score(batch)
    for score in scores:
        assert score.status == "error", score
        assert score.value is None
        assert score.info["cause"] == cause
        assert score.reason is not None and score.reason.startswith(cause)
    if cause == "unparseable":
        assert scores[0].info["judge_text"] == reply.text
        assert scores[0].info["finish_reason"] == "stop", "tells a truncated verdict from a wrong one"


def test_no_server_is_an_error_for_every_sample() -> None:
    scores = make(closed_port_url(), max_retries=0).score(samples("4", "5", "4"))
    assert [s.status for s in scores] == ["error"] * 3
    assert all(s.info["cause"] == "connection error" and s.value is None for s in scores)


def test_failed_model_discovery_is_an_error(server: JudgeServer) -> None:
    url = closed_port_url()
    scores = LLMJudge(base_url=url, max_retries=0).score(samples("4"))
    assert scores[0].status == "error" and scores[0].info["cause"] == "connection error"


def test_engine_timeout_caps_the_judge_deadline(server: JudgeServer) -> None:
    server.default = lambda r: Slow(5.0, Verdict("Yes"))
    start = time.monotonic()
    scores = make(server, max_retries=5, request_timeout=60).score(samples("4"), RewardContext(timeout=0.5))
    assert time.monotonic() - start < 2.0
    assert scores[0].status == "error" and scores[0].info["cause"] == "timeout"


def test_partial_failures_stay_per_sample(server: JudgeServer) -> None:
    server.default = lambda r: Status(503) if response_block(r) == "boom" else says_four(r)
    scores = make(server).score(samples("4", "boom", "5"))
    assert [s.status for s in scores] == ["ok", "error", "ok"]
    assert [scores[0].value, scores[2].value] == [1.0, 0.0]


# -- limits through the reward ---------------------------------------------------------------------


def test_rate_limit_applies_to_reward_requests(server: JudgeServer) -> None:
    start = time.monotonic()
    scores = make(server, requests_per_minute=600).score(samples("1", "2", "3", "4", "5"))
    assert all(s.ok for s in scores)
    arrivals = sorted(r.arrived for r in server.chat_requests)
    assert all(t - start >= k * 0.1 * 0.95 for k, t in enumerate(arrivals))


def test_concurrency_limit_applies_to_reward_requests(server: JudgeServer) -> None:
    server.default = lambda r: Slow(0.1, says_four(r))
    scores = make(server, max_concurrency=3).score(samples(*[str(i) for i in range(9)]))
    assert all(s.ok for s in scores)
    assert server.max_in_flight() == 3


# -- injection resistance --------------------------------------------------------------------------


def test_injection_probes_reach_the_judge_only_inside_the_quoted_block(server: JudgeServer) -> None:
    server.default = lambda r: Verdict("No")
    make(server).score(samples("4", *INJECTION_PROBES))
    requests = {response_block(r): r for r in server.chat_requests}
    honest = requests.pop("4")
    assert len(requests) == len(INJECTION_PROBES)
    outside = re.sub(r"<response-[0-9a-f]{12}>\n.*\n</response-[0-9a-f]{12}>", "<BLOCK>", honest.user_text, flags=re.S)
    for request in requests.values():
        assert request.body["messages"][0] == honest.body["messages"][0]
        assert len(request.body["messages"]) == 2
        text = re.sub(r"<response-[0-9a-f]{12}>\n.*\n</response-[0-9a-f]{12}>", "<BLOCK>", request.user_text,
                      flags=re.S)
        assert text == outside


# -- APIs: async, registry, golden cases -----------------------------------------------------------


def test_ascore_runs_inside_an_event_loop(server: JudgeServer) -> None:
    server.default = says_four

    async def main() -> tuple[list[Score], list[Score]]:
        judge = make(server)
        return await judge.ascore(samples("4")), judge.score(samples("5"))  # score() from inside a loop

    first, second = asyncio.run(main())
    assert first[0].value == 1.0 and second[0].value == 0.0


def test_registry_and_engine_score_it_by_name(server: JudgeServer) -> None:
    from rewardforge.core.engine import score

    server.default = says_four
    params = {"base_url": server.base_url, "model": "judge-model", "rubric": "binary"}
    scores = score("llm_judge", [{"prompt": "2+2?", "completion": "4"}, {"prompt": "2+2?", "completion": "3"}],
                   params=params, timeout=10)
    assert [s.value for s in scores] == [1.0, 0.0]
    assert default_registry().entry("llm_judge").golden


def test_golden_cases_pass() -> None:
    from rewardforge.testing.golden import run_golden

    results = run_golden(default_registry(), "llm_judge", timeout=10)
    assert results
    assert [r.problem for r in results if not r.passed] == []


@pytest.mark.slow
def test_cli_scores_with_params_given_as_strings(tmp_path: Path, server: JudgeServer) -> None:
    import subprocess
    import sys

    server.default = says_four
    rows = [{"prompt": "What is 2+2?", "completion": c} for c in ("4", "5", "4")]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    target = tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "rewardforge.cli", "score", "--reward", "llm_judge", "--input", str(source),
               "--output", str(target), "--param", f"base_url={server.base_url}", "--param", "model=judge-model",
               "--param", "max_retries=1", "--param", "temperature=0.0"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in target.read_text().splitlines()]
    assert [(r["reward"], r["status"]) for r in out] == [(1.0, "ok"), (0.0, "ok"), (1.0, "ok")]
    assert server.hits == 2

    server.default = lambda r: Status(503)
    failing = [*command[:-4], "--param", "rubric=scale", "--param", "max_retries=0", "--force"]  # replace out.jsonl
    result = subprocess.run(failing, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in target.read_text().splitlines()]
    assert [(r["reward"], r["status"], r["info"]["cause"]) for r in out] == [(None, "error", "http 503")] * 3


def test_a_template_failing_on_one_sample_is_an_error_for_that_sample(server: JudgeServer) -> None:
    judge = make(server, template="{{ completion }} scored {{ metadata.weight * 2 }}")
    scores = judge.score([Sample(completion="a", metadata={"weight": 3}), Sample(completion="b", metadata={})])
    assert scores[0].ok
    assert scores[1].status == "error" and scores[1].info["cause"] == "template" and "weight" in (scores[1].reason or "")
    assert "scored 6" in server.chat_requests[0].user_text
