"""The trainers' wire protocols on the reward server, called as the trainers call them.

- OpenRLHF 0.11's own `SingleTurnAgentExecutor` (`--remote_rm_url http://...`) posts to
  `/get_reward` with aiohttp, the token in the URL, and its `_process_response_into_experience`
  turns the reply into the Experience it learns from.
- slime needs GPUs, so its `remote_rm` (slime/rollout/rm_hub/__init__.py) is mirrored: an aiohttp
  POST of `{"prompt", "response", "label"}` whose JSON reply is the reward.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
import pytest
from rf_integration_support import DATA, openrlhf_modules, word_tokenizer
from rf_server_support import TOKEN, Server, running_server, write_token
from rf_test_support import RF

import rewardforge as rf

pytestmark = pytest.mark.slow

STACK = str(DATA / "qa_stack.yaml")
PROMPT = "<|im_start|>user\nTask capital of France ?<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    token = write_token(tmp_path_factory.mktemp("protocols") / "token")
    with running_server("--reward", STACK, "--reward", "exact_match", "--reward", "rf_test_rewards:boom",
                        "--strip-token", "<EOT>", "--on-error", "-1", "--max-samples", "16",
                        token_file=token) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


def url_with_token(server: Server, path: str) -> str:
    """What a trainer is configured with: only a URL, so the token rides in it (HTTP Basic)."""
    parts = urlsplit(server.url)
    return f"http://rf:{TOKEN}@{parts.netloc}{path}"


def expected(completion: str, reference: str | None, reward: str = STACK) -> rf.Score:
    [score] = rf.score(reward, [{"completion": completion, "reference": reference}])
    return score


@pytest.fixture(scope="module")
def openrlhf() -> Iterator[Any]:
    patch = pytest.MonkeyPatch()
    yield openrlhf_modules(patch)
    patch.undo()


class Engine:
    """Stands in for vLLM: 'generates' the given response's tokens, then EOS."""

    def __init__(self, tokenizer: Any, response: str) -> None:
        self.ids = tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]

    async def generate(self, token_ids: list[int], params: Any, **kwargs: Any) -> Any:
        return SimpleNamespace(outputs=[SimpleNamespace(token_ids=self.ids, finish_reason="stop", logprobs=None)])


@pytest.mark.parametrize(("response", "label"), [("Paris", "Paris"), ("Yes", ""), ("4 5 4 5 4", "4"),
                                                 ("Lyon", "Paris")], ids=["right", "no-label", "repeats", "wrong"])
def test_openrlhfs_own_executor_scores_over_http(openrlhf: Any, server: Server, response: str, label: str) -> None:
    tok = word_tokenizer()
    prompt = tok.apply_chat_template([{"role": "user", "content": "Task capital of France ?"}], tokenize=False,
                                     add_generation_prompt=True)
    executor = openrlhf.agent.SingleTurnAgentExecutor(remote_rm_url=url_with_token(server, "/get_reward"))
    assert executor.reward_func is None, "an http URL, not a reward file"
    params = SimpleNamespace(max_tokens=8, logprobs=None)
    out = asyncio.run(executor.execute(prompt, label or None, params, 64, tok, Engine(tok, response)))

    score = expected(response, label or None)
    want = score.value if score.ok else 0.0
    assert out["reward"] == pytest.approx([want]) and out["scores"] == pytest.approx([want])
    assert out["extra_logs"]["rf_ok"] == [float(score.ok)]
    assert out["extra_logs"]["rf_skipped"] == [float(score.status == "skipped")]
    assert {"gated", "gated.format", "gated.accuracy", "repetition"} <= set(out["extra_logs"])

    experience = openrlhf.samples_generator.SamplesGenerator._process_response_into_experience(None, out, max_len=64)
    assert experience.rewards.flatten().tolist() == pytest.approx([want])
    for key, values in out["extra_logs"].items():
        assert experience.info[key].flatten().tolist() == pytest.approx(values), key
        assert math.isfinite(experience.info[key].item())


def test_openrlhf_batch_keeps_order_and_reports_statuses(client: httpx.Client) -> None:
    cases = [("Paris", "Paris"), ("Lyon", "Paris"), ("Yes", None), ("Paris<EOT>", "Paris")]
    body = {"query": [PROMPT + c + "<|im_end|>" for c, _ in cases] + ["no prompt in here"],
            "prompts": [PROMPT] * (len(cases) + 1), "labels": [label for _, label in cases] + ["Paris"]}
    reply = client.post("/get_reward", json=body).json()
    scores = [expected(c.replace("<EOT>", ""), label) for c, label in cases]
    want = [s.value if s.ok else 0.0 for s in scores] + [-1.0]  # --on-error -1: the unsplittable query
    assert reply["rewards"] == pytest.approx(want) and reply["scores"] == reply["rewards"]
    assert reply["extra_logs"]["rf_ok"] == [float(s.ok) for s in scores] + [0.0]
    assert reply["extra_logs"]["rf_error"][-1] == 1.0
    assert all(isinstance(v, float) for values in reply["extra_logs"].values() for v in values)


