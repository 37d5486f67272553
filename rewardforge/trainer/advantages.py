"""Advantages from the rewards of G completions per prompt.

Rewards arrive as ``[N]`` with ``N = groups * G`` (each group's rows consecutive) and NaN for samples the
scoring policy dropped: those leave their group's statistics and get advantage 0. Standard deviations
are the unbiased (Bessel) ones, as in TRL. With ``m`` and ``s`` a group's mean and std:

| estimator  | advantage of completion i                                                          |
| ---------- | ---------------------------------------------------------------------------------- |
| `grpo`     | (r_i - m) / (s + eps)                                          (DeepSeekMath GRPO) |
| `dr_grpo`  | r_i - m                                         (Dr. GRPO: no std, no length bias) |
| `rloo`     | r_i - mean of the group's other rewards = (r_i - m) * n / (n - 1)            (RLOO) |
| `batch`    | (r_i - m) / (std of every reward in the batch + eps)   (batch-normalised scaling) |
| `max_only` | (r_i - m) / (s + eps) for the group's best completions, 0 for the rest: only the   |
|            | best answer is reinforced, nothing is pushed down (a pass@k-style objective)       |

A group whose kept rewards are all equal (or with fewer than two kept) carries no signal: it gets
zeros and is reported in ``zero_std``, which DAPO's dynamic sampling uses to drop and refill it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

ESTIMATORS = ("grpo", "dr_grpo", "rloo", "batch", "max_only")


@dataclass
class Advantages:
    values: torch.Tensor  # [N] float64 (the loss computes in its own working dtype)
    zero_std: torch.Tensor  # [groups] bool


def compute_advantages(rewards: torch.Tensor, group_size: int, estimator: str, eps: float = 1e-4) -> Advantages:
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator {estimator!r} is not one of {', '.join(ESTIMATORS)}")
    if rewards.dim() != 1 or rewards.numel() % group_size:
        raise ValueError(f"rewards must be [groups * {group_size}], got shape {tuple(rewards.shape)}")
    r = rewards.to(torch.float64).view(-1, group_size)
    kept = ~torch.isnan(r)
    r0 = torch.where(kept, r, 0.0)
    count = kept.sum(-1, keepdim=True)
    mean = r0.sum(-1, keepdim=True) / count.clamp(min=1)
    centred = torch.where(kept, r - mean, 0.0)
    std = (centred.pow(2).sum(-1, keepdim=True) / (count - 1).clamp(min=1)).sqrt()
    high = torch.where(kept, r, -torch.inf).amax(-1, keepdim=True)
    low = torch.where(kept, r, torch.inf).amin(-1, keepdim=True)
    zero_std = (count < 2) | (high == low)

    if estimator == "grpo":
        adv = centred / (std + eps)
    elif estimator == "dr_grpo":
        adv = centred
    elif estimator == "rloo":
        adv = centred * count / (count - 1).clamp(min=1)
    elif estimator == "batch":
        flat = r[kept]
        batch_std = flat.std() if flat.numel() > 1 else torch.zeros((), dtype=torch.float64)
        adv = centred / (batch_std + eps)
    else:  # max_only
        adv = torch.where(kept & (r == high), centred / (std + eps), 0.0)
    adv = torch.where(zero_std | ~kept, 0.0, adv)
    return Advantages(adv.reshape(-1), zero_std.squeeze(-1))
