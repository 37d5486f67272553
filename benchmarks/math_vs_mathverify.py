"""rewardforge `math_equivalence` vs Math-Verify, side by side in one process, on the same cases.

(a) Accuracy against hand labels on benchmarks/data/math_answers.jsonl (sources in benchmarks/data/README.md):
    MATH-style LaTeX answers, GSM8K numbers, the known Math-Verify failure classes, real model outputs
    (GPT-3 GSM8K solutions, Qwen2.5-Math r1_zero generations) and completions in the styles of issue #17
    (Minerva, R1, Qwen, unboxed prose) and its "beyond both" forms. Reported per split: `heldout` rows
    were never used to tune the grader; `dev` rows were.
(b) Throughput on a GRPO-shaped batch: 64 prompts x 16 completions of reasoning text ending in an
    answer, about 40% duplicate final answers within each group.

Math-Verify runs in two configurations, both as its users run it:
- `verl`: verl's `math_verify` reward (gold wrapped in `\\boxed{}`; `math_metric` with
  LatexExtractionConfig for the gold and Expr+Latex configs for the prediction);
- `default`: `verify(parse("$gold$"), parse(completion))` with the library defaults.
Ours goes end to end through `rewardforge.score("math_equivalence", samples)` (the engine), with every
cache (verdicts, normalised spellings, the workers' parsed expressions) cleared before each timed run,
so only within-batch dedup helps; worker start-up is excluded for both (warm-up run).

    .venv/bin/python benchmarks/math_vs_mathverify.py [--prompts 64] [--group 16] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import rewardforge
from rewardforge.verifiers.math.equivalence import clear_cache
from rewardforge.verifiers.math.runner import clear_worker_caches, ensure_warm

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "math_answers.jsonl"
RESULTS = HERE / "results" / "math_vs_mathverify.json"

Judge = Callable[[str, str], bool]


def math_verify_judges() -> dict[str, Judge]:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify
    from math_verify.metric import math_metric

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    metric = math_metric(
        gold_extraction_target=(LatexExtractionConfig(),),
        pred_extraction_target=(ExprExtractionConfig(), LatexExtractionConfig()),
    )

    def verl(gold: str, completion: str) -> bool:
        try:
            score, _ = metric(["\\boxed{" + gold + "}"], [completion])
        except Exception:
            return False
        return bool(score)

    def default(gold: str, completion: str) -> bool:
        try:
            return bool(verify(parse("$" + gold + "$"), parse(completion)))
        except Exception:
            return False

    return {"verl": verl, "default": default}


def clear_math_verify_caches() -> None:
    from math_verify import parser

    parser.parse_latex_cached.cache_clear()
    parser.parse_expr_cached.cache_clear()


def ours_judgements(pairs: list[tuple[str, str]]) -> tuple[list[bool], list[rewardforge.Score]]:
    scores = rewardforge.score("math_equivalence", [{"completion": c, "reference": g} for g, c in pairs])
    return [s.ok and s.value == 1.0 for s in scores], scores


# --- (a) accuracy ---------------------------------------------------------------------------


def group_of(row: dict[str, Any]) -> str:
    """Issue #17's two targets: the styles of classes 1-4, and the harder "beyond both" forms."""
    return "beyond" if row["category"] == "beyond" else "classes_1_4"


def accuracy(rows: list[dict[str, Any]]) -> dict[str, Any]:
    pairs = [(r["gold"], r["completion"]) for r in rows]
    verdicts: dict[str, list[bool]] = {}
    ours, scores = ours_judgements(pairs)
    verdicts["rewardforge"] = ours
    for name, judge in math_verify_judges().items():
        verdicts[f"math_verify_{name}"] = [judge(g, c) for g, c in pairs]
    report: dict[str, Any] = {"cases": len(rows), "systems": {}}
    for system, predicted in verdicts.items():
        right = [p == r["label"] for p, r in zip(predicted, rows, strict=True)]
        by: dict[str, dict[str, Any]] = {}
        for key in ("category", "split", "split_group", "style"):
            counts: dict[str, list[int]] = {}
            for ok, r in zip(right, rows, strict=True):
                name = f"{r['split']}/{group_of(r)}" if key == "split_group" else r[key]
                counts.setdefault(name, [0, 0])
                counts[name][0] += ok
                counts[name][1] += 1
            by[key] = {name: {"right": c[0], "of": c[1], "accuracy": round(c[0] / c[1], 4)} for name, c in sorted(counts.items())}
        report["systems"][system] = {
            "accuracy": round(sum(right) / len(rows), 4),
            **by,
            "wrong": [r["id"] for ok, r in zip(right, rows, strict=True) if not ok],
        }
    report["rewardforge_status"] = dict(Counter(s.status for s in scores))
    report["rewardforge_layers"] = dict(Counter(str(s.info.get("layer")) for s in scores))
    return report