def test_openrlhf_picks_another_reward_by_query_parameter(client: httpx.Client) -> None:
    body = {"query": [PROMPT + "paris"], "prompts": [PROMPT], "labels": ["Paris"]}
    reply = client.post("/get_reward", params={"reward": "exact_match"}, json=body).json()
    assert reply["rewards"] == [expected("paris", "Paris", "exact_match").value]
    reply = client.post("/get_reward", params={"reward": "boom"}, json=body).json()
    assert reply["rewards"] == [-1.0] and reply["extra_logs"]["rf_error"] == [1.0]


@pytest.mark.parametrize("body, status, field", [
    ({"query": ["a", "b"], "prompts": ["a"], "labels": ["x", "y"]}, 422, "prompts"),
    ({"query": ["a"], "prompts": ["a"], "labels": []}, 422, "labels"),
    ({"query": "a"}, 422, "query"),
    ({"query": [1]}, 422, "query[0]"),
    ({"query": ["q"] * 17}, 413, "query"),
], ids=["prompts-short", "labels-short", "query-string", "query-int", "too-many"])
def test_openrlhf_bad_requests_name_the_field(client: httpx.Client, body: dict, status: int, field: str) -> None:
    response = client.post("/get_reward", json=body)
    assert response.status_code == status and response.json()["error"]["field"] == field


def test_openrlhf_empty_request_gets_empty_lists(client: httpx.Client) -> None:
    """OpenRLHF 0.11 splits each call across its URL list, so all but the first get empty requests."""
    reply = client.post("/get_reward", json={"query": [], "prompts": [], "labels": []})
    assert reply.status_code == 200 and reply.json() == {"rewards": [], "scores": [], "extra_logs": {}}


def test_openrlhf_route_needs_the_token(server: Server) -> None:
    response = httpx.post(f"{server.url}/get_reward", json={"query": ["q"], "prompts": [""], "labels": ["q"]})
    assert response.status_code == 401


async def slime_remote_rm(url: str, sample: dict[str, Any]) -> Any:
    """slime's `remote_rm`: a shared aiohttp session posting the sample's prompt, response and label."""
    payload = {"prompt": sample["prompt"], "response": sample["response"], "label": sample["label"]}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        async with session.post(url, json=payload) as resp:
            resp.raise_for_status()
            return await resp.json()


SLIME_SAMPLES = [
    {"prompt": "Capital?", "response": "Paris", "label": "Paris"},
    {"prompt": [{"role": "user", "content": "Capital?"}], "response": "Yes", "label": None},
    {"prompt": "Capital?", "response": "4 5 4 5 4", "label": "4"},
]


@pytest.mark.parametrize("sample", SLIME_SAMPLES, ids=["right", "chat-no-label", "repeats"])
def test_slime_remote_rm_gets_the_reward(server: Server, sample: dict[str, Any]) -> None:
    value = asyncio.run(slime_remote_rm(url_with_token(server, "/slime"), sample))
    score = expected(sample["response"], sample["label"])
    assert value == pytest.approx(score.value if score.ok else 0.0)


def test_slime_reward_key_returns_statuses_and_components(server: Server) -> None:
    url = url_with_token(server, "/slime?reward_key=score")
    record = asyncio.run(slime_remote_rm(url, SLIME_SAMPLES[1]))
    score = expected("Yes", None)
    assert record["score"] == pytest.approx(score.value if score.ok else 0.0)
    assert record["rf_skipped"] == float(score.status == "skipped") and record["rf_ok"] == float(score.ok)
    assert {"gated", "repetition"} <= set(record)


def test_slime_errors_score_the_on_error_value_and_bad_bodies_name_the_field(client: httpx.Client) -> None:
    reply = client.post("/slime", params={"reward": "boom", "reward_key": "r"},
                        json={"prompt": "p", "response": "x", "label": None})
    assert reply.json() == {"r": -1.0, "rf_ok": 0.0, "rf_skipped": 0.0, "rf_error": 1.0}
    missing = client.post("/slime", json={"prompt": "p", "label": "x"})
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "response"


def test_single_sample_requests_from_many_clients_are_batched(server: Server, client: httpx.Client) -> None:
    cases = [(f"Paris {i}" if i % 2 else "Paris", "Paris") for i in range(16)]
    body = [{"query": [PROMPT + c], "prompts": [PROMPT], "labels": [label]} for c, label in cases]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(lambda b: client.post("/get_reward", json=b).json(), body))
    scores = rf.score(STACK, [{"completion": c, "reference": label} for c, label in cases])
    assert [r["rewards"][0] for r in replies] == pytest.approx([s.value if s.ok else 0.0 for s in scores])


def test_a_component_named_like_a_status_key_is_refused_at_start(tmp_path: Path) -> None:
    stack = tmp_path / "clash.yaml"
    stack.write_text("name: clash\ntype: weighted_sum\ncomponents:\n  - reward: exact_match\n    name: rf_ok\n")
    done = subprocess.run([*RF, "serve", "--reward", str(stack), "--port", "0"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "rf_ok" in done.stderr
