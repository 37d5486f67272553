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
            reward = rewardforge.registry().get(entry["name"], case.get("params"))
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
