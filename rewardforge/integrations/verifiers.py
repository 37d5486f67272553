"""Prime Intellect's `verifiers` (>= 0.4): any rewardforge reward as a plugged task reward.

```python
# my_rewards.py
from rewardforge.integrations import reward_fn
correct = reward_fn("math_equivalence")
```
```python
TaskConfig(rewards={"correct": RewardFunctionConfig(fn="my_rewards:correct")})
```

verifiers calls `await fn(task=, trace=)` (and `runtime=` when it has one) and records the number
as a weighted reward on the trace. The adapter judges `trace.last_reply` (the root agent's reply,
or the last assistant message), takes the reference from the task data's `answer` field (or
`reference_column=` / `field_map=`) and the other plain task fields as metadata.

verifiers sums every reward on a trace, so a composed stack returns its total as one reward, and
its components go to `trace.metrics` as `<name>/<component>`, where they are logged without
being added again. `trace.metrics` also gets `<name>/skipped` and `<name>/error` (0 or 1) for every
trace, and a non-ok Score's reason goes to `trace.info["rewardforge"]`. Skipped and errored samples
score `on_skipped` / `on_error`: 0.0 by default, or "raise", which verifiers records as a task
error on the trace. Nothing is imported from verifiers: the adapter reads the task and trace it is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rewardforge.core.engine import CacheSetting
from rewardforge.core.types import Sample, Score
from rewardforge.integrations.common import (
    BoundReward,
    FieldMap,
    RewardSpec,
    StatusPolicy,
    make_sample,
    plain,
)


class VerifiersReward:
    """`async (task, trace, runtime=None) -> float`, a reward verifiers can plug by import path."""

    def __init__(self, reward: RewardSpec | BoundReward, *, reference_column: str | None = "answer",
                 field_map: Mapping[str, Any] | None = None, on_skipped: Any = 0.0, on_error: Any = 0.0,
                 params: Mapping[str, Any] | None = None, timeout: float | None = None,
                 cache: CacheSetting = None, name: str | None = None) -> None:
        self.bound = reward if isinstance(reward, BoundReward) else BoundReward(
            reward, params=params, timeout=timeout, cache=cache)
        self.fields = FieldMap.make(reference_column, field_map)
        self.policy = StatusPolicy.make(on_skipped, on_error, allow_none=False, trainer="verifiers")
        self.__name__ = name or self.bound.name
        self.components = self.bound.component_names()

    def sample(self, task: Any, trace: Any) -> Sample:
        """The Sample for one trace: its last reply, judged against the task's data."""
        data = task.model_dump(mode="json") if hasattr(task, "model_dump") else plain(dict(task or {}))
        prompt = data.pop("prompt", "") or ""
        return make_sample(prompt, str(getattr(trace, "last_reply", "") or ""), data, self.fields)

    def record(self, trace: Any, score: Score) -> None:
        """Status and components into the trace's metrics (logged by verifiers, never summed)."""
        record_metric = getattr(trace, "record_metric", None)
        if record_metric is not None:
            record_metric(f"{self.__name__}/skipped", float(score.status == "skipped"))
            record_metric(f"{self.__name__}/error", float(score.status == "error"))
            for component in self.components:
                value = score.components.get(component)
                if value is not None:
                    record_metric(f"{self.__name__}/{component}", value)
        info = getattr(trace, "info", None)
        if not score.ok and isinstance(info, dict):
            info.setdefault("rewardforge", {})[self.__name__] = {"status": score.status, "reason": score.reason}

    async def __call__(self, task: Any, trace: Any, runtime: Any = None) -> float:
        [score] = await self.bound.ascore([self.sample(task, trace)])
        self.record(trace, score)
        value = self.policy.values([score], reward_name=self.__name__)[0]
        assert value is not None
        return value

    def __repr__(self) -> str:
        return f"<VerifiersReward {self.__name__}>"


def reward_fn(reward: RewardSpec, *, reference_column: str | None = "answer",
              field_map: Mapping[str, Any] | None = None, on_skipped: Any = 0.0, on_error: Any = 0.0,
              params: Mapping[str, Any] | None = None, timeout: float | None = None,
              cache: CacheSetting = None, name: str | None = None) -> VerifiersReward:
    """A verifiers task reward scoring with `reward`; assign it at module level and plug it by path."""
    return VerifiersReward(reward, reference_column=reference_column, field_map=field_map,
                           on_skipped=on_skipped, on_error=on_error, params=params, timeout=timeout,
                           cache=cache, name=name)
