"""Soak test: does `rewardforge serve` level off in memory over a long run of distinct samples?

`server_load.py` measures speed over 10,000 requests; this runs one server far longer, past the
point where every bounded cache is full: the verdict LRU (20,000 verdicts by default) and the math
verifier's own caches (100,000 pairs, 65,536 spellings). It sends OpenRLHF-shaped single-sample
requests (the same generator as server_load.py, every sample distinct, so every request adds to the
caches) in rounds, and records the server's RSS after each round. Memory is stable when the last
rounds add nothing while the first ones grow.

    .venv/bin/python benchmarks/server_soak.py [--rounds 16] [--per-round 10000] [--clients 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from pathlib import Path

from server_load import RssSampler, drive, make_requests, running

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "server_soak.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=16)
    parser.add_argument("--per-round", type=int, default=10_000, help="single-sample requests per round")
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()

    command = [sys.executable, "-m", "rewardforge.cli", "serve", "--port", "0", "--reward", "math_equivalence"]
    rounds = []
    started = time.perf_counter()
    with running(command) as (url, process):
        sampler = RssSampler(process.pid)
        rss_start = sampler.rss()[0]
        for number in range(args.rounds):
            requests, _ = make_requests(args.per_round, 1, seed=5000 + number)  # fresh samples every round
            result = asyncio.run(drive(f"{url}/get_reward", requests, args.clients, check=False))
            main_rss, tree_rss = sampler.rss()
            row = {"round": number + 1, "samples_so_far": (number + 1) * args.per_round,
                   "rss_mb": round(main_rss / 2**20, 1), "rss_with_workers_mb": round(tree_rss / 2**20, 1),
                   "samples_per_s": result["samples_per_s"], "lost": result["lost"],
                   "load": [round(x, 2) for x in os.getloadavg()]}
            rounds.append(row)
            print(json.dumps(row), flush=True)

    report = {
        "command": " ".join(["benchmarks/server_soak.py", *sys.argv[1:]]),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "rss_at_start_mb": round(rss_start / 2**20, 1),
        "rounds": rounds,
        "lost": sum(r["lost"] for r in rounds),
        "minutes": round((time.perf_counter() - started) / 60, 1),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
