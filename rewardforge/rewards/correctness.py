"""Where a correctness-aware shaping reward (Kimi length, cosine length) learns whether a sample is right.

Two sources, so shaping composes with any verifier without re-running it by hand:
- another reward, named by registry name / `module:attr` / Reward object (`correctness_reward`); it is
  scored on the same batch through the engine (dedup, cache, killable workers), and a value
  >= `threshold` counts as correct;
- otherwise `sample.metadata[key]`: a bool, or a number compared with `threshold` (e.g. the trainer
  already computed the accuracy reward).
A sample whose correctness is unknown gets a `skipped` Score saying why, never a guess.
"""

from collections.abc import Sequence
from typing import Any

from rewardforge.core.types import Reward, RewardContext, Sample, Score, run_sync


def _judge(value: Any, threshold: float, where: str) -> bool | Score:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value) >= threshold
    return Score.error(f"{where} must be a bool or a number, got {type(value).__name__}")


def correctness(
    samples: Sequence[Sample],
    context: RewardContext,
    *,
    key: str,
    correctness_reward: Reward | str | None,
    correctness_params: dict[str, Any],
    threshold: float,
) -> list[bool | Score]:
    """Per sample: True/False, or the non-ok Score explaining why correctness is unknown."""
    if correctness_reward is not None:
        from rewardforge.core.engine import run_reward
        from rewardforge.core.registry import resolve

        judge = resolve(correctness_reward, correctness_params)
        scores: list[Score] = run_sync(run_reward(judge, list(samples), context))
        results: list[bool | Score] = []
        for score in scores:
            if score.ok and score.value is not None:
                results.append(score.value >= threshold)
            else:
                reason = f"correctness from {judge.name}: {score.reason}"
                results.append(Score.error(reason) if score.status == "error" else Score.skipped(reason))
        return results
    results = []
    for sample in samples:
        if key not in sample.metadata:
            results.append(Score.skipped(
                f"correctness unknown: set metadata[{key!r}] or the correctness_reward param"
            ))
        else:
            results.append(_judge(sample.metadata[key], threshold, f"metadata[{key!r}]"))
    return results
