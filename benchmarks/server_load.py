"""Load test: `rewardforge serve` against the reward server people write today, in one run.

The baseline is what OpenRLHF users deploy by hand: a plain FastAPI endpoint that strips the
prompt from each query and calls `math_verify.verify(parse(gold), parse(response))` per sample.
It is an `async def` route, because Math-Verify's timeout uses `signal.alarm`, which raises off the
main thread (a sync FastAPI route runs in a thread pool).

Both servers run as their own processes under uvicorn and speak OpenRLHF's `/get_reward`
protocol; 16 concurrent aiohttp clients (OpenRLHF's client library) send GRPO-shaped math samples:
once as OpenRLHF sends them (one sample per request), once as 8-sample batches. Every sample is
distinct (fresh reasoning text), so no verdict cache helps either side. rewardforge serves
`math_equivalence` and a composed stack (examples/demo_stack.yaml: accuracy, format, overlong,
repetition). Every reply is checked against `rf.score` on the same inputs: zero lost or wrong
responses is part of the result. Reported: requests/s, samples/s, p50/p99 latency, peak server
RSS (the server process, and with its worker processes), and the server's RSS before, halfway
through and after each run (it should level off: the verdict cache is bounded).

    .venv/bin/python benchmarks/server_load.py [--requests 10000] [--baseline-requests 2000] [--clients 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import psutil
from fastapi import FastAPI, Request
from math_vs_mathverify import grpo_batch

import rewardforge as rf
from rewardforge.integrations.common import StatusPolicy, composite_component_names
from rewardforge.integrations.openrlhf import to_response

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "server_load.json"
STACK = ROOT / "examples" / "demo_stack.yaml"
PROMPT = "<|im_start|>system\nReason step by step.<|im_end|>\n<|im_start|>user\nProblem {n}: solve it.<|im_end|>\n" \
         "<|im_start|>assistant\n"
END = "<|im_end|>"


def serve_baseline(port: int) -> None:
    """The hand-written server: FastAPI, Math-Verify, one sample at a time."""
    import logging

    import uvicorn
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    app = FastAPI()

    @app.post("/get_reward")
    async def get_reward(request: Request) -> dict[str, Any]:  # `async`: Math-Verify's alarm needs the main thread
        data = await request.json()
        rewards = []
        for query, prompt, label in zip(data["query"], data["prompts"], data["labels"], strict=True):
            response = query[len(prompt):] if query.startswith(prompt) else query
            response = response.replace("<|im_end|>", "").replace("<|endoftext|>", "")
            try:
                rewards.append(float(verify(parse(f"${label}$"), parse(response))))
            except Exception:
                rewards.append(0.0)
        return {"rewards": rewards, "scores": rewards, "extra_logs": {}}

    print(f"baseline on http://127.0.0.1:{port}", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


@dataclass
class Requests:
    """Request bodies (pre-encoded) and, per request, the replies `rf.score` says are right."""

    bodies: list[bytes]
    samples: int
    expected: list[list[float]] = field(default_factory=list)
    expected_ok: list[list[float]] = field(default_factory=list)


def make_requests(count: int, per_request: int, seed: int) -> tuple[Requests, list[dict[str, Any]]]:
    group = 16
    pairs, _ = grpo_batch(prompts=-(-count * per_request // group), group=group, seed=seed)
    pairs = pairs[: count * per_request]
    bodies, samples = [], []
    for start in range(0, len(pairs), per_request):
        chunk = pairs[start:start + per_request]
        prompts = [PROMPT.format(n=start + i) for i in range(len(chunk))]
        queries = [p + completion + END for p, (_, completion) in zip(prompts, chunk, strict=True)]
        bodies.append(orjson.dumps({"query": queries, "prompts": prompts, "labels": [g for g, _ in chunk]}))
        samples += [{"prompt": p, "completion": c.strip(), "reference": g}
                    for p, (g, c) in zip(prompts, chunk, strict=True)]
    return Requests(bodies, len(pairs)), samples


def attach_expected(requests: Requests, samples: list[dict[str, Any]], reward: str, per_request: int) -> None:
    """What a correct server answers, from `rf.score` on the same samples and the adapter's status policy."""
    scores = rf.score(reward, samples)
    components = composite_component_names(rf.resolve(reward))
    policy = StatusPolicy.make(0.0, 0.0, allow_none=False)
    for start in range(0, len(scores), per_request):
        reply = to_response(scores[start:start + per_request], policy=policy, components=components,
                            reward_name=reward)
        requests.expected.append(reply["rewards"])
        requests.expected_ok.append(reply["extra_logs"]["rf_ok"])


