"""Tiny configs for trainer tests (a few seconds per run) and a reward that fails on some samples."""

from __future__ import annotations

from typing import Any

from rewardforge import Score, reward
from rewardforge.trainer import TrainConfig
from rewardforge.trainer.config import merge

ARITHMETIC = {"task": "arithmetic", "params": {"low": 0, "high": 4, "ops": ["+"]}}


def tiny_dict(**changes: Any) -> dict[str, Any]:
    """Three steps of 2 prompts x 4 completions on a 1-layer, 16-wide model; ``changes`` merge in."""
    base: dict[str, Any] = {
        "seed": 3, "threads": 1, "steps": 3, "prompts_per_step": 2, "micro_batch_size": 3,
        "model": {"tiny": {"alphabet": "0123456789+=", "special_tokens": ["<answer>", "</answer>"],
                           "hidden_size": 16, "intermediate_size": 32, "layers": 1, "heads": 2, "max_length": 24}},
        "data": ARITHMETIC,
        "reward": {"name": "toy", "type": "weighted_sum", "components": [
            {"reward": "math_equivalence", "name": "accuracy"},
            {"reward": "tag_format", "name": "format", "weight": 0.2, "params": {"tags": ["answer"]}}]},
        "rollout": {"group_size": 4, "max_new_tokens": 6},
        "optim": {"lr": 1e-2},
        "eval": {"data": {**ARITHMETIC, "split": "heldout"}, "reward": "math_equivalence", "size": 4},
        "output": {"plot_every": 2, "checkpoint_every": 1, "save_model": False},
    }
    return merge(base, changes)


def tiny_config(**changes: Any) -> TrainConfig:
    return TrainConfig.model_validate(tiny_dict(**changes))


@reward(isolation="inline")
def flaky(completion: str) -> float | Score:
    """Errors on completions of odd length, skips empty ones, else 1.0 for an answer tag."""
    if not completion:
        return Score.skipped("empty completion")
    if len(completion) % 2:
        raise ValueError(f"cannot judge odd-length {completion!r}")
    return float("<answer>" in completion)


@reward(isolation="inline")
def digit_share(completion: str) -> float:
    """The share of digits: spread out over a random model's samples, so every group carries a signal."""
    return sum(ch.isdigit() for ch in completion) / len(completion) if completion else 0.0
