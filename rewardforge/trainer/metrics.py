"""One line of ``metrics.jsonl`` per step, with exactly these fields (components after ``reward/std``):

``step``, ``reward/mean``, ``reward/std``, ``reward/<component>/mean``, ``completion_length/mean``,
``completion_length/max``, ``truncated_frac``, ``kl``, ``clip_frac/low``, ``clip_frac/high``, ``entropy``,
``frac_zero_std``, ``loss``, ``lr``, ``step_time_s``, ``reward_time_s``.

Reward, length, entropy and zero-std statistics cover every completion sampled in the step (refills
included); rewards over the samples the scoring policy kept. ``kl`` is null without a reference model
(beta = 0). Loss, clip fractions and KL are averaged over the step's ``mu`` optimisation passes,
token-weighted across micro-batches. Lengths count tokens up to and including the end token.
``step_time_s`` runs from sampling to the last optimizer step (not plots, evals, checkpoints);
``reward_time_s`` is the scoring thread's time, which overlaps the log-prob pass.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from rewardforge.kernels import GRPOLossOutput
from rewardforge.trainer.batch import Batch

FIELDS = ("step", "reward/mean", "reward/std", "completion_length/mean", "completion_length/max", "truncated_frac",
          "kl", "clip_frac/low", "clip_frac/high", "entropy", "frac_zero_std", "loss", "lr", "step_time_s",
          "reward_time_s")


class UpdateTotals:
    """Sums over the micro-batches and passes of one step, turned into means at the end."""

    def __init__(self) -> None:
        self.loss = 0.0
        self.passes = 0
        self.tokens = 0.0
        self.sums = {"clip_low": 0.0, "clip_high": 0.0, "kl": 0.0}
        self.has_kl = False

    def add(self, out: GRPOLossOutput, share: float, tokens: int) -> None:
        self.loss += float(out.loss.detach()) * share
        metrics = out.metrics
        self.sums["clip_low"] += float(metrics.clip_low) * tokens
        self.sums["clip_high"] += float(metrics.clip_high) * tokens
        if metrics.kl is not None:
            self.has_kl = True
            self.sums["kl"] += float(metrics.kl) * tokens
        self.tokens += tokens

    def end_pass(self) -> None:
        self.passes += 1

    def mean(self, name: str) -> float:
        return self.sums[name] / self.tokens if self.tokens else 0.0


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _std(values: list[float]) -> float | None:
    """Unbiased, as the advantages use; 0 for one value, None for none."""
    if len(values) < 2:
        return 0.0 if values else None
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def step_metrics(step: int, seen: Batch, totals: UpdateTotals, lr: float, step_time: float) -> dict[str, Any]:
    rewards = seen.scored.rewards[seen.scored.kept].tolist()
    lengths = seen.rollout.lengths.float()
    mask = seen.rollout.completion_mask
    row: dict[str, Any] = {"step": step, "reward/mean": _mean(rewards), "reward/std": _std(rewards)}
    for name, values in seen.scored.components.items():
        row[f"reward/{name}/mean"] = _mean([v for v in values if v is not None])
    row.update({
        "completion_length/mean": float(lengths.mean()),
        "completion_length/max": int(lengths.max()),
        "truncated_frac": float(seen.rollout.truncated.float().mean()),
        "kl": totals.mean("kl") if totals.has_kl else None,
        "clip_frac/low": totals.mean("clip_low"),
        "clip_frac/high": totals.mean("clip_high"),
        "entropy": float((seen.entropy * mask).sum() / mask.sum().clamp(min=1)),
        "frac_zero_std": float(seen.zero_std.float().mean()),
        "loss": totals.loss / max(totals.passes, 1),
        "lr": lr,
        "step_time_s": step_time,
        "reward_time_s": seen.scored.seconds,
    })
    return row


class MetricsLog:
    """``metrics.jsonl``, appended a line per step; on resume, lines past the checkpoint are dropped."""

    def __init__(self, path: Path, keep_through: int | None = None) -> None:
        self.path = path
        self.rows: list[dict[str, Any]] = []
        if keep_through is not None and path.exists():
            self.rows = [row for row in map(orjson.loads, path.read_bytes().splitlines())
                         if row["step"] <= keep_through]
        path.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in self.rows))

    def append(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        with self.path.open("ab") as handle:
            handle.write(orjson.dumps(row) + b"\n")


class RolloutLog:
    """``rollouts.jsonl``: every completion sampled in a logged step, one line each, refills included.

    A line is a ``rewardforge score`` output line (``prompt``, ``reference``, ``completion``, ``reward``,
    ``status``, ``reason``, ``components``) plus ``step``, ``round`` (the dynamic-sampling round), ``group``
    (the prompt's index in the round), ``advantage``, ``length`` (tokens) and ``truncated``. So the
    completions a model actually wrote can be read, or scored again with another reward design:
    ``rewardforge score -r other.yaml -i DIR/rollouts.jsonl -o rescored.jsonl``. ``reward`` is null for
    a sample the scoring policy dropped. On resume, lines past the checkpoint are dropped.
    """

    def __init__(self, path: Path, keep_through: int) -> None:
        self.path = path
        partial = path.with_name(f".{path.name}.partial")
        with partial.open("wb") as kept:
            if path.exists():
                with path.open("rb") as lines:
                    kept.writelines(line for line in lines if orjson.loads(line)["step"] <= keep_through)
        os.replace(partial, path)

    def append(self, step: int, round_: int, rows: Sequence[dict[str, Any]], batch: Batch) -> None:
        scored, rollout, group = batch.scored, batch.rollout, batch.group_size
        rewards, advantages = scored.rewards.tolist(), batch.advantages.tolist()
        lengths, truncated = rollout.lengths.tolist(), rollout.truncated.tolist()
        lines = []
        for i, completion in enumerate(rollout.texts):
            row = rows[i // group]
            lines.append(orjson.dumps({
                "prompt": row["prompt"], "reference": row["reference"], "completion": completion,
                "reward": None if math.isnan(rewards[i]) else rewards[i],
                "status": scored.status_of[i], "reason": scored.reason_of[i],
                "components": {name: values[i] for name, values in scored.components.items()},
                "step": step, "round": round_, "group": i // group, "advantage": advantages[i],
                "length": lengths[i], "truncated": truncated[i],
            }, default=str) + b"\n")
        with self.path.open("ab") as handle:
            handle.writelines(lines)
