"""The reward server over real HTTP on loopback: native protocol, auth, validation, batching, metrics."""

from __future__ import annotations

import concurrent.futures
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from rf_server_support import TOKEN, Server, metric, metric_samples, running_server, write_token
from rf_test_support import RF

import rewardforge as rf

pytestmark = pytest.mark.slow

MATH = [
    {"prompt": "Half of one?", "completion": "So the answer is \\boxed{\\frac{1}{2}}.", "reference": "0.5"},
    {"prompt": "2+2?", "completion": "I think it is 5. The answer is 5", "reference": "4"},
    {"prompt": "Total?", "completion": "#### 1,000", "reference": "1000"},
    {"prompt": "No gold", "completion": "The answer is 3"},
    {"prompt": "Interval", "completion": "\\boxed{(1, 2]}", "reference": "(1,2]"},
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    token_file = write_token(tmp_path_factory.mktemp("server") / "token")
    with running_server(
        "--reward", "math_equivalence", "--reward", "exact_match", "--reward", "rf_test_rewards:rank_in_batch",
        "--max-samples", "64", "--batch-wait-ms", "40", "--timeout", "10", token_file=token_file,
    ) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


def test_native_route_gives_the_scores_rf_score_gives(client: httpx.Client) -> None:
    response = client.post("/v1/score", json={"samples": MATH})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["reward"] == "math_equivalence"
    expected = [s.model_dump(mode="json") for s in rf.score("math_equivalence", MATH)]
    assert body["scores"] == expected
    assert [s["status"] for s in body["scores"]] == ["ok", "ok", "ok", "skipped", "ok"]
    assert [s["value"] for s in body["scores"]] == [1.0, 0.0, 1.0, None, 1.0]


def test_native_route_picks_a_reward_by_name(client: httpx.Client) -> None:
    response = client.post("/v1/score", json={"reward": "exact_match", "samples": [
        {"completion": "Paris", "reference": "Paris"}, {"completion": "Lyon", "reference": "Paris"}]})
    assert response.status_code == 200, response.text
    assert [s["value"] for s in response.json()["scores"]] == [1.0, 0.0]


def test_rewards_listing_names_the_default_and_batch_relative_ones(client: httpx.Client) -> None:
    rewards = {r["name"]: r for r in client.get("/v1/rewards").json()["rewards"]}
    assert list(rewards) == ["math_equivalence", "exact_match", "rank_in_batch"]
    assert rewards["math_equivalence"]["default"] and not rewards["exact_match"]["default"]
    assert rewards["rank_in_batch"]["batched"] and not rewards["exact_match"]["batched"]
    assert "equals the reference" in rewards["exact_match"]["description"]


def test_healthz_needs_no_token(server: Server) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize("headers, reason", [
    ({}, "missing"),
    ({"Authorization": "Bearer not-the-token-at-all"}, "wrong token"),
    ({"Authorization": f"Bearer {TOKEN[:-1]}"}, "wrong token"),
    ({"Authorization": f"Token {TOKEN}"}, "unsupported scheme"),
    ({"Authorization": "Basic !!!"}, "not base64"),
], ids=["none", "wrong", "prefix", "scheme", "bad-basic"])
@pytest.mark.parametrize("method, path", [("POST", "/v1/score"), ("GET", "/v1/rewards"), ("GET", "/metrics")])
def test_every_route_but_healthz_refuses_a_missing_or_wrong_token(
    server: Server, headers: dict[str, str], reason: str, method: str, path: str
) -> None:
    response = httpx.request(method, f"{server.url}{path}", headers=headers, json={"samples": MATH[:1]})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    error = response.json()["error"]
    assert error["field"] == "Authorization" and reason in error["message"]


def test_basic_auth_with_the_token_as_password_is_accepted(server: Server) -> None:
    """OpenRLHF and slime take only a URL: http://rf:TOKEN@host/get_reward sends Basic auth."""
    response = httpx.post(f"{server.url}/v1/score", auth=("rf", TOKEN), json={"samples": MATH[:1]})
    assert response.status_code == 200, response.text


BAD_REQUESTS = [
    # (body bytes, status, field at fault, words in the message)
    (b'{"samples": [{"completion": "a"}', 400, "body", "invalid JSON"),
    (b"", 400, "body", "empty"),
    (b"\xff\xfe\x00garbage", 400, "body", "invalid JSON"),
    (b"[1, 2]", 422, "body", "JSON object"),
    (b'{"sample": []}', 422, "samples", "Field required"),
    (b'{"samples": {"completion": "a"}}', 422, "samples", "valid list"),
    (b'{"samples": [{"completion": "a"}, {"prompt": "p"}]}', 422, "samples[1].completion", "Field required"),
    (b'{"samples": [{"completion": "a", "refrence": "a"}]}', 422, "samples[0].refrence", "Extra inputs"),
    (b'{"samples": [{"completion": 7}]}', 422, "samples[0].completion", "valid"),
    (b'{"samples": [], "step": -1}', 422, "step", "greater than or equal to 0"),
    (b'{"samples": [], "reward": "nope"}', 422, "reward", "unknown reward 'nope'"),
    (orjson.dumps({"samples": [{"completion": "a"}] * 65}), 413, "samples", "limit of 64"),
    (b"[" * 100_000 + b"]" * 100_000, 400, "body", "invalid JSON"),
    (b'{"samples": [{"completion": "a", "reference": NaN}]}', 400, "body", "invalid JSON"),
]


@pytest.mark.parametrize("body, status, field, words", BAD_REQUESTS,
                         ids=["truncated", "empty", "binary", "array", "no-samples", "samples-object",
                              "no-completion", "misspelt", "completion-int", "negative-step", "unknown-reward",
                              "too-many", "deep-nesting", "nan"])
def test_a_bad_request_gets_a_4xx_naming_the_field_and_no_traceback(
    client: httpx.Client, body: bytes, status: int, field: str, words: str
) -> None:
    response = client.post("/v1/score", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert words in error["message"]
    assert "Traceback" not in response.text and 'File "' not in response.text


def test_unknown_paths_and_methods_name_what_is_wrong(client: httpx.Client) -> None:
    missing = client.post("/v2/score", json={})
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "path"
    wrong = client.get("/v1/score")
    assert wrong.status_code == 405 and wrong.json()["error"]["field"] == "method"


def test_concurrent_single_sample_requests_share_engine_calls(server: Server, client: httpx.Client) -> None:
    before = metric_samples(client.get("/metrics").text)
    samples = [{"completion": f"The answer is {i}", "reference": str(i if i % 3 else i + 1)} for i in range(24)]
    with concurrent.futures.ThreadPoolExecutor(24) as pool:
        responses = list(pool.map(lambda s: client.post("/v1/score", json={"samples": [s]}), samples))
    assert all(r.status_code == 200 for r in responses)
    got = [r.json()["scores"][0] for r in responses]
    assert got == [s.model_dump(mode="json") for s in rf.score("math_equivalence", samples)]
    after = metric_samples(client.get("/metrics").text)
    calls = (metric(after, "rewardforge_batch_samples_count", reward="math_equivalence")
             - metric(before, "rewardforge_batch_samples_count", reward="math_equivalence"))
    scored = (metric(after, "rewardforge_batch_samples_sum", reward="math_equivalence")
              - metric(before, "rewardforge_batch_samples_sum", reward="math_equivalence"))
    assert scored == 24
    assert calls < 24, "every request ran alone: nothing was batched"


def test_a_batch_relative_reward_never_sees_other_requests_samples(client: httpx.Client) -> None:
    """rank_in_batch gives 1.0 to the longest completion of its batch: merging requests would change it."""
    requests = [[{"completion": "a" * (i + 1)}, {"completion": "b"}] for i in range(12)]
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        responses = list(pool.map(
            lambda samples: client.post("/v1/score", json={"reward": "rank_in_batch", "samples": samples}),
            requests))
    for index, response in enumerate(responses):
        values = [s["value"] for s in response.json()["scores"]]
        assert values == ([1.0, 1.0] if index == 0 else [1.0, 0.0])


def test_metrics_count_requests_statuses_latency_and_queue(client: httpx.Client) -> None:
    before = metric_samples(client.get("/metrics").text)
    client.post("/v1/score", json={"samples": MATH})
    client.post("/v1/score", content=b"{", headers={"Content-Type": "application/json"})
    client.get("/no/such/path")
    text = client.get("/metrics").text
    after = metric_samples(text)

    def grew(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    assert grew("rewardforge_requests_total", route="/v1/score", code="200") == 1
    assert grew("rewardforge_requests_total", route="/v1/score", code="400") == 1
    assert grew("rewardforge_requests_total", route="other", code="404") == 1
    assert grew("rewardforge_scores_total", reward="math_equivalence", status="ok") == 4
    assert grew("rewardforge_scores_total", reward="math_equivalence", status="skipped") == 1
    assert grew("rewardforge_request_duration_seconds_count", route="/v1/score") == 2
    assert ("rewardforge_queue_depth", (("reward", "math_equivalence"),)) in after
    assert metric(after, "rewardforge_queue_depth", reward="math_equivalence") == 0
    assert "# TYPE rewardforge_request_duration_seconds histogram" in text


def test_non_loopback_bind_is_refused_without_a_token(tmp_path: Path) -> None:
    result = subprocess.run([*RF, "serve", "--reward", "exact_match", "--host", "0.0.0.0", "--port", "0"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0" in result.stderr and "--token-file" in result.stderr


def test_a_short_token_is_refused(tmp_path: Path) -> None:
    token = write_token(tmp_path / "token", "short")
    result = subprocess.run([*RF, "serve", "--reward", "exact_match", "--token-file", str(token)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "at least 16 characters" in result.stderr


def test_all_interfaces_with_a_token_serves_and_checks_it(tmp_path: Path) -> None:
    with running_server("--reward", "exact_match", "--host", "0.0.0.0",
                        token_file=write_token(tmp_path / "token")) as server:
        port = server.url.rsplit(":", 1)[1]
        sample = {"samples": [{"completion": "a", "reference": "a"}]}
        assert httpx.post(f"http://127.0.0.1:{port}/v1/score", json=sample).status_code == 401
        with server.client(base_url=f"http://127.0.0.1:{port}") as http:
            assert http.post("/v1/score", json=sample).json()["scores"][0]["value"] == 1.0


def test_body_limit_refuses_declared_and_streamed_bodies_and_takes_one_just_under(tmp_path: Path) -> None:
    with running_server("--reward", "exact_match", "--max-body-mb", "1") as server, server.client() as http:
        limit = 2**20
        filler = "x" * (limit - 200)
        fits = orjson.dumps({"samples": [{"completion": filler, "reference": filler[:10]}]})
        assert limit - 300 < len(fits) <= limit
        response = http.post("/v1/score", content=fits)
        assert response.status_code == 200 and response.json()["scores"][0]["value"] == 0.0

        over = orjson.dumps({"samples": [{"completion": "x" * limit}]})
        declared = http.post("/v1/score", content=over)
        assert declared.status_code == 413
        assert declared.json()["error"]["field"] == "body" and str(limit) in declared.json()["error"]["message"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is enforced while reading
            for start in range(0, len(over), 65536):
                yield over[start:start + 65536]

        streamed = http.post("/v1/score", content=chunks())
        assert streamed.status_code == 413 and streamed.json()["error"]["field"] == "body"
        assert http.post("/v1/score", json={"samples": [{"completion": "a", "reference": "a"}]}).status_code == 200
