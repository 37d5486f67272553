"""The golden-case format: values, ranges, statuses and orderings, wherever cases are written."""

from __future__ import annotations

import pickle

import pytest

from rewardforge import RewardError, reward
from rewardforge.core.cases import CaseSet, GoldenCase, Ordering, holds, parse_cases
from rewardforge.core.registry import Registry, RewardEntry


def test_values_ranges_statuses_and_orderings_parse() -> None:
    cases = parse_cases([
        {"completion": "a", "expected": 1.0},
        {"completion": "b", "expected": [0.2, 0.4]},
        {"completion": "c", "status": "skipped"},
        {"name": "good", "completion": "d"},
        {"name": "bad", "completion": "e", "max": 0.5},
        {"order": "good >= bad", "note": "why"},
    ], origin="test")
    assert [c.expected for c in cases.cases] == [1.0, None, None, None, None]
    assert (cases.cases[1].min, cases.cases[1].max) == (0.2, 0.4)
    assert cases.orderings[0].links() == [("good", ">=", "bad")]
    assert cases.index_of("bad") == 4


@pytest.mark.parametrize("items, message", [
    ([{"completion": "a"}], "case 0: an ok golden case needs `expected`, `min`/`max`, or a `name`"),
    ([{"completion": "a", "expected": 1, "status": "error"}], "case 0: a error golden case has no value"),
    ([{"completion": "a", "expected": [1]}], "an expected range is [min, max]"),
    ([{"completion": "a", "min": 2, "max": 1}], "min 2.0 is above max 1.0"),
    ([{"completion": "a", "expectd": 1}], "case 0.expectd: Extra inputs are not permitted"),
    ([{"name": "x", "completion": "a", "expected": 1}, {"order": "x > y"}], "names 'y', which no case has"),
    ([{"name": "x", "completion": "a", "expected": 1}, {"order": "x"}], "expected case names joined by"),
    ([{"name": "x", "completion": "a", "expected": 1}, {"name": "x", "completion": "b", "expected": 0}],
     "case name 'x' is used by cases 0 and 1"),
    ([{"name": "x", "completion": "a"}], "case 'x' has no expected value and no `order` names it"),
    ([{"name": "x", "completion": "a", "status": "skipped"}, {"name": "y", "completion": "b", "expected": 0},
      {"order": "x > y"}], "names 'x', a case that expects no value"),
], ids=["no-value", "status-with-value", "short-range", "inverted-range", "typo", "unknown-name",
        "one-name", "duplicate-name", "unused-name", "order-on-skipped"])
def test_bad_cases_name_the_case_and_the_problem(items: list[dict], message: str) -> None:
    with pytest.raises(RewardError, match=r"^cases.yaml: .*") as raised:
        parse_cases(items, origin="cases.yaml")
    assert message in str(raised.value)


@pytest.mark.parametrize("left, relation, right, expected", [
    (1.0, ">", 0.5, True), (0.5, ">", 0.5, False), (0.5, ">=", 0.5, True), (0.4, ">=", 0.5, False),
    (0.5, "=", 0.5 + 1e-12, True), (0.5, "=", 0.6, False), (0.1, "<", 0.2, True), (0.2, "<=", 0.2, True),
])
def test_order_relations(left: float, relation: str, right: float, expected: bool) -> None:
    assert holds(left, relation, right, 1e-9) is expected  # type: ignore[arg-type]


def test_double_equals_reads_as_equals() -> None:
    assert Ordering(order="a == b").links() == [("a", "=", "b")]


def test_registry_entries_keep_orderings_apart_from_cases() -> None:
    entry = RewardEntry.model_validate({
        "name": "r", "target": "m:f", "allow": {"empty": "why"}, "range": [0, 1],
        "golden": [{"name": "a", "completion": "x", "expected": 1}, {"name": "b", "completion": "y", "expected": 0},
                   {"order": "a > b"}],
    })
    assert all(isinstance(case, GoldenCase) for case in entry.golden)  # `rewardforge show` reads these
    assert [o.order for o in entry.orderings] == ["a > b"]
    assert entry.cases().orderings == entry.orderings
    assert entry.range == (0.0, 1.0) and entry.allow == {"empty": "why"}


def test_builtin_catalog_uses_orderings_ranges_and_allowances() -> None:
    registry = Registry.load(plugins=False)
    assert registry.entries["cosine_length"].orderings
    assert registry.entries["math_equivalence"].range == (0.0, 1.0)
    assert "answer" in registry.entries["overlong_penalty"].allow
    lenient = [c for c in registry.entries["math_equivalence"].golden if c.params.get("on_conflict") == "last"]
    assert lenient and all("answer" in c.allow for c in lenient)


@reward(cases=[{"completion": "x", "expected": 1.0}, {"name": "y", "completion": "y"},
               {"name": "z", "completion": "zz"}, {"order": "y > z"}])
def carries_cases(completion: str, *, bonus: float = 0.0) -> float:
    return 1.0 / len(completion) + bonus


def test_reward_decorator_carries_cases_through_params_and_pickling() -> None:
    assert isinstance(carries_cases.cases, CaseSet) and len(carries_cases.cases.cases) == 3
    configured = carries_cases.with_params(bonus=1.0)
    assert configured.cases == carries_cases.cases
    assert pickle.loads(pickle.dumps(configured)).cases == carries_cases.cases


def test_reward_decorator_rejects_bad_cases_when_the_module_is_imported() -> None:
    with pytest.raises(RewardError, match="reward 'broken': case 1: an ok golden case needs"):
        @reward(cases=[{"completion": "x", "expected": 1.0}, {"completion": "y"}])
        def broken(completion: str) -> float:
            return 1.0