class RssSampler:
    """Peak RSS of a server process (alone, and with its children) while a run goes on."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak_main = self.peak_tree = 0
        self.series: list[int] = []  # the server's RSS every 50 ms, to see whether it levels off
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> tuple[int, int]:
        main = self.process.memory_info().rss
        tree = main
        for child in self.process.children(recursive=True):
            try:
                tree += child.memory_info().rss
            except psutil.Error:
                pass
        return main, tree

    def _run(self) -> None:
        while not self._stop.is_set():
            main, tree = self.rss()
            self.series.append(main)
            self.peak_main, self.peak_tree = max(self.peak_main, main), max(self.peak_tree, tree)
            self._stop.wait(0.05)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def drive(url: str, requests: Requests, clients: int, check: bool) -> dict[str, Any]:
    latencies: list[float] = []
    lost = wrong = 0
    first_problem: str | None = None
    order: Iterator[int] = iter(range(len(requests.bodies)))
    connector = aiohttp.TCPConnector(limit=clients)
    headers = {"Content-Type": "application/json"}

    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=300)) as session:
        async def client() -> None:
            nonlocal lost, wrong, first_problem
            for index in order:  # one iterator shared by all clients: each request is sent once
                started = time.perf_counter()
                try:
                    async with session.post(url, data=requests.bodies[index], headers=headers) as response:
                        body = await response.read()
                        status = response.status
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    lost += 1
                    first_problem = first_problem or f"request {index}: {exc!r}"
                    continue
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    lost += 1
                    first_problem = first_problem or f"request {index}: HTTP {status} {body[:200]!r}"
                    continue
                if check:
                    reply = orjson.loads(body)
                    if reply["rewards"] != requests.expected[index] or \
                            reply["extra_logs"]["rf_ok"] != requests.expected_ok[index]:
                        wrong += 1
                        first_problem = first_problem or f"request {index}: {reply} != {requests.expected[index]}"

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    count = len(requests.bodies)
    return {
        "requests": count, "samples": requests.samples, "seconds": round(elapsed, 2),
        "requests_per_s": round(count / elapsed, 1), "samples_per_s": round(requests.samples / elapsed, 1),
        "p50_ms": round(1000 * latencies[len(latencies) // 2], 2) if latencies else None,
        "p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2)
        if latencies else None,
        "lost": lost, "wrong": wrong if check else None, "first_problem": first_problem,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(command: list[str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.search(r"(http://[\d.:]+)", line)
    if not found:
        process.kill()
        raise RuntimeError(f"server did not start: {line}{process.stdout.read()}")
    url = found.group(1)
    threading.Thread(target=lambda: [None for _ in process.stdout or []], daemon=True).start()
    deadline = time.monotonic() + 120
    while True:  # the baseline prints before it listens; wait until a connection is taken
        try:
            socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    try:
        yield url, process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def bench_server(name: str, command: list[str], shapes: dict[str, tuple[Requests, Requests]], clients: int,
                 check: bool) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with running(command) as (url, process):
        for shape, (warmup, requests) in shapes.items():
            asyncio.run(drive(f"{url}/get_reward", warmup, clients, check=False))
            sampler = RssSampler(process.pid)
            rss_before = sampler.rss()[0]
            load = load_average()
            with sampler:
                result = asyncio.run(drive(f"{url}/get_reward", requests, clients, check))
            result.update(load_before=load, load_after=load_average(), rss_before_mb=round(rss_before / 2**20, 1),
                          rss_mid_run_mb=round(sampler.series[len(sampler.series) // 2] / 2**20, 1),
                          rss_after_mb=round(sampler.rss()[0] / 2**20, 1),
                          peak_rss_mb=round(sampler.peak_main / 2**20, 1),
                          peak_rss_with_workers_mb=round(sampler.peak_tree / 2**20, 1))
            print(f"{name:>26} {shape:>7}: {result['requests_per_s']:8.1f} req/s {result['samples_per_s']:8.1f} "
                  f"samples/s  p50 {result['p50_ms']} ms  p99 {result['p99_ms']} ms  lost {result['lost']} "
                  f"wrong {result['wrong']}  peak RSS {result['peak_rss_mb']} MiB  load {load}", flush=True)
            results[shape] = result
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve-baseline", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=10_000, help="requests per run of rewardforge")
    parser.add_argument("--baseline-requests", type=int, default=2_000, help="requests per run of the baseline")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=300, help="requests before each timed run (not timed)")
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(args.serve_baseline)
        return

    print(f"load at start: {load_average()}", flush=True)
    shapes = {"single": 1, "batch8": 8}
    requests: dict[tuple[str, str], Requests] = {}
    warmups: dict[str, Requests] = {}
    for seed, (shape, size) in enumerate(shapes.items()):
        warmups[shape], _ = make_requests(args.warmup, size, seed=1000 + seed)
        baseline, _ = make_requests(args.baseline_requests, size, seed=2000 + seed)
        requests[("baseline", shape)] = baseline
        for reward in ("math_equivalence", str(STACK)):
            ours, samples = make_requests(args.requests, size, seed=3000 + seed)
            attach_expected(ours, samples, reward, size)
            requests[(reward, shape)] = ours
    print("requests built and expected replies computed with rf.score", flush=True)

    python = sys.executable
    runs = {
        "baseline_fastapi_math_verify": ([python, str(Path(__file__).resolve()), "--serve-baseline",
                                          str(free_port())], "baseline", False),
        "rewardforge_math_equivalence": ([python, "-m", "rewardforge.cli", "serve", "--port", "0",
                                          "--reward", "math_equivalence"], "math_equivalence", True),
        "rewardforge_demo_stack": ([python, "-m", "rewardforge.cli", "serve", "--port", "0",
                                    "--reward", str(STACK)], str(STACK), True),
    }
    results: dict[str, Any] = {}
    for name, (command, key, check) in runs.items():
        shaped = {shape: (warmups[shape], requests[(key, shape)]) for shape in shapes}
        results[name] = bench_server(name, command, shaped, args.clients, check)

    base, ours = results["baseline_fastapi_math_verify"], results["rewardforge_math_equivalence"]
    ratios = {shape: {"samples_per_s": round(ours[shape]["samples_per_s"] / base[shape]["samples_per_s"], 1),
                      "p99_ours_ms": ours[shape]["p99_ms"], "p99_baseline_ms": base[shape]["p99_ms"]}
              for shape in shapes}
    single = ratios["single"]
    target_met = single["samples_per_s"] >= 5 and single["p99_ours_ms"] < single["p99_baseline_ms"]
    no_loss = all(r[s]["lost"] == 0 and not r[s]["wrong"] for r in results.values() for s in shapes)
    report = {
        "command": " ".join(["benchmarks/server_load.py", *sys.argv[1:]]),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1)},
        "versions": {"rewardforge": rf.__version__, "math_verify": _version("math-verify"),
                     "fastapi": _version("fastapi"), "uvicorn": _version("uvicorn"), "aiohttp": aiohttp.__version__},
        "clients": args.clients,
        "results": results,
        "ratio_vs_baseline_math_equivalence": ratios,
        "target": "single-sample requests: >= 5x the baseline's samples/s with a lower p99",
        "target_met": target_met,
        "zero_lost_or_wrong": no_loss,
        "load_at_end": load_average(),
        "median_load_during_runs": statistics.median(
            r[s]["load_before"][0] for r in results.values() for s in shapes),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(ratios, indent=2))
    print(f"target met: {target_met}; zero lost or wrong: {no_loss}; written to {RESULTS}")


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    main()
