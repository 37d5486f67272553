"""Rewards for a rollout, through the engine (``rf.score``), on a helper thread so the policy keeps working.

Every verdict that is not ``ok`` meets the configured policy (``drop``, ``zero`` or ``fail``) and is
counted; every component's value is kept. A batch with more than ``max_dropped_frac`` of its samples
dropped stops the run: a reward that is broken should not quietly train on what is left.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import torch

from rewardforge.core.engine import score
from rewardforge.core.registry import resolve
from rewardforge.core.stack import parse_stack
from rewardforge.core.types import Reward, RewardError, Sample, Score
from rewardforge.trainer.config import ScoringConfig
from rewardforge.trainer.errors import ConfigError, RewardFailure


def build_reward(spec: str | dict[str, Any], where: str = "reward") -> Reward:
    """The reward a config names: a registry name, ``pkg.module:attr``, a stack YAML path, an inline stack,
    or one reward with params (``{reward: regex_match, params: {pattern: ...}}``)."""
    try:
        if isinstance(spec, str):
            return resolve(spec)
        if "type" not in spec and "reward" in spec:
            unknown = set(spec) - {"reward", "params"}
            if unknown:
                raise RewardError(f"a single reward takes 'reward' and 'params', not {', '.join(sorted(unknown))}")
            return resolve(spec["reward"], spec.get("params"))
        return parse_stack(spec, origin=where)
    except (RewardError, ValueError, ImportError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


@dataclass
class Scored:
    rewards: torch.Tensor  # [N] float64; NaN where the sample was dropped
    components: dict[str, list[float | None]]
    statuses: Counter[str]  # ok / skipped / error counts
    dropped: int
    seconds: float
    reasons: list[str] = field(default_factory=list)  # the first few reasons for a non-ok verdict
    status_of: list[str] = field(default_factory=list)  # each sample's verdict status, for rollouts.jsonl
    reason_of: list[str | None] = field(default_factory=list)  # and its reason

    @property
    def kept(self) -> torch.Tensor:
        return ~torch.isnan(self.rewards)

    def rows(self, index: torch.Tensor) -> Scored:
        chosen = index.tolist()
        return Scored(self.rewards[index], {name: [values[i] for i in chosen] for name, values in self.components.items()},
                      self.statuses, self.dropped, self.seconds, self.reasons,
                      [self.status_of[i] for i in chosen] if self.status_of else [],
                      [self.reason_of[i] for i in chosen] if self.reason_of else [])

    @staticmethod
    def concat(parts: list[Scored]) -> Scored:
        names = list(dict.fromkeys(name for part in parts for name in part.components))
        components = {name: [v for part in parts for v in part.components.get(name, [None] * len(part.rewards))]
                      for name in names}
        return Scored(torch.cat([part.rewards for part in parts]), components,
                      sum((part.statuses for part in parts), Counter()), sum(part.dropped for part in parts),
                      sum(part.seconds for part in parts), [r for part in parts for r in part.reasons][:5],
                      [s for part in parts for s in part.status_of], [r for part in parts for r in part.reason_of])


def apply_policy(verdicts: list[Score], config: ScoringConfig, seconds: float = 0.0) -> Scored:
    """Rewards (NaN = dropped) and components from verdicts, under the configured status policy."""
    values: list[float] = []
    statuses: Counter[str] = Counter()
    reasons: list[str] = []
    dropped = 0
    for verdict in verdicts:
        statuses[verdict.status] += 1
        if verdict.ok:
            assert verdict.value is not None
            values.append(verdict.value)
            continue
        if len(reasons) < 5:
            reasons.append(f"{verdict.status}: {verdict.reason}")
        policy = config.on_skipped if verdict.status == "skipped" else config.on_error
        if policy == "fail":
            raise RewardFailure(f"a reward came back {verdict.status} ({verdict.reason}) and "
                                f"scoring.on_{verdict.status} is 'fail'")
        dropped += policy == "drop"
        values.append(math.nan if policy == "drop" else 0.0)
    if verdicts and dropped / len(verdicts) > config.max_dropped_frac:
        raise RewardFailure(f"{dropped} of {len(verdicts)} samples were dropped (more than "
                            f"scoring.max_dropped_frac={config.max_dropped_frac}); first reasons: "
                            + "; ".join(reasons))
    names = list(dict.fromkeys(name for verdict in verdicts for name in verdict.components))
    components = {name: [verdict.components.get(name) for verdict in verdicts] for name in names}
    return Scored(torch.tensor(values, dtype=torch.float64), components, statuses, dropped, seconds, reasons,
                  [verdict.status for verdict in verdicts], [verdict.reason for verdict in verdicts])


class Scorer:
    """Submits scoring to one helper thread; the engine's workers do the rest in parallel."""

    def __init__(self, reward: Reward, config: ScoringConfig) -> None:
        self.reward = reward
        self.config = config
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rewardforge-scoring")

    def submit(self, samples: list[Sample], step: int) -> Future[Scored]:
        return self._pool.submit(self._score, samples, step)

    def _score(self, samples: list[Sample], step: int) -> Scored:
        start = time.perf_counter()
        verdicts = score(self.reward, samples, timeout=self.config.timeout, step=step)
        return apply_policy(verdicts, self.config, time.perf_counter() - start)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def samples_for(rows: list[dict[str, Any]], texts: list[str], repeats: int, first_group: int) -> list[Sample]:
    """One Sample per completion; the group id ties a prompt's G completions together for group rewards."""
    return [Sample(prompt=rows[i // repeats]["prompt"], completion=text, reference=rows[i // repeats]["reference"],
                   metadata=rows[i // repeats]["metadata"], group_id=first_group + i // repeats)
            for i, text in enumerate(texts)]
