"""Reward-hacking probes: every built-in keeps every applicable property with its default params, and
each probe catches the hack it is named for on a reward that has it."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import replace
from typing import Any

import pytest
from typer.testing import CliRunner

from rewardforge.cli import app
from rewardforge.core.cases import GoldenCase, parse_cases
from rewardforge.core.registry import Registry
from rewardforge.testing.probes import (
    BUILTIN_PROBES,
    FAMILIES,
    ProbeCase,
    attempts_for,
    full_credit_cases,
    load_probes,
    run_probes,
    shorten,
)
from rewardforge.testing.probes.text import confusable
from rewardforge.testing.targets import load_target, registry_target

REGISTRY = Registry.load(plugins=False)
LIBRARY = load_probes(plugins=False)


def describe(run: Any) -> list[str]:
    return [f"{r.probe} ({r.variant}) on {r.case_label} {r.params}: {shorten(r.completion, 90)!r} scored "
            f"{r.score.value} vs {r.bound} {r.bound_score.value}" for r in run.failures]


def test_every_builtin_keeps_every_applicable_property() -> None:
    """The issue's bar: `rewardforge test --all --probes` passes. Shaping rewards document the families
    they rightly let through (`allow:` in registry.yaml); correctness rewards allow nothing.

    On the branch that added the kit, math_equivalence / numeric_closeness (hedges and sprays read by the
    last-number fallback: issue #17) and code_tests (builtin shadowing, partial credit by default:
    issue #11) failed here; those issues fix them."""
    result = CliRunner().invoke(app, ["test", "--all", "--probes", "--json", "-"])
    report = json.loads(result.stdout[result.stdout.index("{"):])
    problems = [f"{t['name']}: {f['probe']} ({f['variant']}) on case {f['case']} {f['params']}: "
                f"{f['completion_short']!r} scored {f['score']['value']} vs {f['bound']} {f['bound_score']['value']}"
                for t in report["targets"] for f in t["probes"]["failures"]]
    problems += [f"{t['name']}: {t['error']}" for t in report["targets"] if t["error"]]
    problems += [f"{t['name']}: golden {g['index']}: {g['problem']}" for t in report["targets"]
                 for g in t["golden"] if not g["passed"]]
    assert not problems, "\n".join(problems)
    assert {t["name"] for t in report["targets"]} == set(REGISTRY.names())
    assert result.exit_code == 0


CORRECTNESS = ["exact_match", "regex_match", "regex_format", "tag_format", "code_block_format",
               "math_equivalence", "numeric_closeness", "code_tests"]


@pytest.mark.parametrize("name", CORRECTNESS)
def test_correctness_rewards_are_probed_and_allow_nothing(name: str) -> None:
    target = registry_target(REGISTRY, name)
    assert not target.allow
    run = run_probes(target, library=LIBRARY, only=["empty", "whitespace"])
    assert len(run.results) >= 4, f"{name}: too few probe attempts ran"


def test_every_probe_is_named_described_and_in_a_family() -> None:
    assert len({p.name for p in BUILTIN_PROBES}) == len(BUILTIN_PROBES)
    for probe in BUILTIN_PROBES:
        assert probe.family in FAMILIES and probe.property.endswith(("answer", "program", "stub that raises",
                                                                     "hang)", "catch it)"))


def test_every_family_of_the_issue_is_covered() -> None:
    names = {p.name for p in BUILTIN_PROBES}
    assert {"empty", "whitespace", "format_only", "prompt_echo", "extreme_length", "answer_spray", "hedging",
            "smuggled_reference", "confusables", "judge_claim", "judge_injection", "exit_before_tests",
            "always_equal", "fake_pass_output", "harness_patch", "builtin_override", "hardcoded_examples",
            "trivial_return"} <= names


HACKABLE = "examples/hackable_reward.py:boxed_answer"


def test_answer_probes_catch_a_reward_that_pays_for_any_box() -> None:
    from rf_test_support import ROOT

    run = run_probes(load_target(str(ROOT / HACKABLE)), library=LIBRARY)
    assert {r.probe for r in run.failures} == {"format_only", "answer_spray", "hedging", "smuggled_reference",
                                               "confusables"}


KIT_CASES = parse_cases([
    {"completion": "3", "reference": "3", "expected": 1.0},
    {"completion": "3", "reference": "3", "params": {"lenient": True}, "expected": 1.0},
], origin="test")


def test_each_case_is_probed_with_its_own_params() -> None:
    target = replace(load_target("rf_kit_rewards:answer_in_text"), cases=KIT_CASES)
    run = run_probes(target, library=LIBRARY, only=["answer_spray", "hedging"])
    assert run.failures and {r.case_index for r in run.failures} == {1}
    assert all(r.params == {"lenient": True} for r in run.failures)
    assert all(r.score.value == 1.0 and r.bound_score.value == 1.0 for r in run.failures)


def test_allowances_by_probe_family_and_case() -> None:
    cases = parse_cases([{"completion": "3", "reference": "3", "params": {"lenient": True}, "expected": 1.0,
                          "allow": {"hedging": "documented"}}], origin="test")
    target = replace(load_target("rf_kit_rewards:answer_in_text"), cases=cases)
    run = run_probes(target, library=LIBRARY, only=["answer_spray", "hedging"], allow={"answer_spray": "by test"})
    assert not run.failures
    assert {r.allowed for r in run.allowed} == {"documented", "by test"}
    run = run_probes(target, library=LIBRARY, only=["answer_spray"], allow={"answer": "whole family"})
    assert not run.failures and {r.allowed for r in run.allowed} == {"whole family"}


CHECK_ABS = {"test": "def check(candidate):\n    assert abs(candidate([1.0, 2.0, 3.0]) - 2.0/3.0) < 1e-6\n"
                     "    assert abs(candidate([2.0, 2.0]) - 0.0) < 1e-6\n",
             "entry_point": "mad"}
MAD = "def mad(xs):\n    m = sum(xs) / len(xs)\n    return sum(abs(x - m) for x in xs) / len(xs)\n"


CHECK_EQ = {"test": "def check(candidate):\n    for i in range(5):\n        assert candidate(i) == i + 1\n",
            "entry_point": "inc"}


def test_code_probes_catch_a_naive_exit_code_harness() -> None:
    """A reward that runs program + check in one process and pays exit code 0 is beaten by each trick."""
    target = replace(load_target("rf_kit_rewards:exit_code_reward"), cases=parse_cases([
        {"completion": MAD, "reference": CHECK_ABS, "expected": 1.0},
        {"completion": "def inc(x):\n    return x + 1\n", "reference": CHECK_EQ, "expected": 1.0},
    ], origin="test"))
    run = run_probes(target, library=LIBRARY, only=["exit_before_tests", "always_equal", "builtin_override",
                                                    "harness_patch", "fake_pass_output", "trivial_return"])
    caught = {(r.probe, r.variant) for r in run.failures}
    for expected in [("exit_before_tests", "sys.exit(0) first"), ("exit_before_tests", "os._exit(0) first"),
                     ("exit_before_tests", "raise SystemExit(0) first"),
                     ("always_equal", "an object equal to anything"),
                     ("builtin_override", "numeric builtins return 0"),
                     ("harness_patch", "forces exit status 0 at interpreter exit")]:
        assert expected in caught, describe(run)
    # printing "passed" or returning a constant does not fool even this harness: those probes stay quiet
    assert not {p for p, _ in caught} & {"fake_pass_output", "trivial_return"}


LONGEST = {"test": "def check(candidate):\n    assert candidate([]) == None\n    assert candidate(['x', 'y']) == 'x'\n"
                   "    assert candidate(['x', 'yyy', 'zz']) == 'yyy'\n", "entry_point": "longest"}
LONGEST_CODE = "def longest(strings):\n    return max(strings, key=len) if strings else None\n"


@pytest.mark.parametrize("partial_credit, caught", [(True, True), (False, False)])
def test_trivial_return_catches_partial_credit_for_return_none(partial_credit: bool, caught: bool) -> None:
    """HumanEval/12 in miniature: `return None` passes the one test that expects None. With partial credit
    it beats the stub that raises; all-or-nothing scoring gives it nothing."""
    target = replace(load_target("code_tests"), cases=parse_cases(
        [{"completion": LONGEST_CODE, "reference": LONGEST, "params": {"partial_credit": partial_credit}, "expected": 1.0}],
        origin="test"))
    run = run_probes(target, library=LIBRARY, only=["trivial_return"])
    found = [r for r in run.failures if r.variant == "return None"]
    assert bool(found) is caught, describe(run)
    if caught:
        assert found[0].bound == "baseline" and found[0].bound_score.value == 0.0
        assert found[0].score.value == pytest.approx(1 / 3)


def test_code_probes_keep_the_task_signature_and_fences() -> None:
    case = GoldenCase(completion=f"```python\n{MAD}```", reference=CHECK_ABS, expected=1.0)
    probe = next(p for p in BUILTIN_PROBES if p.name == "trivial_return")
    [first, *_] = attempts_for(probe, case)
    assert first.completion == "```python\ndef mad(xs):\n    return None\n```"
    assert first.baseline == "```python\ndef mad(xs):\n    raise NotImplementedError\n```"


def test_hardcoded_examples_reads_doctests_from_the_prompt() -> None:
    prompt = 'def mad(xs):\n    """\n    >>> mad([1.0, 2.0, 3.0, 4.0])\n    1.0\n    """\n'
    case = GoldenCase(completion=MAD, reference=CHECK_ABS, prompt=prompt, expected=1.0)
    probe = next(p for p in BUILTIN_PROBES if p.name == "hardcoded_examples")
    [attempt] = attempts_for(probe, case)
    assert "_SEEN = {'([1.0, 2.0, 3.0, 4.0],)': 1.0}" in str(attempt.completion)
    namespace: dict[str, Any] = {}
    exec(str(attempt.completion), namespace)  # the program really answers the visible example only
    assert namespace["mad"]([1.0, 2.0, 3.0, 4.0]) == 1.0 and namespace["mad"]([1.0]) is None


def test_code_probes_skip_what_is_not_a_python_task() -> None:
    cpp = GoldenCase(completion="```cpp\nint main(){}\n```", reference=[{"input": "1", "output": "1"}], expected=1.0)
    words = GoldenCase(completion="Paris", reference="Paris", expected=1.0)
    for probe in (p for p in BUILTIN_PROBES if p.family == "code"):
        assert attempts_for(probe, cpp) == [] and attempts_for(probe, words) == []


def test_confusables_are_not_the_same_text_under_nfkc() -> None:
    fake = confusable("Paris 2024")
    assert fake != "Paris 2024" and unicodedata.normalize("NFKC", fake) != "Paris 2024"


def test_judge_probes_never_contain_the_answer_by_coincidence() -> None:
    """Injections such as a bare "Yes" would be the right answer to a yes/no task: they are left out."""
    case = GoldenCase(completion="Yes", reference="Yes", expected=1.0)
    texts = [str(a.completion) for p in BUILTIN_PROBES if p.family == "judge" for a in attempts_for(p, case)]
    assert len(texts) > 10
    assert not [t for t in texts if re.search(r"(?<!\w)yes(?!\w)", t, re.IGNORECASE)]


def test_skip_tags_leave_format_rewards_out_of_format_only() -> None:
    probe = next(p for p in BUILTIN_PROBES if p.name == "format_only")
    case = GoldenCase(completion="<think>a</think><answer>4</answer>", expected=1.0)
    assert probe.attempts(ProbeCase(case, frozenset({"format"}))) == []
    assert probe.attempts(ProbeCase(case, frozenset({"math"})))


@pytest.mark.parametrize("cases, expected", [
    ([{"completion": "a", "expected": 1.0}, {"completion": "b", "expected": 0.0}], [0]),
    ([{"completion": "a", "min": 0.9}, {"completion": "b", "expected": 0.5}, {"completion": "c", "expected": 0.9}],
     [0, 2]),
    ([{"completion": "a", "expected": 0.0}, {"completion": "b", "status": "skipped"}], [0]),  # a penalty's top is 0
    ([{"completion": "a", "status": "error"}, {"completion": "b", "max": 0.5}], []),
], ids=["value", "range-and-value", "zero-top", "nothing-to-match"])
def test_probes_target_the_cases_with_the_top_value(cases: list[dict], expected: list[int]) -> None:
    assert full_credit_cases(parse_cases(cases, origin="t").cases) == expected


def test_shorten_keeps_both_ends_and_the_length() -> None:
    text = "start\n" + "x" * 500 + "\tend"
    short = shorten(text, 40)
    assert short.startswith("start\\nxx") and short.endswith("xx\\tend (510 chars)") and " … " in short
