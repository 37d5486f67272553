"""Scoring a file on Ray (2 workers) against the local backend, on the same file, in one run.

The file is GRPO-shaped math (benchmarks/math_vs_mathverify.py's generator): N distinct samples
scored with `math_equivalence`. The local side is what `rewardforge score` does (batches of 256
through `rf.score`); the Ray side is `rewardforge score --backend ray` (`score_file`: a Ray Data
pipeline, 2 scoring actors). Ray's start-up is timed apart from the scoring. The two outputs must
be byte-identical. On a machine with few cores Ray adds overhead and no parallelism; the point of
this script is the cost of the pipeline and the equality of results, measured, not a speed-up.

    .venv/bin/python benchmarks/ray_score.py [--samples 20000] [--workers 2]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import orjson
from math_vs_mathverify import grpo_batch

import rewardforge as rf
from rewardforge.records import dump_line, read_records, scored_row

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "ray_score.json"
REWARD = "math_equivalence"


def write_input(path: Path, samples: int) -> None:
    pairs, _ = grpo_batch(prompts=-(-samples // 16), group=16, seed=7)
    with path.open("wb") as handle:
        for n, (gold, completion) in enumerate(pairs[:samples]):
            handle.write(orjson.dumps({"id": n, "completion": completion, "reference": gold}) + b"\n")


def score_locally(path: Path, batch_size: int = 256) -> bytes:
    out = io.BytesIO()
    with path.open("rb") as source:
        batch = []
        for record in read_records(source, {}):
            batch.append(record)
            if len(batch) == batch_size:
                _flush(batch, out)
                batch = []
        _flush(batch, out)
    return out.getvalue()


def _flush(batch: list, out: io.BytesIO) -> None:
    for record, verdict in zip(batch, rf.score(REWARD, [r.sample for r in batch]), strict=True):
        out.write(dump_line(scored_row(record.row, verdict)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    import ray

    from rewardforge.integrations.ray import score_file

    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.jsonl"
        write_input(path, args.samples)
        rf.score(REWARD, [{"completion": "\\boxed{1}", "reference": "1"}])  # imports and workers, not timed

        started = time.perf_counter()
        local = score_locally(path)
        local_s = time.perf_counter() - started

        started = time.perf_counter()
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, configure_logging=False)
        ray.data.DataContext.get_current().enable_progress_bars = False
        startup_s = time.perf_counter() - started
        sink = io.BytesIO()
        started = time.perf_counter()
        summary = score_file(REWARD, path, sink, workers=args.workers)
        ray_s = time.perf_counter() - started
        ray.shutdown()

    identical = sink.getvalue() == local
    report = {
        "command": f"benchmarks/ray_score.py --samples {args.samples} --workers {args.workers}",
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "ray_version": ray.__version__,
        "reward": REWARD,
        "samples": args.samples,
        "local": {"seconds": round(local_s, 2), "samples_per_s": round(args.samples / local_s, 1)},
        "ray": {"workers": args.workers, "startup_s": round(startup_s, 2), "seconds": round(ray_s, 2),
                "samples_per_s": round(args.samples / ray_s, 1)},
        "ray_over_local_throughput": round(local_s / ray_s, 2),
        "outputs_identical": identical,
        "statuses": dict(summary.statuses),
        "load_at_start": [round(x, 2) for x in load_start],
        "load_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
