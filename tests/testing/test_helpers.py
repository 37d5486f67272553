"""The pytest helpers, used on the project's own math, format and code rewards as a plugin author would."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rewardforge.rewards.basic import exact_match
from rewardforge.testing import (
    assert_case,
    assert_golden,
    assert_no_hacks,
    assert_ordering,
    assert_reward,
    parametrize_cases,
)
from rewardforge.testing.strategies import check_in_range, check_never_raises, completions, samples

CASES = Path(__file__).parent / "cases"
TESTS = {"fn": "add", "args": [2, 3], "expected": 5}
ADD_TESTS = [TESTS, {"fn": "add", "args": [-1, 1], "expected": 0}, {"fn": "add", "args": [10, 5], "expected": 15}]


# -- assert_reward: a value, a range, a status; any reward spec ---------------------------------------------

@pytest.mark.parametrize("reward, completion, reference, expected", [
    ("math_equivalence", "So the answer is $\\boxed{\\frac{1}{2}}$.", "0.5", 1.0),
    ("math_equivalence", "#### 72", "72", 1.0),
    ("rewardforge.rewards.math:MathEquivalence", "\\boxed{(x-1)(x+1)}", "x^2-1", 1.0),
    ("numeric_closeness", "#### 95", "100", (0.24, 0.26)),
    ("tag_format", "<think>add</think>\n<answer>4</answer>", None, 1.0),
    ("regex_format", "<think>a</think><answer>4</answer><|im_end|>", None, 1.0),
    ("code_block_format", "```py\nprint(1)\n```", None, 1.0),
    ("code_tests", "```python\ndef add(a, b):\n    return a + b\n```", ADD_TESTS, 1.0),
], ids=["math-frac", "math-gsm8k", "math-class-path", "numeric-range", "tags", "regex", "fence", "code"])
def test_assert_reward_on_builtins(reward: str, completion: str, reference: object, expected: object) -> None:
    verdict = assert_reward(reward, completion, reference, expected)  # type: ignore[arg-type]
    assert verdict.ok


def test_assert_reward_statuses_and_objects() -> None:
    assert_reward("math_equivalence", "\\boxed{5}", None, status="skipped")
    assert_reward("math_equivalence", "\\boxed{\\frac{1}{0}}", "5", status="error")
    assert_reward(exact_match, "paris", "Paris", 1.0)
    assert_reward(exact_match, "paris", "Paris", 0.0, params={"case_sensitive": True})


def test_assert_reward_failure_shows_completion_params_and_verdict() -> None:
    with pytest.raises(AssertionError) as raised:
        assert_reward("math_equivalence", "I think \\boxed{1} or \\boxed{3}", "3", 1.0)
    message = str(raised.value)
    assert "math_equivalence with default params: expected 1.0, got 0.0" in message
    assert "completion: I think \\boxed{1} or \\boxed{3}" in message and "got: ok 0.0 (" in message
    with pytest.raises(AssertionError, match=r"code_tests with params \{'language': 'python'.*expected 1.0, got 0.0"):
        assert_reward("code_tests", "def add(a, b):\n    return 5\n", ADD_TESTS[:2], 1.0)
    with pytest.raises(ValueError, match="give `expected`"):
        assert_reward("math_equivalence", "x", "3")


# -- assert_ordering ----------------------------------------------------------------------------------------

def test_assert_ordering_on_builtins() -> None:
    assert_ordering("math_equivalence", better="\\boxed{4}", worse=["\\boxed{5}", "4 or 5", ""], reference="4")
    assert_ordering("numeric_closeness", better="#### 99", worse="#### 150", reference="100")
    assert_ordering("tag_format", better="<think>a</think><answer>4</answer>", worse="<think>a</think>",
                    params={"mode": "partial"})
    scores = assert_ordering("code_tests", better="def add(a, b):\n    return a + b\n",
                             worse=["def add(a, b):\n    return 5\n", "def add(a, b):\n    return 0\n"],
                             reference=ADD_TESTS, params={"partial_credit": True})
    assert [s.value for s in scores] == pytest.approx([1.0, 1 / 3, 1 / 3])


def test_assert_ordering_failure_names_both_scores() -> None:
    with pytest.raises(AssertionError, match=r"expected better > worse, got 1 vs 1"):
        assert_ordering("exact_match", better="Paris", worse="paris", reference="Paris")
    assert_ordering("exact_match", better="Paris", worse="paris", reference="Paris", strict=False)


# -- golden cases: the fixture, assert_golden, YAML parametrisation -------------------------------------------

def test_fixture_takes_names_paths_and_objects(rewardforge_golden) -> None:  # type: ignore[no-untyped-def]
    assert len(rewardforge_golden("exact_match")) == 5
    assert len(rewardforge_golden("rf_kit_rewards:keywords")) == 4
    assert len(rewardforge_golden(exact_match, CASES / "exact_match.yaml")) == 3


def test_golden_failures_and_missing_cases_are_explained() -> None:
    from rf_kit_rewards import answer_in_text

    with pytest.raises(AssertionError, match=r"has no golden cases: add them to its registry\.yaml entry"):
        assert_golden(answer_in_text)
    with pytest.raises(AssertionError) as raised:
        assert_golden(answer_in_text, [{"completion": "3 or 4", "reference": "3", "expected": 1.0}])
    assert "case 0 with default params: expected 1.0, got 0.0" in str(raised.value)


@parametrize_cases(CASES / "math.yaml")
def test_math_cases_file(case) -> None:  # type: ignore[no-untyped-def]
    assert_case("math_equivalence", case)


def test_math_cases_file_orderings() -> None:
    results = assert_golden("math_equivalence", CASES / "math.yaml")
    assert len(results) >= 6


@parametrize_cases("rf_kit_rewards:keywords")
def test_parametrize_from_a_rewards_own_cases(case) -> None:  # type: ignore[no-untyped-def]
    assert_case("rf_kit_rewards:keywords", case)


# -- assert_no_hacks ------------------------------------------------------------------------------------------

def test_assert_no_hacks_on_format_rewards() -> None:
    run = assert_no_hacks("tag_format")
    assert len(run.results) > 20
    assert_no_hacks("regex_format", {"completion": "<think>a</think><answer>4</answer>"})
    assert_no_hacks("code_block_format")


def test_assert_no_hacks_on_math_with_a_correct_sample() -> None:
    run = assert_no_hacks("math_equivalence", {"prompt": "What is 2+2?", "completion": "\\boxed{4}", "reference": "4"},
                          probes=["empty", "format_only", "prompt_echo", "confusables", "judge_injection",
                                  "judge_claim", "extreme_length"])
    assert {r.probe for r in run.results} >= {"prompt_echo", "confusables", "judge_claim"}


def test_assert_no_hacks_on_code() -> None:
    run = assert_no_hacks("code_tests", {"completion": "```python\ndef add(a, b):\n    return a + b\n```",
                                         "reference": ADD_TESTS},
                          probes=["exit_before_tests", "always_equal", "fake_pass_output", "hardcoded_examples"],
                          params={"backend": "local"})
    assert {r.probe for r in run.results} == {"exit_before_tests", "always_equal", "fake_pass_output",
                                              "hardcoded_examples"}


def test_assert_no_hacks_reports_every_failure() -> None:
    from rf_test_support import ROOT

    with pytest.raises(AssertionError) as raised:
        assert_no_hacks(f"{ROOT}/examples/hackable_reward.py:boxed_answer")
    message = str(raised.value)
    assert "probe attempt(s) broke their property" in message
    assert "hedging (two boxes), case 0, params (defaults):" in message and "scored 1; the correct answer scored 1" in message
    run = assert_no_hacks(f"{ROOT}/examples/hackable_reward.py:boxed_answer",
                          allow=["answer"], probes=["hedging", "answer_spray"])
    assert run.allowed and not run.failures


def test_assert_no_hacks_refuses_to_pass_when_nothing_ran() -> None:
    with pytest.raises(AssertionError, match="no probe ran"):
        assert_no_hacks("exact_match", {"completion": "Paris", "reference": "Paris"}, probes=["always_equal"])
    with pytest.raises(AssertionError, match="the correct sample was skipped"):
        assert_no_hacks("exact_match", {"completion": "Paris"})


# -- Hypothesis: never raises, stays in the declared range ---------------------------------------------------

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(completions(answers=["3", "\\frac{1}{2}", "x^2-1"]), st.sampled_from(["3", "\\frac{1}{2}", "x^2-1", "(1, 2]"]))
def test_math_equivalence_is_total_and_in_range(completion: str, reference: str) -> None:
    sample = {"completion": completion, "reference": reference}
    check_never_raises("math_equivalence", sample)
    check_in_range("math_equivalence", sample)


@FAST
@given(samples(references=["100", "1,000", "-3.5"], answers=["100", "99", "1000"]))
def test_numeric_closeness_is_total_and_in_range(sample) -> None:  # type: ignore[no-untyped-def]
    check_in_range("numeric_closeness", sample)


@pytest.mark.parametrize("name", ["tag_format", "regex_format", "code_block_format", "exact_match"])
def test_format_rewards_are_total_and_in_range(name: str) -> None:
    @FAST
    @given(completions())
    def check(completion: str) -> None:
        sample = {"completion": completion, "reference": "4"}
        check_never_raises(name, sample)
        check_in_range(name, sample)

    check()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(completions(answers=["def add(a, b):\n    return a + b\n", "return a - b"]))
def test_code_tests_is_total_and_in_range(completion: str) -> None:
    sample = {"completion": completion, "reference": ADD_TESTS}
    check_never_raises("code_tests", sample, params={"backend": "local"})
    check_in_range("code_tests", sample, params={"backend": "local"})


def test_the_properties_find_a_reward_that_raises() -> None:
    @settings(max_examples=200, deadline=None, database=None)
    @given(completions())
    def check(completion: str) -> None:
        check_never_raises("rf_kit_rewards:no_digits", {"completion": completion})

    with pytest.raises(AssertionError, match="uncaught exception: ValueError: digits are not handled"):
        check()


def test_in_range_needs_a_declared_or_given_range() -> None:
    with pytest.raises(ValueError, match="declares no range"):
        check_in_range("rf_kit_rewards:no_digits", {"completion": "x"})
    with pytest.raises(AssertionError, match=r"gave 1.0, outside its range \[0, 0.5\]"):
        check_in_range("rf_kit_rewards:no_digits", {"completion": "x"}, low=0, high=0.5)
