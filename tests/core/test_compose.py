from __future__ import annotations

import asyncio
import inspect
import re
import time
import typing
from collections.abc import Sequence
from pathlib import Path

import pytest
from rf_test_rewards import boom, counting, rank_in_batch, skip_without_reference
from rf_test_support import count_calls

import rewardforge as rf
from rewardforge import BaseReward, RewardContext, Sample, Score


@rf.reward(isolation="inline")
def length_ratio(completion: str) -> float:
    return len(completion) / 10


def values(scores: list[Score]) -> list[float | None]:
    return [s.value for s in scores]


def test_weighted_sum_records_components() -> None:
    stack = rf.weighted_sum((rf.resolve("exact_match"), 1.0), (length_ratio, 0.5))
    [verdict] = rf.score(stack, [{"completion": "Paris", "reference": "Paris"}])
    assert verdict.value == pytest.approx(1.0 + 0.5 * 0.5)
    assert verdict.components == {"exact_match": 1.0, "length_ratio": 0.5}
    assert verdict.info["weights"] == {"exact_match": 1.0, "length_ratio": 0.5}


@pytest.mark.parametrize(
    ("policy", "expected_status", "expected_value"),
    [("renormalize", "ok", 0.5 * 3 / 1), ("drop", "ok", 0.5), ("zero", "ok", 0.5), ("propagate", "skipped", None)],
)
def test_skipped_component_policies(policy: str, expected_status: str, expected_value: float | None) -> None:
    stack = rf.WeightedSum([(skip_without_reference, 2.0), (length_ratio, 1.0)], on_skipped=policy)  # type: ignore[arg-type]
    [verdict] = rf.score(stack, [{"completion": "12345", "reference": None}])
    assert verdict.status == expected_status
    assert verdict.value == (pytest.approx(expected_value) if expected_value is not None else None)
    assert verdict.components["skip_without_reference"] is None


def test_error_component_propagates_by_default_and_names_it() -> None:
    stack = rf.weighted_sum(boom, length_ratio)
    [verdict] = rf.score(stack, [{"completion": "x"}])
    assert verdict.status == "error"
    assert "component 'boom' error" in (verdict.reason or "") and "cannot judge" in (verdict.reason or "")


def test_all_components_left_out_is_skipped_not_zero() -> None:
    stack = rf.weighted_sum(skip_without_reference)
    [verdict] = rf.score(stack, [{"completion": "x"}])
    assert verdict.status == "skipped"


def test_step_schedule_switches_a_penalty_on_and_skips_work_before(call_log: Path) -> None:
    tracked = counting.with_params(log=str(call_log))
    schedule = rf.StepSchedule(at=100, before=0.0, after=-1.0)
    stack = rf.weighted_sum((length_ratio, 1.0), rf.Component(tracked, schedule, name="penalty"))
    sample = {"completion": "abc", "reference": "abc"}
    [early] = rf.score(stack, [sample], step=10)
    assert early.value == pytest.approx(0.3) and "penalty" not in early.components
    assert count_calls(call_log) == 0
    [late] = rf.score(stack, [sample], step=100)
    assert late.value == pytest.approx(0.3 - 1.0) and late.components["penalty"] == 1.0


def test_linear_schedule() -> None:
    schedule = rf.LinearSchedule(start_step=0, end_step=10, start_value=0.0, end_value=1.0)
    assert [schedule(s) for s in (-5, 0, 5, 10, 20)] == [0.0, 0.0, 0.5, 1.0, 1.0]


def test_gate_scores_then_only_where_gate_passes(call_log: Path) -> None:
    fmt = rf.resolve("regex_match", {"pattern": r"<answer>.*</answer>"})
    tracked = counting.with_params(log=str(call_log))
    gated = rf.gate(fmt, tracked, threshold=1.0, otherwise=-0.5)
    verdicts = rf.score(gated, [
        {"completion": "<answer>4</answer>", "reference": "<answer>4</answer>"},
        {"completion": "4", "reference": "4"},
    ])
    assert values(verdicts) == [1.0, -0.5]
    assert verdicts[1].info["gate"] == "closed" and verdicts[1].components["counting"] is None
    assert count_calls(call_log) == 1


def test_min_max_product_drop_skipped() -> None:
    sample = [{"completion": "12345", "reference": "12345"}]
    parts = (length_ratio, rf.resolve("exact_match"), skip_without_reference)
    assert values(rf.score(rf.minimum(*parts), sample)) == [0.5]
    assert values(rf.score(rf.maximum(*parts), sample)) == [1.0]


def test_product_of_components() -> None:
    other = rf.Component(length_ratio, name="again")
    [verdict] = rf.score(rf.product(length_ratio, other), [{"completion": "12345"}])
    assert verdict.value == pytest.approx(0.25)


def test_duplicate_component_names_are_refused() -> None:
    with pytest.raises(ValueError, match="named 'length_ratio'") as info:
        rf.weighted_sum(length_ratio, length_ratio)
    assert isinstance(info.value, rf.UsageError)


def test_nested_composites_prefix_component_names() -> None:
    inner = rf.weighted_sum(length_ratio, name="inner")
    outer = rf.weighted_sum(inner, rf.resolve("exact_match"), name="outer")
    [verdict] = rf.score(outer, [{"completion": "12345", "reference": "12345"}])
    assert verdict.components["inner"] == 0.5 and verdict.components["inner.length_ratio"] == 0.5


