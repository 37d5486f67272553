"""Math-Verify's own public test suite, run through rewardforge `math_equivalence` and Math-Verify side by side.

The cases come from the `tests/` folder of https://github.com/huggingface/Math-Verify (MIT licence),
ported AS DATA into `tests/verifiers/math/data/math_verify_suite.jsonl`: every parametrized
(gold, prediction, expected) case, deduplicated, with the test's own settings where they differ from
the defaults. `tests/verifiers/math/test_math_verify_suite.py` runs the same file as a test table.

    # port (once, or when upstream adds cases): collect the cases from a Math-Verify checkout
    .venv/bin/python benchmarks/math_verify_suite.py --port /path/to/Math-Verify
    # compare: ours and Math-Verify (default configs) on every case; writes results/math_verify_suite.json
    .venv/bin/python benchmarks/math_verify_suite.py

Math-Verify is judged "with default configs" as its users call it: `verify(parse(gold), parse(pred))`.
Ours goes through the reward (`math_equivalence.score`), with `rel_tol` where the upstream test asked
for a coarser `float_rounding`.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "tests" / "verifiers" / "math" / "data" / "math_verify_suite.jsonl"
RESULTS = HERE / "results" / "math_verify_suite.json"

#: Upstream `float_rounding=p` (round to p decimals) as our relative tolerance for those cases.
PRECISION_TO_REL_TOL = {2: 2e-2, 4: 2e-4, 5: 2e-5}

_COLLECT = r"""
import json, sys, pytest
cases = []
class Collector:
    def pytest_collection_modifyitems(self, items):
        for item in items:
            spec = getattr(item, "callspec", None)
            if spec is None:
                continue
            params = {k: v for k, v in spec.params.items() if isinstance(v, (str, int, float, bool))}
            cases.append({"nodeid": item.nodeid, "params": params})
pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "tests"], plugins=[Collector()])
sys.stdout.write("\n@@CASES@@" + json.dumps(cases))
"""


def collect(checkout: Path) -> list[dict[str, Any]]:
    """Every parametrized case of the checkout's tests, via pytest's own collection (run in the checkout)."""
    out = subprocess.run([sys.executable, "-c", _COLLECT], cwd=checkout, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.split("@@CASES@@", 1)[1])


def math_verify_default(gold: str, pred: str) -> int | None:
    from math_verify import parse, verify

    try:
        return int(verify(parse(gold), parse(pred)))
    except Exception:
        return None


def port(checkout: Path) -> list[dict[str, Any]]:
    logging.disable(logging.CRITICAL)
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str, int, str]] = set()
    per_test: Counter[str] = Counter()
    for case in collect(checkout):
        params = case["params"]
        if "gold" not in params or "pred" not in params:
            continue  # internal-API tests (timeouts, configs) have no (gold, prediction) pair to port
        expected = int(params.get("expected", params.get("result", -1)))
        settings = {}
        if params.get("precision", 6) != 6:
            settings["rel_tol"] = PRECISION_TO_REL_TOL[int(params["precision"])]
        upstream = {k: params[k] for k in ("strict", "allow_set_relation_comp") if k in params}
        key = (params["gold"], params["pred"], expected, json.dumps(upstream, sort_keys=True))
        if key in seen:
            continue
        seen.add(key)
        path, _, function = case["nodeid"].split("[")[0].partition("::")
        test = f"{Path(path).stem}.{function}"
        per_test[test] += 1
        rows.append({
            "id": f"{test}-{per_test[test]}",
            "gold": params["gold"],
            "pred": params["pred"],
            "expected": expected,
            "params": settings,
            "upstream_settings": upstream,
            "math_verify_default": math_verify_default(params["gold"], params["pred"]),
        })
    return rows


def ours(rows: list[dict[str, Any]]) -> list[tuple[int | None, str]]:
    from rewardforge.core.types import Sample
    from rewardforge.rewards.math import math_equivalence

    verdicts = []
    for row in rows:
        reward = math_equivalence.with_params(**row["params"]) if row["params"] else math_equivalence
        score = reward.score([Sample(completion=row["pred"], reference=row["gold"])])[0]
        verdicts.append((int(score.value == 1.0) if score.ok else None, f"{score.status}: {score.reason}"))
    return verdicts


def compare(rows: list[dict[str, Any]]) -> dict[str, Any]:
    start = time.perf_counter()
    mine = ours(rows)
    seconds = time.perf_counter() - start
    core = [i for i, r in enumerate(rows) if not r["id"].startswith("test_yujianll")]
    report: dict[str, Any] = {"cases": len(rows), "core_cases": len(core), "rewardforge_seconds": round(seconds, 2)}
    for name, verdicts in (("rewardforge", [v for v, _ in mine]), ("math_verify_default", [r["math_verify_default"] for r in rows])):
        right = [v == r["expected"] for v, r in zip(verdicts, rows, strict=True)]
        report[name] = {
            "right": sum(right),
            "right_core": sum(right[i] for i in core),
            "wrong": [r["id"] for ok, r in zip(right, rows, strict=True) if not ok],
        }
    report["wrong_where_math_verify_is_right"] = [
        r["id"] for (v, _), r in zip(mine, rows, strict=True) if v != r["expected"] and r["math_verify_default"] == r["expected"]
    ]
    report["details"] = {r["id"]: why for (v, why), r in zip(mine, rows, strict=True) if v != r["expected"]}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=Path, metavar="MATH_VERIFY_CHECKOUT", help="collect the cases from a checkout")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.port:
        rows = port(args.port)
        DATA.parent.mkdir(parents=True, exist_ok=True)
        DATA.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        print(f"ported {len(rows)} cases -> {DATA}")
        return
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    report = compare(rows)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    for name in ("rewardforge", "math_verify_default"):
        res = report[name]
        print(f"{name:22} {res['right']}/{report['cases']} (core {res['right_core']}/{report['core_cases']})")
    print("ours wrong where Math-Verify is right:", report["wrong_where_math_verify_is_right"])
    for case_id, why in report["details"].items():
        print(f"  {case_id}: {why}")


if __name__ == "__main__":
    main()
