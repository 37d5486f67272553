"""Module-level rewards used by the foundation tests; importable by worker processes."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from pathlib import Path

from rewardforge import BaseReward, RewardContext, Sample, Score, reward


@reward
def sleepy(completion: str, *, seconds: float = 0.0) -> float:
    """Sleeps `seconds`, or for ever when the completion says 'hang'."""
    time.sleep(3600 if completion == "hang" else seconds)
    return 1.0


@reward
def crashy(completion: str) -> float:
    if completion == "crash":
        os._exit(7)
    return 0.5


@reward(isolation="inline")
def counting(completion: str, reference: str | None, *, log: str = "") -> float:
    """Appends one line per call to `log`, so tests can count real evaluations."""
    with Path(log).open("a") as handle:
        handle.write(completion + "\n")
    return float(completion == reference)


@reward
def boom(completion: str) -> float:
    raise ValueError(f"cannot judge {completion!r}")


@reward(batched=True, isolation="inline")
def rank_in_batch(samples: list[Sample]) -> list[float]:
    """Batch-relative: 1.0 for the longest completion of the batch, 0.0 for others."""
    longest = max(len(s.completion_text) for s in samples)
    return [float(len(s.completion_text) == longest) for s in samples]


@reward(isolation="inline")
def skip_without_reference(completion: str, reference: str | None) -> float | Score:
    if reference is None:
        return Score.skipped("no reference")
    return float(completion == reference)


class PatternCount(BaseReward):
    """A reward class with no params model, as plugins write them: its CLI params are read as YAML."""

    name = "pattern_count"

    def __init__(self, pattern: object) -> None:
        if not isinstance(pattern, str):
            raise ValueError(f"pattern must be text, got {pattern!r}")
        self.pattern = re.compile(pattern)

    def score(self, samples: Sequence[Sample], context: RewardContext | None = None) -> list[Score]:
        return [Score.of(len(self.pattern.findall(s.completion_text))) for s in samples]
