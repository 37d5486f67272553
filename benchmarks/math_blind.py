"""rewardforge `math_equivalence` vs Math-Verify on the blind set of REAL model completions.

The set (`benchmarks/build_blind_math_set.py`, sources in `benchmarks/data/README.md`) holds
completions of a dozen models from public evaluation repositories, labelled by those sources' own
grading; nobody on the team wrote them. Both graders run on every row, in one process:

- ours: `rewardforge.score("math_equivalence", samples)` with default params (the engine);
- Math-Verify 0.9.0 in its two user-facing configurations (`default`: `verify(parse("$gold$"),
  parse(completion))`; `verl`: verl's `math_verify` reward), as in `math_vs_mathverify.py`.

A grader is right on a row when it accepts (score 1.0, status ok) exactly the rows labelled right.
Accuracy is reported per split (`dev`, `test`: `sha256(id) % 2`, fixed before any failure was read),
per group (issue #17's classes 1-4 styles and its "beyond both" forms) and per style, each with a
95% Wilson interval. Only `dev` failures are listed by id: the `test` half is reported as numbers.
Per-row verdicts are kept in the JSON, so `--rescore` recomputes every number after a label is
corrected by hand (in `build_blind_math_set.py`), without running the graders again.

    .venv/bin/python benchmarks/build_blind_math_set.py          # needs the fetched source repos
    .venv/bin/python benchmarks/math_blind.py [--data benchmarks/data/math_blind.jsonl] [--output ...]
    .venv/bin/python benchmarks/math_blind.py --rescore benchmarks/results/math_blind.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import platform
import time
from collections import Counter
from importlib.metadata import version
from pathlib import Path
from typing import Any

from math_vs_mathverify import math_verify_judges, ours_judgements

HERE = Path(__file__).resolve().parent
FULL = HERE / "data" / "math_blind_full.jsonl"
SAMPLE = HERE / "data" / "math_blind.jsonl.gz"
RESULTS = HERE / "results" / "math_blind.json"
SYSTEMS = ("rewardforge", "math_verify_default", "math_verify_verl")


def load(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def wilson(right: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval for a proportion: honest at 0 and 100%, unlike p +- 2 sd."""
    if total == 0:
        return (0.0, 1.0)
    p = right / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return (round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4))


def cell(flags: list[bool]) -> dict[str, Any]:
    right = sum(flags)
    return {"right": right, "of": len(flags), "accuracy": round(right / len(flags), 4) if flags else None,
            "wilson95": wilson(right, len(flags))}


def run_graders(rows: list[dict[str, Any]]) -> tuple[dict[str, dict[str, bool]], dict[str, Any]]:
    """Every system's accept/reject per row id, and what our engine said about the rows."""
    pairs = [(r["gold"], r["completion"]) for r in rows]
    start = time.perf_counter()
    ours, scores = ours_judgements(pairs)
    timings = {"rewardforge": round(time.perf_counter() - start, 2)}
    verdicts = {"rewardforge": {r["id"]: v for r, v in zip(rows, ours, strict=True)}}
    for name, judge in math_verify_judges().items():
        start = time.perf_counter()
        verdicts[f"math_verify_{name}"] = {r["id"]: judge(g, c) for r, (g, c) in zip(rows, pairs, strict=True)}
        timings[f"math_verify_{name}"] = round(time.perf_counter() - start, 2)
    details = {
        "seconds": timings,
        "rewardforge_status": dict(Counter(s.status for s in scores)),
        "rewardforge_rules": dict(Counter(str(s.info.get("rule")) for s in scores)),
        "rewardforge_dev_rows": {r["id"]: {"value": s.value, "status": s.status, "reason": s.reason,
                                           "rule": s.info.get("rule"), "extracted": s.info.get("extracted")}
                                 for r, s in zip(rows, scores, strict=True) if r["split"] == "dev"},
    }
    return verdicts, details


def accuracy(rows: list[dict[str, Any]], verdicts: dict[str, dict[str, bool]]) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for system in SYSTEMS:
        right = {r["id"]: verdicts[system][r["id"]] == r["label"] for r in rows}
        by: dict[str, dict[str, Any]] = {}
        for key in ("split", "split_group", "split_style", "group", "style"):
            groups: dict[str, list[bool]] = {}
            for r in rows:
                name = {"split_group": f"{r['split']}/{r['group']}", "split_style": f"{r['split']}/{r['style']}"}.get(
                    key, r.get(key, ""))
                groups.setdefault(name, []).append(right[r["id"]])
            by[key] = {name: cell(flags) for name, flags in sorted(groups.items())}
        report[system] = {
            "all": cell(list(right.values())), **by,
            "dev_wrong": sorted(r["id"] for r in rows if r["split"] == "dev" and not right[r["id"]]),
        }
    return report


def summary(rows: list[dict[str, Any]], report: dict[str, Any]) -> None:
    for system in SYSTEMS:
        groups = report[system]["split_group"]
        text = "  ".join(f"{k} {v['right']}/{v['of']} ({v['accuracy']:.3f})" for k, v in groups.items())
        print(f"{system:22} {report[system]['all']['accuracy']:.3f}  {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="default: the full set if built, else the committed sample")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--rescore", type=Path, default=None, help="recompute from a results file's per-row verdicts")
    args = parser.parse_args()
    data = args.data or (FULL if FULL.exists() else SAMPLE)
    rows = load(data)
    load_before = os.getloadavg()
    run: dict[str, Any]
    if args.rescore:  # the graders' run is kept as it was; only the labels (and so the numbers) change
        previous = json.loads(args.rescore.read_text())
        verdicts, details = previous["verdicts"], previous["details"]
        run = {key: previous[key] for key in ("machine", "load_average", "versions")}
        missing = {r["id"] for r in rows} - set(verdicts["rewardforge"])
        if missing:
            raise SystemExit(f"{len(missing)} rows of {data} have no verdict in {args.rescore}")
    else:
        verdicts, details = run_graders(rows)
        run = {
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
            "load_average": {"start": [round(x, 2) for x in load_before], "end": [round(x, 2) for x in os.getloadavg()]},
            "versions": {p: version(p) for p in ("rewardforge", "math-verify", "latex2sympy2_extended", "sympy")},
        }
    report = accuracy(rows, verdicts)
    result = {
        "benchmark": "math_blind",
        "data": str(data.relative_to(HERE.parent) if data.is_relative_to(HERE.parent) else data),
        "rows": len(rows),
        "labels": dict(Counter("hand" if r["label_by"] != "source" else "source" for r in rows)),
        **run,
        "accuracy": report,
        "details": details,
        "verdicts": verdicts,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1) + "\n")
    summary(rows, report)
    print(f"-> {args.output}")


if __name__ == "__main__":
    main()
