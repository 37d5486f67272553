from __future__ import annotations

import asyncio
import time
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
    with pytest.raises(ValueError, match="named 'length_ratio'"):
        rf.weighted_sum(length_ratio, length_ratio)


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
