"""Held-out accuracy: greedy completions for prompts the policy never trained on, scored through the engine.

A completion is correct when its verdict is ``ok`` with a value of at least ``eval.threshold``. Skipped
and errored verdicts are not correct, and are counted in the result rather than hidden.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from rewardforge.core.engine import score
from rewardforge.core.types import Reward
from rewardforge.trainer.config import EvalConfig
from rewardforge.trainer.policy import Policy
from rewardforge.trainer.rollout import RolloutBackend
from rewardforge.trainer.scoring import samples_for


@dataclass
class EvalResult:
    step: int
    stage: str  # "before GRPO", "step N", "final"
    accuracy: float
    reward_mean: float | None
    n: int
    statuses: dict[str, int]
    examples: list[dict[str, Any]] = field(default_factory=list)  # a few (prompt, completion, correct)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(policy: Policy, backend: RolloutBackend, rows: list[dict[str, Any]], reward: Reward,
             config: EvalConfig, timeout: float | None, *, step: int, stage: str) -> EvalResult:
    rows = rows[: config.size]
    texts: list[str] = []
    for start in range(0, len(rows), config.batch_size):
        chunk = rows[start: start + config.batch_size]
        rollout = backend.generate(policy, [policy.prompt_ids(row["prompt"]) for row in chunk], 1, greedy=True)
        texts.extend(rollout.texts)
    verdicts = score(reward, samples_for(rows, texts, 1, 0), timeout=timeout, step=step)
    correct = [v.ok and v.value is not None and v.value >= config.threshold for v in verdicts]
    values = [v.value for v in verdicts if v.value is not None]
    examples = [{"prompt": row["prompt"], "completion": text, "correct": ok}
                for row, text, ok in list(zip(rows, texts, correct, strict=True))[:3]]
    return EvalResult(step, stage, sum(correct) / len(rows), sum(values) / len(values) if values else None, len(rows),
                      dict(Counter(v.status for v in verdicts)), examples)
