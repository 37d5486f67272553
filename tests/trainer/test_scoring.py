"""The status policy for rewards that do not come back ok, and scoring off the training thread."""

from __future__ import annotations

import math
import threading

import pytest

from rewardforge import Sample, Score, reward
from rewardforge.trainer.config import ScoringConfig
from rewardforge.trainer.errors import RewardFailure
from rewardforge.trainer.scoring import Scorer, apply_policy

VERDICTS = [
    Score.of(1.0, components={"acc": 1.0, "fmt": 0.5}),
    Score.skipped("no reference", components={"fmt": 1.0}),
    Score.error("judge down"),
    Score.of(0.25, components={"acc": 0.0, "fmt": None}),
]


def test_drop_leaves_the_sample_out_and_counts_it() -> None:
    scored = apply_policy(VERDICTS, ScoringConfig(on_skipped="drop", on_error="drop", max_dropped_frac=0.5))
    assert scored.rewards[0] == 1.0 and math.isnan(scored.rewards[1]) and math.isnan(scored.rewards[2])
    assert scored.kept.tolist() == [True, False, False, True]
    assert scored.dropped == 2 and scored.statuses == {"ok": 2, "skipped": 1, "error": 1}
    assert scored.reasons == ["skipped: no reference", "error: judge down"]
    assert scored.components == {"acc": [1.0, None, None, 0.0], "fmt": [0.5, 1.0, None, None]}


def test_zero_counts_as_zero_and_fail_stops() -> None:
    scored = apply_policy(VERDICTS, ScoringConfig(on_skipped="zero", on_error="zero"))
    assert scored.rewards.tolist() == [1.0, 0.0, 0.0, 0.25] and scored.dropped == 0
    with pytest.raises(RewardFailure, match="judge down"):
        apply_policy(VERDICTS, ScoringConfig(on_skipped="zero", on_error="fail"))


def test_too_many_dropped_means_the_reward_is_broken() -> None:
    with pytest.raises(RewardFailure, match="2 of 4 samples were dropped"):
        apply_policy(VERDICTS, ScoringConfig(on_skipped="drop", on_error="drop", max_dropped_frac=0.4))


gate = threading.Event()


@reward(isolation="inline")
def waits_for_the_gate(completion: str) -> float:
    gate.wait(10)
    return 1.0


def test_scoring_runs_while_the_caller_keeps_working() -> None:
    scorer = Scorer(waits_for_the_gate, ScoringConfig())
    try:
        pending = scorer.submit([Sample(completion="a"), Sample(completion="b")], step=0)
        assert not pending.done()  # the caller is free: in the trainer, computing log-probs
        gate.set()
        assert pending.result(timeout=10).rewards.tolist() == [1.0, 1.0]
    finally:
        scorer.close()