# --- (b) throughput -------------------------------------------------------------------------

WORDS = ("we", "compute", "the", "sum", "of", "each", "term", "so", "then", "multiply", "both", "sides", "by",
         "note", "that", "since", "hence", "therefore", "substituting", "gives", "check", "again", "total")


def _reasoning(rng: random.Random) -> str:
    lines = []
    for _ in range(rng.randint(6, 14)):
        words = rng.choices(WORDS, k=rng.randint(10, 22))
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        lines.append(" ".join(words) + f" ${a} \\times {b} = {a * b}$, and $\\frac{{{a}}}{{{b}}}$ remains.")
    return "\n".join(lines)


def _problem(rng: random.Random) -> tuple[str, list[str], list[str]]:
    """A gold answer, spellings of it that are right, and answers that are wrong."""
    kind = rng.choices(["integer", "money", "fraction", "sqrt", "pi", "pair", "interval", "poly", "trig", "line"],
                       weights=[30, 10, 20, 10, 8, 8, 6, 8, 5, 5])[0]
    a, b = rng.randint(2, 40), rng.randint(2, 40)
    if kind == "integer":
        n = rng.randint(10, 200_000)
        return str(n), [str(n), f"{n:,}", f"{n}.0"], [str(n + d) for d in (1, -1, 10, n)]
    if kind == "money":
        n = rng.randint(10, 900)
        return str(n), [f"\\${n}", f"{n} dollars", str(n)], [f"\\${n + 5}", str(n * 2), f"{n - 1} dollars"]
    if kind == "fraction":
        from math import gcd

        a, b = a // gcd(a, b), b // gcd(a, b)
        b = b if b != 1 else b + 1
        return (f"\\frac{{{a}}}{{{b}}}", [f"\\frac{{{a}}}{{{b}}}", f"{a}/{b}", f"\\dfrac{{{2 * a}}}{{{2 * b}}}"],
                [f"\\frac{{{b}}}{{{a}}}", f"\\frac{{{a + 1}}}{{{b}}}", f"{a}/{b + 2}"])
    if kind == "sqrt":
        m = rng.choice([2, 3, 5, 6, 7])
        return (f"{a}\\sqrt{{{m}}}", [f"{a}\\sqrt{{{m}}}", f"\\sqrt{{{a * a * m}}}", f"{a} \\sqrt{m}"],
                [f"{m}\\sqrt{{{a}}}", f"{a + 1}\\sqrt{{{m}}}", str(a * m)])
    if kind == "pi":
        return (f"\\frac{{{a}\\pi}}{{{b}}}", [f"\\frac{{{a}\\pi}}{{{b}}}", f"{a}\\pi/{b}", f"\\frac{{{a}}}{{{b}}}\\pi"],
                [f"\\frac{{{b}\\pi}}{{{a}}}", f"{a}\\pi", f"\\frac{{{a}}}{{{b}}}"])
    if kind == "pair":
        return f"({a}, -{b})", [f"({a},-{b})", f"\\left({a}, -{b}\\right)"], [f"(-{b}, {a})", f"({a}, {b})"]
    if kind == "interval":
        return (f"[{-a}, {b})", [f"[{-a},{b})", f"\\left[{-a}, {b}\\right)"],
                [f"({-a}, {b})", f"[{-a}, {b}]", f"[{a}, {b})"])
    if kind == "line":  # equations need the sympy worker
        return (f"y = {a}x + {b}", [f"y={a}x+{b}", f"{a}x - y + {b} = 0", f"y - {b} = {a}x"],
                [f"y = {b}x + {a}", f"{a}x + y + {b} = 0", f"y = {a}x - {b}"])
    if kind == "trig":
        return (f"{a}\\sin x\\cos x", [f"\\frac{{{a}}}{{2}}\\sin(2x)", f"{a}\\cos x\\sin x", f"{a}\\sin(x)\\cos(x)"],
                [f"{a}\\sin(2x)", f"{a}\\cos(2x)", f"\\frac{{{a}}}{{2}}\\cos(2x)"])
    return (f"x^2+{2 * a}x+{a * a}", [f"(x+{a})^2", f"x^2 + {2 * a}x + {a * a}", f"(x + {a})(x + {a})"],
            [f"(x-{a})^2", f"x^2+{a}x+{a * a}", f"(x+{a + 1})^2"])


