"""What process isolation costs, and what it buys: a cheap `@reward` on a GRPO-sized batch, scored by

- `inline`: a plain loop over the function, as TRL and verifiers call reward functions (no
  isolation: a hang, a crash or `sys.exit()` in the reward takes the trainer with it);
- `process_pool`: `concurrent.futures.ProcessPoolExecutor.map`, the usual do-it-yourself isolation
  (a crash breaks the whole pool, a hang is never killed, a Ctrl-C waits for the running calls);
- `rewardforge`: `rf.score` with its warm workers (per-sample errors, timeouts, kill on Ctrl-C).

Then the price of a fault: the same batch with one sample that hangs (`rewardforge` only, under a
1 s timeout), and how long an interrupted caller takes to stop (Ctrl-C while a reward hangs).

    .venv/bin/python benchmarks/engine_isolation.py [--samples 2048] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from rf_fault_rewards import faulty  # noqa: E402

import rewardforge as rf  # noqa: E402
from rewardforge.core.workers import WorkerPool  # noqa: E402

RESULTS = HERE / "results" / "engine_isolation.json"


def plain(completion: str) -> float:
    """The function under `faulty`, for the contenders that call functions directly."""
    return float(len(completion))


def best_rate(run: object, count: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return count / best


INTERRUPTED = """
import rewardforge as rf
from rf_fault_rewards import faulty
rf.score(faulty, [{"completion": "hang"}, {"completion": "hang"}], timeout=30)
"""


def interrupt_latency() -> float:
    """Seconds from SIGINT to exit for a caller whose two workers are stuck in a reward."""
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "tests")}
    caller = subprocess.Popen([sys.executable, "-c", textwrap.dedent(INTERRUPTED)], env=env,
                              stderr=subprocess.DEVNULL)
    time.sleep(3.0)  # the workers start and take the calls
    sent = time.monotonic()
    caller.send_signal(signal.SIGINT)
    caller.wait(60)
    return time.monotonic() - sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    completions = [f"completion number {i}" for i in range(args.samples)]
    samples = [{"completion": c} for c in completions]
    report: dict[str, object] = {
        "benchmark": "engine_isolation", "samples": args.samples, "repeats": args.repeats,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
                   f"load average at start {os.getloadavg()[0]:.1f}",
    }
    rates: dict[str, float] = {}
    rates["inline"] = best_rate(lambda: [plain(c) for c in completions], args.samples, args.repeats)
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as executor:
        list(executor.map(plain, completions[:64]))  # warm
        rates["process_pool"] = best_rate(lambda: list(executor.map(plain, completions, chunksize=1)),
                                          args.samples, args.repeats)
    with WorkerPool() as pool:
        pool.warm()
        rates["rewardforge"] = best_rate(lambda: rf.score(faulty, samples, pool=pool), args.samples, args.repeats)
        with_hang = [*samples[:-1], {"completion": "hang"}]
        start = time.perf_counter()
        verdicts = rf.score(faulty, with_hang, pool=pool, timeout=1.0)
        report["one_hung_sample"] = {
            "seconds": round(time.perf_counter() - start, 2),
            "statuses": {s: sum(v.status == s for v in verdicts) for s in ("ok", "error")},
        }
    report["samples_per_second"] = {name: round(rate, 1) for name, rate in rates.items()}
    report["per_sample_us"] = {name: round(1e6 / rate, 1) for name, rate in rates.items()}
    report["interrupt_seconds"] = round(interrupt_latency(), 2)
    report["load_average_end"] = round(os.getloadavg()[0], 1)
    for name, rate in rates.items():
        print(f"{name:14s} {rate:10.0f} samples/s  {1e6 / rate:8.1f} us/sample")
    print(f"one hung sample under timeout=1: {report['one_hung_sample']}")
    print(f"Ctrl-C while two rewards hang: caller gone in {report['interrupt_seconds']} s")
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"-> {args.output}")


if __name__ == "__main__":
    main()
