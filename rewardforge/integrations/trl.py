"""TRL: any rewardforge reward as a `reward_funcs` entry of `GRPOTrainer` / `RLOOTrainer`.

```python
from trl import GRPOTrainer
from rewardforge.integrations import to_trl

trainer = GRPOTrainer(model=..., reward_funcs=[to_trl("math_equivalence")], train_dataset=dataset)
```

TRL calls `fn(prompts=, completions=, completion_ids=, **columns, trainer_state=, log_metric=, log_extra=)`.
The adapter
- builds Samples from the columns (`reference_column="answer"`, or `field_map=`), judging the last
  assistant message of a chat; `completion_ids` go into `metadata["completion_ids"]` for
  token-length rewards (`length_key="completion_ids"`);
- scores at `trainer_state.global_step`, so step schedules follow training;
- returns `None` for skipped and errored samples by default (TRL makes them NaN and leaves them
  out of the group baseline), or the policy's float, or raises;
- logs `rf/<reward>/skipped_frac`, `rf/<reward>/error_frac` and `rf/<reward>/<component>/mean`
  with `log_metric`, and each sample's status as a `<reward>/status` column with `log_extra`.

`asynchronous=True` gives an `async` function: TRL gathers those on its own event loop, and the
adapter never blocks it. Both are module-level classes with a `__name__`, so TRL's async GRPO can
pickle them into its spawned rollout process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rewardforge.core.compose import LinearSchedule, StepSchedule, WeightedSum, weight_at
from rewardforge.core.engine import CacheSetting
from rewardforge.core.types import RewardError, Sample, Score
from rewardforge.integrations.common import (
    TRAINER_OBJECTS,
    BoundReward,
    FieldMap,
    RewardSpec,
    StatusPolicy,
    batch_metrics,
    make_sample,
    warn_missing_reference,
)


class TRLReward:
    """A reward in TRL's shape: `(prompts, completions, completion_ids=None, **kwargs) -> list[float | None]`."""

    def __init__(self, reward: RewardSpec | BoundReward, *, reference_column: str | None = "answer",
                 field_map: Mapping[str, Any] | None = None, on_skipped: Any = None, on_error: Any = None,
                 params: Mapping[str, Any] | None = None, timeout: float | None = None,
                 cache: CacheSetting = None, name: str | None = None, log: bool = True,
                 schedule: StepSchedule | LinearSchedule | None = None) -> None:
        self.bound = reward if isinstance(reward, BoundReward) else BoundReward(
            reward, params=params, timeout=timeout, cache=cache)
        self.fields = FieldMap.make(reference_column, field_map)
        self.policy = StatusPolicy.make(on_skipped, on_error, trainer="TRL")
        self.__name__ = name or self.bound.name
        self.log = log
        self.schedule = schedule
        self.components = self.bound.component_names()

    def samples(self, prompts: Sequence[Any], completions: Sequence[Any],
                completion_ids: Sequence[Any] | None, columns: Mapping[str, Any]) -> list[Sample]:
        """Samples from TRL's arguments; trainer objects in `columns` are never copied in."""
        data = {k: v for k, v in columns.items() if k not in TRAINER_OBJECTS}
        warn_missing_reference(self.__name__, self.fields, list(data))
        samples = []
        for i, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
            row = {column: values[i] for column, values in data.items()}
            extra = {"completion_ids": list(completion_ids[i])} if completion_ids is not None else None
            samples.append(make_sample(prompt, completion, row, self.fields, extra))
        return samples

    def _weight(self, step: int) -> float:
        return 1.0 if self.schedule is None else weight_at(self.schedule, step)

    def _finish(self, scores: list[Score], weight: float, kwargs: Mapping[str, Any]) -> list[float | None]:
        values = self.policy.values(scores, reward_name=self.__name__)
        if self.log:
            log_metric: Callable[[str, float], None] | None = kwargs.get("log_metric")
            log_extra: Callable[[str, list[Any]], None] | None = kwargs.get("log_extra")
            if log_metric is not None:
                for key, value in batch_metrics(scores, self.components).items():
                    log_metric(f"rf/{self.__name__}/{key}", value)
            if log_extra is not None:
                log_extra(f"{self.__name__}/status", [s.status for s in scores])
        return [v * weight if v is not None else None for v in values]

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any],
                 completion_ids: Sequence[Any] | None = None, **kwargs: Any) -> list[float | None]:
        step = _step(kwargs)
        weight = self._weight(step)
        if weight == 0.0:  # a scheduled component that is off: not computed, and not counted
            return [None] * len(completions)
        scores = self.bound.score(self.samples(prompts, completions, completion_ids, kwargs), step=step)
        return self._finish(scores, weight, kwargs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.__name__}>"


