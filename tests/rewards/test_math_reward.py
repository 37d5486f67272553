"""The math rewards end to end: info, policies, registry golden cases, hostile inputs under a clock,
and the symbolic worker from threads, asyncio and process pools."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

import rewardforge
from rewardforge.core.types import RewardContext, RewardError, Sample
from rewardforge.rewards.math import MathEquivalence, NumericCloseness, math_equivalence, numeric_closeness
from rewardforge.verifiers.math.equivalence import clear_cache
from rewardforge.verifiers.math.runner import ensure_warm, warm_workers

ROOT = Path(__file__).resolve().parents[2]


def _sample(completion: str, reference: object) -> Sample:
    return Sample(completion=completion, reference=reference)


@pytest.fixture(scope="module", autouse=True)
def _warm_workers() -> None:
    ensure_warm()  # worker start-up is not part of any timing below


def test_info_records_extraction_gold_and_layer() -> None:
    score = math_equivalence.score([_sample(r"Thus $\boxed{\frac{2}{4}}$.", "0.5")])[0]
    assert score.ok and score.value == 1.0
    assert score.info["extracted"] == r"\frac{2}{4}"
    assert score.info["rule"] == "boxed"
    assert score.info["gold"] == "0.5"
    assert score.info["layer"] == "numeric"
    assert score.info["parsed_gold"] == "1/2"
    tuple_gold = math_equivalence.score([_sample(r"\boxed{(1,2)}", r"\left( 1, 2 \right)")])[0]
    assert tuple_gold.info["parsed_gold"] == "ordered (1,2)"
    identity = math_equivalence.score([_sample(r"\boxed{(x+1)^2}", "x^2+2x+1")])[0]
    assert identity.value == 1.0 and identity.info["layer"] == "identity"
    symbolic = math_equivalence.score([_sample(r"\boxed{2x - y + 3 = 0}", "y = 2x + 3")])[0]
    assert symbolic.value == 1.0 and symbolic.info["layer"] == "symbolic"
    assert "Eq(" in symbolic.info["parsed_gold"]


# What a careful grader accepts and rejects: the classes of issue #17, one row each.
# (id, completion, gold, expected value)
CAREFUL_GRADER = [
    # class 1: no marker -> whole expressions, never digits cut out of LaTeX
    ("frac-whole", r"so the ratio is \frac{10}{9}", "10/9", 1.0),
    ("frac-short", r"The probability is $\frac13$", r"\frac{1}{3}", 1.0),
    ("assignment-in-math", r"Solving gives $k = \frac{1}{3}$", r"\frac{1}{3}", 1.0),
    ("sqrt-in-parens", r"Hence the distance is \( 2\sqrt{5} \).", r"2\sqrt{5}", 1.0),
    ("sqrt-not-5", r"Hence the distance is \( 2\sqrt{5} \).", "5", 0.0),
    ("slope", r"Thus the slope is \( m = -\frac{3}{2} \)", "-1.5", 1.0),
    ("relation-sentence", "Therefore, x >= 5.", r"[5, \infty)", 1.0),
    ("relation-not-5", "Therefore, x >= 5.", "5", 0.0),
    ("choice-after-fraction", r"$\frac{1}{8}$ is too small, so the correct option is **B**.", "B", 1.0),
    ("choice-not-8", r"$\frac{1}{8}$ is too small, so the correct option is **B**.", "8", 0.0),
    ("thousands-space", "The total is 1 000", "1000", 1.0),
    ("leading-dot", "The probability is .4", "0.4", 1.0),
    ("identifier-not-a-number", "AZYUK2A", "2", 0.0),
    ("hedge-list", "I don't know. Maybe 10, 20, 72", "72", 0.0),
    # class 2: which box counts
    ("intermediate-box", r"The width is $w=\boxed{6}$, so the area is $6 \cdot 18$. Final answer: $\boxed{108}$", "108", 1.0),
    ("draft-box-in-think", r"<think>maybe \boxed{42}</think><answer>\boxed{21}</answer>", "21", 1.0),
    ("retracted-box", r"So \boxed{24}. Wait, that double counts the corners, so it is \boxed{12}", "12", 1.0),
    ("later-answer-wins", r"That gives \boxed{12}. Hmm, recounting, the answer is 13.", "12", 0.0),
    ("later-answer-wins-right", r"That gives \boxed{12}. Hmm, recounting, the answer is 13.", "13", 1.0),
    ("spray-in-final-statement", r"\boxed{2} \boxed{3} \boxed{5}", "5", 0.0),
    ("hedge-or", "The answer is 2 or 3.", "3", 0.0),
    # class 3: relations, intervals, percent, units
    ("interval-identical", "$[0,1)$", "$[0,1)$", 1.0),
    ("open-vs-closed", "$[0,9)$", "$(0,9)$", 0.0),
    ("geq-vs-ray", r"\boxed{x \geq 5}", r"[5,\infty)", 1.0),
    ("ray-vs-geq", r"\boxed{[5,\infty)}", r"x \geq 5", 1.0),
    ("gt-vs-ray-closed", r"\boxed{x > 5}", r"[5,\infty)", 0.0),
    ("or-conditions-vs-union", r"\boxed{x < -2 \text{ or } x > 2}", r"(-\infty,-2)\cup(2,\infty)", 1.0),
    ("or-conditions-wrong-end", r"\boxed{x \le -2 \text{ or } x > 2}", r"(-\infty,-2)\cup(2,\infty)", 0.0),
    ("union-order", r"\boxed{(2,\infty)\cup(-\infty,-2)}", r"(-\infty,-2)\cup(2,\infty)", 1.0),
    ("chain-vs-interval", r"\boxed{-2 < x \le 7}", r"(-2, 7]", 1.0),
    ("abs-vs-interval", r"\boxed{|x| < 3}", "(-3, 3)", 1.0),
    ("neq-vs-union", r"\boxed{x \neq 3}", r"(-\infty,3)\cup(3,\infty)", 1.0),
    ("function-label", r"\boxed{f(x) = 2x + 1}", "2x+1", 1.0),
    ("y-label", r"\boxed{y = 2x + 1}", "2x+1", 1.0),
    ("line-equation-forms", r"\boxed{2x - y + 1 = 0}", "y = 2x + 1", 1.0),
    ("lt-macro", r"\boxed{x \lt 3}", "x < 3", 1.0),
    ("gt-macro", r"\boxed{x \gt 3}", "x > 3", 1.0),
    ("le-forms", r"\boxed{x <= 2}", r"x \leq 2", 1.0),
    ("ge-forms", r"\boxed{x >= 2}", r"x \geqslant 2", 1.0),
    ("tuple-vs-set", r"\boxed{(1, 2)}", r"\{1, 2\}", 0.0),
    ("set-any-order", r"\boxed{\{2, 1\}}", r"\{1, 2\}", 1.0),
    ("tuple-order", r"\boxed{(2, 1)}", "(1, 2)", 0.0),
    ("percent-space", "28 %", r"28\%", 1.0),
    ("percent-word", "The answer is 28 percent.", r"28\%", 1.0),
    ("percent-pct", "The answer is 28 pct", r"28\%", 1.0),
    ("percent-as-fraction", r"\boxed{0.28}", r"28\%", 1.0),
    ("percent-wrong", r"\boxed{0.28\%}", r"28\%", 0.0),
    ("area-unit-superscript", r"The area is 24 cm².", "24", 1.0),
    ("text-unit", r"\boxed{6 \times 10^{-7}\ \text{m}}", r"6 \times 10^{-7}", 1.0),
    ("degrees", r"\boxed{90^\circ}", "90", 1.0),
    ("choice-decorated", r"The answer is \textbf{(E)}\ 12", "(E)", 1.0),
    ("choice-wrong", r"The answer is \textbf{(D)}\ 10", "(E)", 0.0),
    ("minus-macro", r"\boxed{\minus 7}", "-7", 1.0),
    ("unicode-minus", "\\boxed{\u22127}", "-7", 1.0),
    ("thousands-comma", r"\boxed{1,000}", "1000", 1.0),
    ("thousands-thin-space", r"\boxed{1\,000}", "1000", 1.0),
    ("thousands-braced", r"\boxed{1{,}000}", "1000", 1.0),
    ("decimal-comma", r"\boxed{3,5}", "3.5", 1.0),
    ("list-not-decimal", r"\boxed{3, 5}", "3.5", 0.0),
    # class 4: gold forms, exact rationals
    ("gold-in-dollars-exact", r"\boxed{1 - \frac{1}{2005!}}", r"$1 - \frac{1}{2006!}$", 0.0),
    ("gold-in-dollars-equal", r"\boxed{1 - \frac{1}{2006!}}", r"$1 - \frac{1}{2006!}$", 1.0),
    ("gold-boxed-solution", "#### 12", r"Each box has 3 rows of 4, so the answer is $\boxed{12}$.", 1.0),
    ("gold-gsm8k", "The answer is 18.", "16 - 3 - 4 = 9 eggs, 9 * 2 = 18.\n#### 18", 1.0),
    ("float-tolerance", r"\boxed{3.1415927}", r"\pi", 1.0),
    ("float-off", r"\boxed{3.14}", r"\pi", 0.0),
    # beyond both: multi-part answers
    ("or-values-vs-list", "The solutions are x = 1 or x = 2.", "1, 2", 1.0),
    ("or-values-vs-set", r"\boxed{x = 1 \text{ or } x = 2}", r"\{1,2\}", 1.0),
    ("or-values-missing-one", r"\boxed{x = 1}", r"\{1,2\}", 0.0),
    ("named-values-vs-tuple", r"\boxed{a = 3, b = 4}", "(3,4)", 1.0),
    ("named-values-swapped", r"\boxed{a = 4, b = 3}", "(3,4)", 0.0),
    ("no-solutions", "There are no solutions.", r"\emptyset", 1.0),
    ("empty-set-symbol", r"\boxed{\varnothing}", r"\emptyset", 1.0),
    # beyond both: number words and other languages
    ("words-twelve", "The answer is twelve.", "12", 1.0),
    ("words-negative-five", "The answer is negative five.", "-5", 1.0),
    ("words-in-prose", "So she has twelve apples left.", "12", 1.0),
    ("chinese-numeral", r"答案是十二", "12", 1.0),
    ("chinese-answer", "所以答案是 12。", "12", 1.0),
    ("spanish-decimal-comma", "Por lo tanto, la respuesta es 3,5.", "3.5", 1.0),
    ("french-answer", r"Donc la réponse est $\frac{2}{3}$.", r"\frac{2}{3}", 1.0),
    # beyond both: code and data formats
    ("inline-code", "The program prints `42`", "42", 1.0),
    ("fenced-text-block", "The result is:\n```text\n42\n```", "42", 1.0),
    ("json-answer", 'Here is my answer: {"answer": 42}', "42", 1.0),
    ("json-wrong", 'Here is my answer: {"answer": 41}', "42", 0.0),
    ("table-last-row", "| step | value |\n|---|---|\n| 1 | 10 |\n| total | 42 |", "42", 1.0),
    # beyond both: repeating decimals, scale words, scientific notation
    ("overline", r"\boxed{0.\overline{3}}", r"\frac{1}{3}", 1.0),
    ("overline-partial", r"\boxed{0.1\overline{6}}", r"\frac{1}{6}", 1.0),
    ("ellipsis", r"\boxed{0.333...}", r"\frac{1}{3}", 1.0),
    ("truncated-decimal-is-not-a-third", r"\boxed{0.333}", r"\frac{1}{3}", 0.0),
    ("scale-million", "The population is 2.5 million.", "2500000", 1.0),
    ("times-ten-unicode", "About 4.5 × 10⁴ cells.", "45000", 1.0),
    ("e-notation", "roughly 1.2e5 molecules", "120000", 1.0),
    ("x-times-ten", r"\boxed{4.5 x 10^4}", "45000", 1.0),
    # beyond both: symbolic forms
    ("antiderivative-plus-c", r"\boxed{\frac{x^3}{3} + x + C}", r"\frac{x^3}{3} + x + C", 1.0),
    ("antiderivative-other-constant", r"\boxed{\frac{x^3 + 3}{3} + x + C}", r"\frac{x^3}{3} + x + C", 1.0),
    ("antiderivative-wrong", r"\boxed{\frac{x^3}{3} + 2x + C}", r"\frac{x^3}{3} + x + C", 0.0),
    ("polar-vs-rect", r"\boxed{8e^{3\pi i/2}}", "-8i", 1.0),
    ("cis-vs-rect", r"\boxed{2(\cos\frac{\pi}{3} + i\sin\frac{\pi}{3})}", r"1+\sqrt{3}i", 1.0),
    ("polar-wrong", r"\boxed{8e^{\pi i/2}}", "-8i", 0.0),
    ("log-base-whole", r"The answer is $\log_2 10$.", r"\frac{\ln 10}{\ln 2}", 1.0),
    ("binom-whole", r"The count is $\binom{n+1}{2}$.", r"\frac{n(n+1)}{2}", 1.0),
    ("dfrac-logs", r"So $x = \dfrac{\ln 3}{\ln 2}$.", r"\log_2 3", 1.0),
    ("euler", r"\boxed{e^{i\pi}}", "-1", 1.0),
    ("log-minus-one", r"\boxed{\ln(-1)}", r"i\pi", 1.0),
    # beyond both: roman numerals
    ("roman-vs-roman", r"\boxed{VI}", "IV", 0.0),
    ("roman-same", r"\boxed{XIV}", "XIV", 1.0),
    ("roman-vs-number", r"\boxed{XIV}", "14", 1.0),
    # classes found on real model outputs (the blind set's dev half, benchmarks/math_blind.py); made-up examples
    ("ordinal-suffix", r"So the closest one is the \boxed{9^{\mathrm{th}} \text{ grade}}", "9", 1.0),
    ("ordinal-suffix-wrong", r"So the closest one is the \boxed{10^{\mathrm{th}} \text{ grade}}", "9", 0.0),
    ("text-unit-compound", r"The yield is \boxed{250 \text{ kJ mol}^{-1}}.", "250", 1.0),
    ("text-words-that-change-the-claim", r"\boxed{5 \text{ or more}}", "5", 0.0),
    ("science-unit-word", "The wavelength is therefore 540 nm.", "540", 1.0),
    ("bold-result-after-roots", "* Area = (1/2) * 8√3 * 2√3 = 24 = **24**", "24", 1.0),
    ("verdict-is-not-an-answer", "Check: 16 * 18 = 288. So our answer is correct.\n\nThe larger integer is 18.", "18", 1.0),
    ("thought-markers", "<|begin_of_thought|>\n\nPerhaps \\boxed{3}.\n\n<|end_of_thought|>\n\n<|begin_of_solution|>\n\n"
     "So the count is \\boxed{4}.\n\n<|end_of_solution|>", "4", 1.0),
    ("cut-off-inside-thought-markers", "<|begin_of_thought|>\n\nSo the answer is 6. Now does 27 divide", "6", 0.0),
    ("bare-gold-tuple-answer", r"So $(x, y, z) = \boxed{(2, 5, 7)}$", "2,5,7", 1.0),
    ("bare-gold-tuple-reordered", r"So $(x, y, z) = \boxed{(7, 5, 2)}$", "2,5,7", 0.0),
    ("subscript-command-names", r"\boxed{\frac{L_{\odot}}{4}}", r"0.25 L_{\odot}", 1.0),
    ("subscripted-list", r"\boxed{T_2, T_1}", "T_{1},T_{2}", 1.0),
    ("subscripted-list-wrong", r"\boxed{T_1, T_3}", "T_{1},T_{2}", 0.0),
    ("gold-written-as-code", r"\boxed{\arccos\left(\frac{1}{2}\right)}", "np.arccos(1/2)", 1.0),
    ("gold-written-as-code-wrong", r"\boxed{\arccos\left(\frac{1}{3}\right)}", "np.arccos(1/2)", 0.0),
    ("truth-in-prose", "Hence such a point exists, and the statement is true.", "True", 1.0),
    ("truth-negated", "Hence the statement is not true.", "True", 0.0),
    ("truth-hedged", "It may be true or false.", "True", 0.0),
    # sprays and hedges the test kit's probes found (answer tags, lists ending on an expression)
    ("answer-tag-spray", "<answer>1</answer><answer>2</answer><answer>5</answer>", "5", 0.0),
    ("answer-tag-corrected", "First <answer>4</answer>. Rechecking the carry, it is <answer>5</answer>", "5", 1.0),
    ("hedge-list-ending-on-expression", r"I am not sure. Perhaps 12, 30, \frac{1}{2}", r"\frac{1}{2}", 0.0),
    ("spray-list-in-answer-phrase", "Possible answers: 1, 2, 3, x+1.", "x+1", 0.0),
    ("value-after-its-condition", "Therefore, with x = 2, f(x) = 7", "7", 1.0),
    ("question-is-not-an-answer", "What is 3+5?", "8", 0.0),
    ("answer-after-a-question", "What is 3+5? It is 8.", "8", 1.0),
    # odd inputs
    ("trailing-nul", "42\x00", "42", 1.0),
    ("nul-in-box", "\\boxed{42\x00}", "42", 1.0),
]


@pytest.mark.parametrize(("completion", "gold", "value"), [c[1:] for c in CAREFUL_GRADER],
                         ids=[c[0] for c in CAREFUL_GRADER])
def test_careful_grader(completion: str, gold: str, value: float) -> None:
    score = math_equivalence.score([_sample(completion, gold)], RewardContext(timeout=30.0))[0]
    assert score.ok and score.value == value, score


def test_reference_solution_is_reduced_to_its_answer() -> None:
    gold = "Each box has 3 rows of 4, so $3\\cdot 4=12$. The answer is $\\boxed{12}$."
    assert math_equivalence.score([_sample("#### 12", gold)])[0].value == 1.0
    assert math_equivalence.score([_sample("#### 18", "16 - 3 - 4 = 9 eggs.\n#### 18")])[0].value == 1.0
    assert math_equivalence.score([_sample("#### 18", 18)])[0].value == 1.0


def test_params_scores_and_validation() -> None:
    graded = MathEquivalence(correct=2.0, incorrect=-1.0)
    values = [s.value for s in graded.score([_sample(r"\boxed{2}", "2"), _sample(r"\boxed{3}", "2")])]
    assert values == [2.0, -1.0]
    only_boxed = math_equivalence.with_params(rules=["boxed"])
    assert only_boxed.score([_sample("The answer is 2", "2")])[0].value == 0.0
    assert math_equivalence.score([_sample("The answer is 2", "2")])[0].value == 1.0
    with pytest.raises(RewardError, match="rules"):
        MathEquivalence(rules=["telepathy"])
    with pytest.raises(RewardError, match="on_conflict"):
        MathEquivalence(on_conflict="sometimes")


def test_conflicting_answers_need_all_right_by_default_or_can_be_refused() -> None:
    spam = _sample(r"\boxed{1} \boxed{2} \boxed{3}", "3")
    either = _sample(r"\boxed{x=2 \text{ or } x=3}", "3")
    strict = math_equivalence.with_params(on_conflict="refuse")
    refused = strict.score([spam, either])
    assert [s.value for s in refused] == [0.0, 0.0]
    assert all(s.reason == "conflicting final answers" for s in refused)
    assert refused[0].info["candidates"] == ["1", "2", "3"]
    default = math_equivalence.score([spam])[0]  # default `all`: every final answer must be right
    assert default.value == 0.0 and default.reason == "one of several final answers (1) is wrong"
    assert math_equivalence.with_params(on_conflict="last").score([spam])[0].value == 1.0
    restated = _sample(r"so \boxed{\frac{1}{2}}, that is \boxed{0.5}", "1/2")
    assert math_equivalence.score([restated])[0].value == 1.0  # one value, two spellings
    # a multi-valued gold makes several answers legitimate, even when refusing
    assert strict.score([_sample(r"\boxed{2, 3}", "2, 3")])[0].value == 1.0


def test_skipped_and_errors_are_never_zero() -> None:
    scores = math_equivalence.score([
        _sample(r"\boxed{5}", None),
        _sample(r"\boxed{5}", r"\frac{1}{0}"),
        _sample(r"\boxed{\frac{1}{0}}", "5"),
    ])
    assert [s.status for s in scores] == ["skipped", "skipped", "error"]
    assert all(s.value is None and s.reason for s in scores)


HOSTILE = {
    "power tower": r"\boxed{10^{10^{10^{10}}}}",
    "multifactorial": r"\boxed{9!!!!!!!!}",
    "1 MB completion": "word " * 200_000 + r"\boxed{" + "7" * 100_000 + "}",
    "10,000 nested braces": r"\boxed" + "{" * 10_000 + "1" + "}" * 10_000,
    "division by zero": r"\boxed{\frac{1}{0}}",
    "NaN": r"\boxed{NaN}",
    "power tower vs a symbolic gold": r"\boxed{10^{10^{10^{10}}}}",
    "power tower with a variable": r"\boxed{x^{10^{10^{10^{10}}}}}",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_inputs_end_in_an_error_within_the_deadline(name: str) -> None:
    clear_cache()
    warm_workers()  # a worker killed by an earlier test is replaced before the clock starts
    timeout = 1.0
    gold = "x+1" if "symbolic" in name or "variable" in name else "5"
    start = time.perf_counter()
    score = math_equivalence.score([_sample(HOSTILE[name], gold)], RewardContext(timeout=timeout))[0]
    elapsed = time.perf_counter() - start
    assert score.status == "error" and score.reason, score
    assert elapsed < timeout + 0.1, f"{name}: {elapsed:.3f}s"


@pytest.mark.parametrize(
    ("completion", "gold", "value"),
    [
        (r"\boxed{１２}", "12", 1.0),
        ("\\boxed{\u22125}", "-5", 1.0),
        ("\\boxed{\u22125}", "5", 0.0),
        (r"\boxed{\infty}", "5", 0.0),
        (r"\boxed{\infty}", r"\infty", 1.0),
        ("so on and so forth " * 55_000 + r"\boxed{5}", "5", 1.0),  # a 1 MB completion with an answer
    ],
)
def test_decidable_odd_inputs_get_the_right_verdict_quickly(completion: str, gold: str, value: float) -> None:
    start = time.perf_counter()
    score = math_equivalence.score([_sample(completion, gold)], RewardContext(timeout=1.0))[0]
    assert score.ok and score.value == value, score
    assert time.perf_counter() - start < 1.1


def test_a_hanging_sympy_call_is_killed_at_the_deadline() -> None:
    clear_cache()
    warm_workers()
    slow = r"\boxed{x^{10^{8}}+\sin(x)^{(10^{9})!}}"
    start = time.perf_counter()
    score = math_equivalence.score([_sample(slow, "x")], RewardContext(timeout=0.5))[0]
    elapsed = time.perf_counter() - start
    assert score.status == "error" and score.reason is not None
    assert elapsed < 0.6
    after = math_equivalence.score([_sample(r"\boxed{x^2-1}", "(x-1)(x+1)")], RewardContext(timeout=5.0))[0]
    assert after.value == 1.0  # the pool recovered


def test_memory_stays_bounded_under_repeated_hostile_inputs() -> None:
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(20):
        clear_cache()
        math_equivalence.score([_sample(HOSTILE["power tower"], "5"), _sample(HOSTILE["1 MB completion"], "5")])
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 100_000  # < 100 MB over 40 hostile samples


SYMBOLIC_BATCH = [
    _sample(r"\boxed{(x+1)^2}", "x^2+2x+1"),
    _sample(r"\boxed{\sin^2 x + \cos^2 x}", "1"),
    _sample(r"\boxed{x^3}", "x^2"),
    _sample(r"\boxed{\frac{3}{4}}", "0.75"),
]
EXPECTED = [1.0, 1.0, 0.0, 1.0]


def _values(samples: list[Sample]) -> list[float | None]:
    return [s.value for s in math_equivalence.score(samples, RewardContext(timeout=5.0))]


def test_works_from_threads() -> None:
    clear_cache()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: _values(SYMBOLIC_BATCH), range(4)))
    assert results == [EXPECTED] * 4


def test_works_from_asyncio() -> None:
    clear_cache()

    async def main() -> list[list[float | None]]:
        direct = math_equivalence.ascore(SYMBOLIC_BATCH, RewardContext(timeout=5.0))
        engine = rewardforge.ascore("math_equivalence", SYMBOLIC_BATCH, timeout=5.0)
        results = await asyncio.gather(direct, engine)
        return [[s.value for s in scores] for scores in results]

    assert asyncio.run(main()) == [EXPECTED, EXPECTED]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_works_from_process_pools(method: str) -> None:
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        scores = pool.submit(math_equivalence.score, SYMBOLIC_BATCH, RewardContext(timeout=20.0)).result(timeout=120)
    assert [s.value for s in scores] == EXPECTED


def test_engine_end_to_end_dedups_groups() -> None:
    samples = [{"completion": f"step {i}... so \\boxed{{{i % 3}}}", "reference": "1"} for i in range(12)]
    scores = rewardforge.score("math_equivalence", samples)
    assert [s.value for s in scores] == [1.0 if i % 3 == 1 else 0.0 for i in range(12)]


def test_numeric_closeness_partial_credit() -> None:
    def value(completion: str, gold: str, **params: object) -> float | None:
        reward = numeric_closeness.with_params(**params) if params else numeric_closeness
        return reward.score([_sample(completion, gold)])[0].value

    assert value("#### 100", "100") == 1.0
    assert value("#### 99", "100") == pytest.approx(0.45)
    assert value("#### 91", "100") == pytest.approx(0.05)
    assert value("#### 111", "100") == -0.5
    assert value("#### 0", "0") == 1.0
    assert value("#### 1", "0") == -0.5
    assert value("#### 95", "100", near=1.0, near_rel=0.2) == pytest.approx(0.75)
    assert value("nothing", "100", rules=["boxed"]) == -1.0
    assert value(r"\boxed{\frac{1}{2}}", "50%") == 1.0
    skipped = numeric_closeness.score([_sample("#### 3", "x+1")])[0]
    assert skipped.status == "skipped"
    with pytest.raises(RewardError, match="near_rel"):
        NumericCloseness(near_rel=0)


def test_registry_golden_cases_pass() -> None:
    entries = yaml.safe_load((ROOT / "registry.yaml").read_text())["rewards"]
    ours = [e for e in entries if e["name"] in ("math_equivalence", "numeric_closeness")]
    assert len(ours) == 2
    for entry in ours:
        low_cases = 0
        for case in entry["golden"]:
            reward = rewardforge.default_registry().get(entry["name"], case.get("params"))
            score = reward.score([Sample(completion=case["completion"], reference=case.get("reference"))])[0]
            where = f"{entry['name']}: {case}"
            if "status" in case:
                assert score.status == case["status"], where
            if "expected" in case:
                assert score.value == pytest.approx(case["expected"]), where
                low_cases += case["expected"] <= 0
            if "min" in case:
                assert score.value is not None and case["min"] <= score.value <= case["max"], where
        assert low_cases >= 2, f"{entry['name']} needs golden cases that must score low"


def test_numeric_closeness_gives_no_credit_to_a_spray_of_guesses() -> None:
    spray = _sample(r"The answer is 40 or 41 or 42. \boxed{40} \boxed{42}", "42")
    [verdict] = numeric_closeness.score([spray])
    assert verdict.value == numeric_closeness.params["far"] and verdict.reason == "several different final answers"
    same = _sample(r"\boxed{42}, i.e. \boxed{42.0}", "42")
    assert numeric_closeness.score([same])[0].value == 1.0


def test_a_hostile_answer_fails_only_its_own_sample() -> None:
    batch = [_sample(rf"\\boxed{{{i}}}", "5") for i in range(255)]
    batch += [_sample(r"\boxed{(10^{400})!}", "5"), _sample(r"\boxed{\sqrt[3]{2^{1500}}}", "5")]
    scores = rewardforge.score("math_equivalence", batch, timeout=3)
    assert [s.value for s in scores[:255]] == [1.0 if i == 5 else 0.0 for i in range(255)]
    assert scores[255].status == "error" and "too large" in (scores[255].reason or "")
    assert scores[256].ok and scores[256].value == 0.0  # 2^500, decided exactly


@pytest.mark.parametrize(
    ("reward", "completion"),
    [
        ("math_equivalence", "\n" * 50_000),
        ("math_equivalence", "\\boxed{" + " " * 20_000 + "}"),
        ("math_equivalence", " or ".join(["1"] * 30_000)),
        ("numeric_closeness", "\\boxed{" + " " * 16_000 + "5}"),
        ("numeric_closeness", " " * 16_000 + "5"),
    ],
    ids=["50k-newlines", "20k-spaces-in-a-box", "30k-alternatives", "closeness-16k-spaces-in-a-box",
         "closeness-16k-spaces"],
)
def test_hostile_texts_stay_within_the_timeout(reward: str, completion: str) -> None:
    start = time.perf_counter()
    [score] = rewardforge.score(reward, [{"completion": completion, "reference": "5"}], timeout=3)
    assert time.perf_counter() - start < 3.0
    assert score.status in ("ok", "error")


def test_integers_beyond_64_bits_are_exact() -> None:
    gold = 2**70 + 1
    scores = rewardforge.score("math_equivalence", [
        {"completion": f"\\boxed{{{gold}}}", "reference": gold},
        {"completion": f"\\boxed{{{gold - 1}}}", "reference": gold},
    ])
    assert [s.value for s in scores] == [1.0, 0.0]


def test_jsonl_integers_beyond_64_bits_are_exact(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from rewardforge.cli import app

    gold = 2**70 + 1
    source = tmp_path / "in.jsonl"
    source.write_text(
        f'{{"completion": "\\\\boxed{{{gold - 1}}}", "answer": {gold}}}\n'
        f'{{"completion": "\\\\boxed{{{gold}}}", "answer": {gold}}}\n'
    )
    target = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["score", "-r", "math_equivalence", "-i", str(source), "-o", str(target),
                                      "--field", "reference=answer"])
    assert result.exit_code == 0, result.output
    import json

    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["reward"] for r in rows] == [0.0, 1.0]
    assert rows[0]["answer"] == gold  # written back exactly, not as a float
