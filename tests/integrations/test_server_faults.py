"""Faults the reward server must survive, over real HTTP on loopback, while it keeps serving others.

A client that disconnects mid-request, a reward that raises, one that hangs past the timeout, a
worker process killed mid-request, 1 MB and malformed bodies, SIGTERM with requests in flight,
and memory that stays flat across many requests.
"""

from __future__ import annotations

import concurrent.futures
import signal
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from rf_server_support import Server, running_server

pytestmark = pytest.mark.slow

TIMEOUT_S = 3.0


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    # sleepy sleeps 1 s ("hang": for ever); boom raises; exact_match is the bystander that must keep working
    with running_server("--reward", "rf_test_rewards:sleepy", "--param", "seconds=1",
                        "--reward", "rf_test_rewards:boom", "--reward", "exact_match",
                        "--timeout", str(TIMEOUT_S)) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


def score(client: httpx.Client, reward: str, *completions: str) -> list[dict]:
    response = client.post("/v1/score", json={"reward": reward, "samples": [
        {"completion": c, "reference": c} for c in completions]})
    assert response.status_code == 200, response.text
    return response.json()["scores"]


def bystanders_are_served(client: httpx.Client, count: int = 5, within_s: float = 2.5) -> None:
    """Other clients get right answers, promptly, whatever else is going on."""
    for index in range(count):
        started = time.monotonic()
        [verdict] = score(client, "exact_match", f"bystander {index}")
        assert verdict["value"] == 1.0
        assert time.monotonic() - started < within_s


def test_a_reward_that_raises_is_an_error_score_without_traceback(client: httpx.Client) -> None:
    response = client.post("/v1/score", json={"reward": "boom", "samples": [{"completion": "x"}]})
    assert response.status_code == 200
    [verdict] = response.json()["scores"]
    assert verdict["status"] == "error" and verdict["value"] is None
    assert verdict["reason"] == "ValueError: cannot judge 'x'"
    assert "Traceback" not in response.text
    bystanders_are_served(client)


def test_a_hang_past_the_timeout_is_an_error_and_others_are_served_meanwhile(client: httpx.Client) -> None:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        hung = pool.submit(score, client, "sleepy", "hang")
        time.sleep(0.3)
        bystanders_are_served(client)
        assert not hung.done(), "the hung request was answered before its timeout"
        [verdict] = hung.result(timeout=60)
    elapsed = time.monotonic() - started
    assert verdict["status"] == "error" and verdict["reason"].startswith("timeout: sleepy ran past 3.0s")
    assert TIMEOUT_S <= elapsed < TIMEOUT_S + 20


def test_a_worker_killed_mid_request_fails_that_sample_only(server: Server, client: httpx.Client) -> None:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        victim = pool.submit(score, client, "sleepy", "hang")
        deadline = time.monotonic() + TIMEOUT_S - 1
        while not server.workers() and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = server.workers()
        assert workers, "no worker process to kill"
        for worker in workers:
            worker.kill()
        [verdict] = victim.result(timeout=60)
    assert verdict["status"] == "error" and "crashed its worker" in verdict["reason"]
    assert time.monotonic() - started < TIMEOUT_S + 5
    assert score(client, "sleepy", "fine")[0]["value"] == 1.0  # a fresh worker took its place
    bystanders_are_served(client)


def _raw_request(url: str, payload: bytes, *, declared: int | None = None) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    head = (f"POST /v1/score HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {declared if declared is not None else len(payload)}\r\n\r\n")
    sock.sendall(head.encode() + payload)
    return sock


def test_clients_that_disconnect_mid_request_do_not_disturb_others(server: Server, client: httpx.Client) -> None:
    body = orjson.dumps({"reward": "sleepy", "samples": [{"completion": "walk away"}]})
    gone_while_scoring = [_raw_request(server.url, body) for _ in range(4)]
    gone_while_sending = [_raw_request(server.url, body[:10], declared=len(body)) for _ in range(4)]
    time.sleep(0.2)
    for sock in gone_while_scoring + gone_while_sending:
        sock.close()
    bystanders_are_served(client)
    time.sleep(1.5)  # the abandoned scoring finishes, with nobody to answer
    assert score(client, "sleepy", "still here")[0]["value"] == 1.0
    assert server.process.poll() is None


def test_large_and_malformed_bodies_leave_others_served(server: Server, client: httpx.Client) -> None:
    megabyte = "7" * 2**20
    abuse = [
        orjson.dumps({"reward": "exact_match", "samples": [{"completion": megabyte, "reference": megabyte}]}),
        b"\x00\x01\x02" * 1000,
        b'{"samples": [' + b'{"completion": "a"},' * 5000 + b"]",
        b'{"samples": "' + b"z" * 2**20 + b'"}',
    ]
    with concurrent.futures.ThreadPoolExecutor(len(abuse)) as pool:
        sent = [pool.submit(client.post, "/v1/score", content=body) for body in abuse]
        bystanders_are_served(client)
        answers = [future.result(timeout=60) for future in sent]
    assert answers[0].status_code == 200 and answers[0].json()["scores"][0]["value"] == 1.0
    assert [a.status_code for a in answers[1:]] == [400, 400, 422]
    assert [a.json()["error"]["field"] for a in answers[1:]] == ["body", "body", "samples"]
    assert all("Traceback" not in a.text for a in answers)


def test_memory_stays_flat_across_many_requests(server: Server, client: httpx.Client) -> None:
    def burst(start: int, count: int) -> None:
        def one(index: int) -> None:
            if index % 10 == 0:
                client.post("/v1/score", content=b"{broken")
            elif index % 10 == 1:
                client.post("/v1/score", json={"reward": "boom", "samples": [{"completion": str(index)}]})
            else:
                samples = [{"completion": f"answer {index} {j}", "reference": f"answer {index} {j}"} for j in range(4)]
                response = client.post("/v1/score", json={"reward": "exact_match", "samples": samples})
                assert [s["value"] for s in response.json()["scores"]] == [1.0] * 4

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(one, range(start, start + count)))

    burst(0, 300)  # warm-up: allocator pools, caches of the HTTP stack, the first verdicts
    baseline = server.rss_mb()
    burst(300, 1500)
    grown = server.rss_mb() - baseline
    assert grown < 25, f"server RSS grew {grown:.1f} MiB over 1,500 requests"


def test_sigterm_stops_accepting_drains_in_flight_requests_and_exits_0() -> None:
    with running_server("--reward", "rf_test_rewards:sleepy", "--param", "seconds=2", "--timeout", "20") as server:
        with server.client() as http, concurrent.futures.ThreadPoolExecutor(2) as pool:
            in_flight = [pool.submit(score, http, "sleepy", f"request {i}") for i in range(2)]
            time.sleep(0.8)
            server.process.send_signal(signal.SIGTERM)
            refused = False
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline and not refused:
                try:
                    httpx.get(f"{server.url}/healthz", timeout=1)
                    time.sleep(0.05)
                except httpx.TransportError:
                    refused = True
            still_pending = not any(f.done() for f in in_flight)
            answers = [f.result(timeout=60) for f in in_flight]
        assert refused and still_pending, "new connections were still accepted while requests were draining"
        assert [a[0]["value"] for a in answers] == [1.0, 1.0]
        assert server.process.wait(30) == 0
    assert any("rewardforge serve: stopped" in line for line in server.lines)