class AsyncTRLReward(TRLReward):
    """The same, as a coroutine: TRL gathers async reward functions on its own loop."""

    async def __call__(  # type: ignore[override]
        self, prompts: Sequence[Any], completions: Sequence[Any],
        completion_ids: Sequence[Any] | None = None, **kwargs: Any,
    ) -> list[float | None]:
        step = _step(kwargs)
        weight = self._weight(step)
        if weight == 0.0:
            return [None] * len(completions)
        scores = await self.bound.ascore(self.samples(prompts, completions, completion_ids, kwargs), step=step)
        return self._finish(scores, weight, kwargs)


def _step(kwargs: Mapping[str, Any]) -> int:
    state = kwargs.get("trainer_state")
    return int(getattr(state, "global_step", 0) or 0)


def to_trl(reward: RewardSpec, *, reference_column: str | None = "answer",
           field_map: Mapping[str, Any] | None = None, on_skipped: Any = None, on_error: Any = None,
           asynchronous: bool = False, params: Mapping[str, Any] | None = None, timeout: float | None = None,
           cache: CacheSetting = None, name: str | None = None) -> TRLReward:
    """A TRL reward function scoring with `reward` (a name, `pkg.mod:attr`, a stack YAML or a Reward).

    - `reference_column` / `field_map={"reference": ..., "metadata": [...], "group_id": ...}`: which
      dataset columns fill the Sample; by default every plain-data column lands in `metadata`.
    - `on_skipped` / `on_error`: None (NaN in TRL, the default), a float, or "raise".
    - `asynchronous=True`: an async function, for TRL's event loop.
    """
    cls = AsyncTRLReward if asynchronous else TRLReward
    return cls(reward, reference_column=reference_column, field_map=field_map, on_skipped=on_skipped,
               on_error=on_error, params=params, timeout=timeout, cache=cache, name=name)


def to_trl_components(stack: RewardSpec, *, reference_column: str | None = "answer",
                      field_map: Mapping[str, Any] | None = None, on_skipped: Any = None, on_error: Any = None,
                      asynchronous: bool = False, timeout: float | None = None, cache: CacheSetting = None,
                      ) -> tuple[list[TRLReward], list[float]]:
    """`(reward_funcs, reward_weights)` for GRPOConfig: one function per component of a weighted sum.

    TRL then logs every component as `rewards/<name>/mean` and can normalise each one before
    summing (`multi_objective_aggregation="normalize_then_sum"`). A constant weight goes to
    `reward_weights`; a scheduled one is applied inside the function at the trainer's step (its
    `reward_weights` entry is 1.0), and a component weighted 0 at a step returns None there.
    TRL sums with `nansum`, so a skipped component drops out of that sample's sum.
    """
    bound = BoundReward(stack, timeout=timeout, cache=cache)
    composite = bound.reward
    if not isinstance(composite, WeightedSum):
        raise RewardError(f"to_trl_components splits a weighted_sum; {bound.name!r} is a "
                          f"{type(composite).__name__}, whose parts do not add up: pass it whole to to_trl()")
    cls = AsyncTRLReward if asynchronous else TRLReward
    funcs: list[TRLReward] = []
    weights: list[float] = []
    for component in composite.components:
        part = BoundReward(bound.spec, params=bound.params, timeout=timeout, cache=cache, part=component.name)
        weight = component.weight
        schedule = weight if isinstance(weight, StepSchedule | LinearSchedule) else None
        funcs.append(cls(part, reference_column=reference_column, field_map=field_map, on_skipped=on_skipped,
                         on_error=on_error, name=component.name, schedule=schedule))
        weights.append(1.0 if isinstance(weight, StepSchedule | LinearSchedule) else float(weight))
    return funcs, weights
