"""The supervised warm start: teacher-forced cross-entropy on gold completions, before any RL.

This is the R1 recipe's cold start in miniature: a few hundred demonstrations teach the layout (tags,
an end token) so that GRPO's samples earn rewards from the first step. The loss covers completion tokens
only, the end token included, and goes through the fused kernels like everything else here.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, cast

import torch

from rewardforge.trainer.config import SFTConfig
from rewardforge.trainer.objective import completion_logprobs
from rewardforge.trainer.policy import Policy
from rewardforge.trainer.rollout import build_rollout


def warm_start(policy: Policy, rows: list[dict[str, Any]], config: SFTConfig, seed: int,
               on_epoch: Callable[[int, float], None] | None = None) -> list[float]:
    """Train on ``config.examples`` rows (drawn with the run's seed) for ``config.epochs``; epoch mean losses."""
    draw = random.Random(seed)
    chosen = draw.sample(rows, config.examples) if config.examples <= len(rows) else draw.choices(rows,
                                                                                                  k=config.examples)
    end = int(policy.tokenizer.eos_token_id)
    encoded = [(policy.prompt_ids(row["prompt"]),
                [*list(policy.tokenizer(str(row["completion"]), add_special_tokens=False)["input_ids"]), end])
               for row in chosen]
    optimizer = torch.optim.AdamW(policy.trainable(), lr=config.lr, weight_decay=0.0)
    policy.model.train()
    losses = []
    for epoch in range(config.epochs):
        draw.shuffle(encoded)
        total, batches = 0.0, 0
        for start in range(0, len(encoded), config.batch_size):
            part = encoded[start: start + config.batch_size]
            batch = build_rollout(policy, [p for p, _ in part], [c for _, c in part], repeats=1)
            logp = cast(torch.Tensor, completion_logprobs(policy, batch))
            mask = batch.completion_mask
            loss = -(logp * mask).sum() / mask.sum().clamp(min=1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
            batches += 1
        losses.append(total / max(batches, 1))
        if on_epoch is not None:
            on_epoch(epoch, losses[-1])
    optimizer.zero_grad(set_to_none=True)
    return losses