def test_batched_component_keeps_batch_semantics_inside_a_composite() -> None:
    stack = rf.weighted_sum(rank_in_batch, length_ratio)
    assert stack.batched
    verdicts = rf.score(stack, [{"completion": "a"}, {"completion": "abc"}, {"completion": "a"}])
    assert [v.components["rank_in_batch"] for v in verdicts] == [0.0, 1.0, 0.0]


class SlowAsync(BaseReward):
    """An async reward that waits like a remote judge would."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def ascore(self, samples: Sequence[Sample], context: RewardContext | None = None) -> list[Score]:
        await asyncio.sleep(0.4)
        return [Score.of(1.0) for _ in samples]


def test_async_components_run_concurrently() -> None:
    stack = rf.weighted_sum(SlowAsync("a"), SlowAsync("b"), SlowAsync("c"))
    start = time.perf_counter()
    [verdict] = rf.score(stack, [{"completion": "x"}])
    assert verdict.value == 3.0
    assert time.perf_counter() - start < 1.0  # three 0.4 s judges, concurrently


# -- checked when built, not at the first sample (issue 16) ------------------------------------

@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: rf.weighted_sum((length_ratio, "heavy")),
         "weighted_sum: component 0 (length_ratio): weight 'heavy' is not a number or a schedule"),
        (lambda: rf.weighted_sum((length_ratio, float("nan"))), "weight nan is not a finite number"),
        (lambda: rf.weighted_sum((length_ratio, True)), "weight True is not a number"),
        (lambda: rf.weighted_sum((length_ratio, rf.StepSchedule(at=1, after=float("nan")))), "finite number"),
        (lambda: rf.LinearSchedule(start_step=10, end_step=5), "end_step (5) must come after start_step (10)"),
        (lambda: rf.weighted_sum((length_ratio, 1.0, "a", "b")), "(reward, weight) or (reward, weight, name), got 4"),
        (lambda: rf.weighted_sum((length_ratio, 1.0, "")), "a component name must be a non-empty string"),
        (lambda: rf.weighted_sum(length_ratio, on_skipped="renormalise"),  # type: ignore[arg-type]
         "on_skipped 'renormalise' is not one of renormalize, drop, zero, propagate (did you mean 'renormalize'?)"),
        (lambda: rf.minimum(length_ratio, on_error="zero"), "on_error 'zero' is not one of drop, propagate"),  # type: ignore[arg-type]
        (lambda: rf.gate(length_ratio, "exact_match", threshold=float("inf")), "threshold must be a finite number"),
        (lambda: rf.weighted_sum(len), "'len' is a plain function, not a Reward; decorate it with @rf.reward"),  # type: ignore[arg-type]
        (lambda: rf.weighted_sum(42), "42 is not a reward"),  # type: ignore[arg-type]
        (lambda: rf.weighted_sum(), "a composite needs at least one component"),
    ],
    ids=["string-weight", "nan-weight", "bool-weight", "nan-in-schedule", "schedule-backwards", "long-tuple",
         "empty-name", "unknown-policy", "aggregate-policy", "infinite-threshold", "plain-function", "not-a-reward",
         "no-components"],
)
def test_bad_composites_are_refused_when_built_with_a_message_naming_the_part(build: object, message: str) -> None:
    with pytest.raises((rf.UsageError, ValueError), match=re.escape(message)):
        build()  # type: ignore[operator]


def test_registry_names_work_wherever_a_reward_does() -> None:
    strict = rf.resolve("exact_match", {"case_sensitive": True})
    stack = rf.weighted_sum("exact_match", (strict, 0.5, "strict"))
    [verdict] = rf.score(stack, [{"completion": "paris", "reference": "Paris"}])
    assert verdict.components == {"exact_match": 1.0, "strict": 0.0} and verdict.value == 1.0
    gated = rf.gate("exact_match", length_ratio, otherwise=-1.0)
    assert [v.value for v in rf.score(gated, [{"completion": "12345", "reference": "12345"},
                                               {"completion": "1", "reference": "2"}])] == [0.5, -1.0]
    with pytest.raises(rf.RewardError, match=r"weighted_sum: component 1 \(exact_mach\): unknown reward "
                                             r"'exact_mach' \(did you mean 'exact_match'\?\)"):
        rf.weighted_sum("tag_format", ("exact_mach", 1.0))


def test_a_three_tuple_names_its_component() -> None:
    stack = rf.weighted_sum((length_ratio, 0.2, "format"), (rf.resolve("exact_match"), 1.0, "answer"))
    [verdict] = rf.score(stack, [{"completion": "12345", "reference": "12345"}])
    assert verdict.components == {"format": 0.5, "answer": 1.0}
    assert verdict.value == pytest.approx(0.2 * 0.5 + 1.0)


def test_every_compose_helper_is_typed_and_documented() -> None:
    for helper in (rf.weighted_sum, rf.gate, rf.minimum, rf.maximum, rf.product):
        doc = helper.__doc__ or ""
        assert "Args:" in doc and "Returns:" in doc and "Raises:" in doc and ">>>" in doc, helper.__name__
        hints = typing.get_type_hints(helper)
        assert "return" in hints and all(name in hints for name in inspect.signature(helper).parameters)
