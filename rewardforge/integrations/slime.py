"""slime: any rewardforge reward as `--custom-rm-path`, per sample or per group (`--group-rm`).

```bash
REWARDFORGE_REWARD=math_equivalence python train.py ... \
    --custom-rm-path rewardforge.integrations.slime.rm            # async rm(args, sample, **kwargs)
    # with --group-rm:  --custom-rm-path rewardforge.integrations.slime.group_rm
```

or, in your own module, `rm = to_slime("stack.yaml")` / `group_rm = to_slime("stack.yaml", group=True)`.

slime's `Sample` gives `prompt`, `response`, `label` (the reference), `metadata` and `group_index`.
The reward is a float; skipped and errored samples score `on_skipped` / `on_error` (0.0 by
default, or "raise"). With `--reward-key KEY`, slime reads `sample.reward[KEY]`, and the adapter
returns a dict: the value under KEY, each component, and `rf_ok` / `rf_skipped` / `rf_error`, so
the statuses travel with every sample. Without it, the first non-ok sample of a reward is
logged as a warning. The conversion (`to_sample`) also takes slime's remote-reward payload
`{"prompt", "response", "label"}`, for the HTTP reward server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from rewardforge.core.engine import CacheSetting
from rewardforge.core.types import Sample, Score
from rewardforge.integrations.common import (
    BoundReward,
    RewardSpec,
    StatusPolicy,
    check_component_names,
    is_plain,
    plain,
    prompt_value,
    reward_from_env,
    sample_record,
)

logger = logging.getLogger("rewardforge.integrations.slime")


def to_sample(sample: Any) -> Sample:
    """A slime `Sample` (or its remote-reward payload, a mapping) as a rewardforge Sample."""
    get = sample.get if isinstance(sample, Mapping) else lambda key, default=None: getattr(sample, key, default)
    metadata = get("metadata")
    metadata = {k: v for k, v in plain(metadata).items() if is_plain(v)} if isinstance(metadata, Mapping) else {}
    group = get("group_index")
    return Sample(prompt=prompt_value(get("prompt", "")), completion=str(get("response", "") or ""),
                  reference=plain(get("label")), metadata=metadata,
                  group_id=group if isinstance(group, int | str) else None)


def to_reward(score: Score, value: float, components: Sequence[str], reward_key: str | None) -> float | dict[str, float]:
    """slime's reward: the value, or with `--reward-key` a dict holding it under that key."""
    if not reward_key:
        return value
    record = sample_record(score, value, components)
    record[reward_key] = record.pop("score")
    return record


class SlimeReward:
    """`async rm(args, sample, **kwargs)` for `--custom-rm-path`; `group=True` takes and returns lists."""

    def __init__(self, reward: RewardSpec | BoundReward, *, group: bool = False,
                 params: Mapping[str, Any] | None = None, on_skipped: Any = 0.0, on_error: Any = 0.0,
                 timeout: float | None = None, cache: CacheSetting = None) -> None:
        self.bound = reward if isinstance(reward, BoundReward) else BoundReward(
            reward, params=params, timeout=timeout, cache=cache)
        self.group = group
        self.policy = StatusPolicy.make(on_skipped, on_error, allow_none=False, trainer="slime")
        self.components = self.bound.component_names()
        check_component_names(self.components)
        self.__name__ = self.bound.name
        self._warned = False

    async def __call__(self, args: Any, sample: Any, **kwargs: Any) -> Any:
        samples = list(sample) if self.group else [sample]
        scores = await self.bound.ascore([to_sample(s) for s in samples])
        values = self.policy.values(scores, reward_name=self.bound.name)
        bad = [s for s in scores if not s.ok]
        reward_key = getattr(args, "reward_key", None)
        if bad and not reward_key and not self._warned:
            self._warned = True
            logger.warning("reward %r: a sample was %s (%s) and scores %s; pass --reward-key score to get "
                           "rf_skipped / rf_error with every sample", self.bound.name, bad[0].status,
                           bad[0].reason, values[scores.index(bad[0])])
        rewards = [to_reward(s, v if v is not None else 0.0, self.components, reward_key)
                   for s, v in zip(scores, values, strict=True)]
        return rewards if self.group else rewards[0]

    def __repr__(self) -> str:
        return f"<SlimeReward {self.bound.name}{' group' if self.group else ''}>"


def to_slime(reward: RewardSpec, *, group: bool = False, params: Mapping[str, Any] | None = None,
             on_skipped: Any = 0.0, on_error: Any = 0.0, timeout: float | None = None,
             cache: CacheSetting = None) -> SlimeReward:
    """A slime reward model scoring with `reward`; assign it at module level and pass its path."""
    return SlimeReward(reward, group=group, params=params, on_skipped=on_skipped, on_error=on_error,
                       timeout=timeout, cache=cache)


_from_env: dict[bool, SlimeReward] = {}


def _env_reward(group: bool) -> SlimeReward:
    if group not in _from_env:
        _from_env[group] = SlimeReward(reward_from_env("slime custom rm"), group=group)
    return _from_env[group]


async def rm(args: Any, sample: Any, **kwargs: Any) -> Any:
    """`--custom-rm-path rewardforge.integrations.slime.rm`: the reward named by $REWARDFORGE_REWARD."""
    reward = await asyncio.to_thread(_env_reward, False)  # resolving the first time reads files
    return await reward(args, sample, **kwargs)


async def group_rm(args: Any, samples: Sequence[Any], **kwargs: Any) -> Any:
    """`--group-rm --custom-rm-path rewardforge.integrations.slime.group_rm`: one call per group."""
    reward = await asyncio.to_thread(_env_reward, True)
    return await reward(args, samples, **kwargs)