def _finish(rng: random.Random, answer: str) -> str:
    style = rng.random()
    if style < 0.6:
        return f"\nTherefore, the final answer is $\\boxed{{{answer}}}$."
    if style < 0.8:
        return f"\nThe answer is {answer}."
    return f"\n#### {answer}"


def grpo_batch(prompts: int, group: int, seed: int = 0) -> tuple[list[tuple[str, str]], dict[str, float]]:
    rng = random.Random(seed)
    pairs: list[tuple[str, str]] = []
    duplicates = 0
    for _ in range(prompts):
        gold, right, wrong = _problem(rng)
        distinct = round(group * 0.6)
        while len(right) + len(wrong) < distinct:  # models also give plain wrong numbers
            wrong.append(str(rng.randint(1, 999)))
        finals = rng.sample(right + wrong, distinct)
        finals += [rng.choice(finals) for _ in range(group - distinct)]
        rng.shuffle(finals)
        duplicates += group - len(set(finals))
        pairs.extend((gold, _reasoning(rng) + _finish(rng, final)) for final in finals)
    stats = {"samples": len(pairs), "duplicate_final_answer_share": round(duplicates / len(pairs), 3),
             "mean_completion_chars": round(statistics.mean(len(c) for _, c in pairs))}
    return pairs, stats


def throughput(pairs: list[tuple[str, str]], repeats: int) -> dict[str, Any]:
    ensure_warm()
    ours_judgements(pairs[:64])  # warm imports and workers, as a training run would be
    ours_times = []
    for _ in range(repeats):
        clear_cache()
        clear_worker_caches()
        start = time.perf_counter()
        ours, scores = ours_judgements(pairs)
        ours_times.append(time.perf_counter() - start)
    ours_time = statistics.median(ours_times)
    result: dict[str, Any] = {
        "rewardforge": {"seconds": round(ours_time, 3), "samples_per_s": round(len(pairs) / ours_time, 1),
                        "all_runs_s": [round(t, 3) for t in ours_times],
                        "layers": dict(Counter(str(s.info.get("layer")) for s in scores)),
                        "status": dict(Counter(s.status for s in scores))},
    }
    agreement = {}
    for name, judge in math_verify_judges().items():
        judge(*pairs[0])
        clear_math_verify_caches()  # its parsers are lru-cached: no run may profit from an earlier one
        start = time.perf_counter()
        theirs = [judge(g, c) for g, c in pairs]
        seconds = time.perf_counter() - start
        result[f"math_verify_{name}"] = {"seconds": round(seconds, 3), "samples_per_s": round(len(pairs) / seconds, 1)}
        agreement[name] = round(sum(a == b for a, b in zip(ours, theirs, strict=True)) / len(pairs), 4)
    best = max(result[k]["samples_per_s"] for k in result if k.startswith("math_verify"))
    result["ratio_vs_fastest_math_verify"] = round(result["rewardforge"]["samples_per_s"] / best, 1)
    result["verdict_agreement_with_math_verify"] = agreement
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--group", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    acc = accuracy(rows)
    pairs, batch_stats = grpo_batch(args.prompts, args.group)
    speed = throughput(pairs, args.repeats)
    report = {
        "benchmark": "math_vs_mathverify",
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "versions": {p: version(p) for p in ("rewardforge", "math-verify", "latex2sympy2_extended", "sympy")},
        "accuracy": acc,
        "throughput": {"batch": {"prompts": args.prompts, "group": args.group, **batch_stats}, **speed},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    for system, res in acc["systems"].items():
        groups = {k: f"{v['right']}/{v['of']}" for k, v in res["split_group"].items()}
        print(f"accuracy {system:24} {res['accuracy']:.3f}  {groups}")
    for key in ("rewardforge", "math_verify_verl", "math_verify_default"):
        print(f"throughput {key:22} {speed[key]['samples_per_s']:>9.1f} samples/s")
    print(f"ratio vs fastest Math-Verify: {speed['ratio_vs_fastest_math_verify']}x  -> {args.output}")


if __name__ == "__main__":
    main()
