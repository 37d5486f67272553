"""Combining rewards: weighted sums (with step schedules), gates, and min / max / product.

Every composite records each component's raw value in `Score.components` (nested composites as
`outer.inner`) and each component's info under `Score.info[name]`.

Policy for components that are not `ok`, chosen per composite and never implicit:

| policy         | a skipped / errored component ...                                           |
| -------------- | --------------------------------------------------------------------------- |
| `renormalize`  | is left out, and the other weights are scaled up to the full weight total   |
| `drop`         | is left out; the others keep their weights                                  |
| `zero`         | counts as 0.0 (an explicit choice, recorded in `info["policy_applied"]`)    |
| `propagate`    | makes the whole composite skipped / error, with the component's reason      |

Defaults: skipped components are re-normalised over (the reward does not apply, so it should
not move the total); errors propagate (a broken judge must not look like a bad answer). When
every component is left out, the composite is skipped.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict

from rewardforge.core.engine import run_reward
from rewardforge.core.types import BaseReward, Reward, RewardContext, Sample, Score, run_sync

Policy: TypeAlias = Literal["renormalize", "drop", "zero", "propagate"]


class StepSchedule(BaseModel):
    """`before` until step `at`, then `after`: e.g. a length penalty switched on from step N."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: int
    before: float = 0.0
    after: float = 1.0

    def __call__(self, step: int) -> float:
        return self.after if step >= self.at else self.before


class LinearSchedule(BaseModel):
    """A weight that moves linearly from `start_value` to `end_value` between two steps, flat outside."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start_step: int
    end_step: int
    start_value: float = 0.0
    end_value: float = 1.0

    def __call__(self, step: int) -> float:
        if step <= self.start_step:
            return self.start_value
        if step >= self.end_step:
            return self.end_value
        fraction = (step - self.start_step) / (self.end_step - self.start_step)
        return self.start_value + fraction * (self.end_value - self.start_value)


Weight: TypeAlias = float | StepSchedule | LinearSchedule


def weight_at(weight: Weight, step: int) -> float:
    return float(weight) if isinstance(weight, int | float) else weight(step)


class Component:
    """A reward inside a composite, under a name and a (possibly scheduled) weight."""

    def __init__(self, reward: Reward, weight: Weight = 1.0, name: str | None = None) -> None:
        self.reward = reward
        self.weight = weight
        self.name = name or reward.name


ComponentLike: TypeAlias = Component | Reward | tuple[Reward, Weight]


def _as_component(item: ComponentLike) -> Component:
    if isinstance(item, Component):
        return item
    if isinstance(item, tuple):
        return Component(item[0], item[1])
    return Component(item)


def _unique_names(components: list[Component]) -> None:
    seen: set[str] = set()
    for component in components:
        if component.name in seen:
            raise ValueError(f"two components are named {component.name!r}; give one a distinct name")
        seen.add(component.name)


class Composite(BaseReward):
    """Shared machinery: score every component over the whole batch, concurrently, then combine."""

    def __init__(self, components: Sequence[ComponentLike], *, name: str) -> None:
        if not components:
            raise ValueError(f"{name}: a composite needs at least one component")
        self.name = name
        self.components = [_as_component(c) for c in components]
        _unique_names(self.components)
        self.batched = any(getattr(c.reward, "batched", False) for c in self.components)

    def score(self, samples: Sequence[Sample], context: RewardContext | None = None) -> list[Score]:
        result: list[Score] = run_sync(self.ascore(samples, context))
        return result

    async def _component_scores(
        self, samples: Sequence[Sample], context: RewardContext, active: list[Component]
    ) -> dict[str, list[Score]]:
        results = await asyncio.gather(*(run_reward(c.reward, samples, context) for c in active))
        return {c.name: scores for c, scores in zip(active, results, strict=True)}


def _record(name: str, score: Score, components: dict[str, float | None], info: dict[str, Any]) -> None:
    """Put a component's value (and a nested composite's own components) into the parent's record."""
    components[name] = score.value
    for sub, value in score.components.items():
        components[f"{name}.{sub}"] = value
    entry: dict[str, Any] = dict(score.info)
    if score.status != "ok":
        entry.update(status=score.status, reason=score.reason)
    if entry:
        info[name] = entry


class WeightedSum(Composite):
    """Σ weight·value over components, with an explicit policy for skipped and errored ones."""

    def __init__(
        self,
        components: Sequence[ComponentLike],
        *,
        name: str = "weighted_sum",
        on_skipped: Policy = "renormalize",
        on_error: Policy = "propagate",
    ) -> None:
        super().__init__(components, name=name)
        self.on_skipped = on_skipped
        self.on_error = on_error

    async def ascore(self, samples: Sequence[Sample], context: RewardContext | None = None) -> list[Score]:
        context = context or RewardContext()
        weights = {c.name: weight_at(c.weight, context.step) for c in self.components}
        # A component weighted 0 at this step is not computed at all (e.g. a penalty not yet on).
        active = [c for c in self.components if weights[c.name] != 0.0]
        if not active:
            return [Score.of(0.0, info={"weights": weights}) for _ in samples]
        per_component = await self._component_scores(samples, context, active)
        return [
            self._combine({c.name: per_component[c.name][i] for c in active}, weights)
            for i in range(len(samples))
        ]

    def _combine(self, scores: dict[str, Score], weights: dict[str, float]) -> Score:
        components: dict[str, float | None] = {}
        info: dict[str, Any] = {"weights": weights}
        total = 0.0
        kept_weight = 0.0  # weight of components that count (ok, or zero-filled)
        renormalized_weight = 0.0  # weight left out under `renormalize`, to be spread over the rest
        applied: list[str] = []
        for name, score in scores.items():
            _record(name, score, components, info)
            if score.ok:
                assert score.value is not None
                total += weights[name] * score.value
                kept_weight += abs(weights[name])
                continue
            policy = self.on_skipped if score.status == "skipped" else self.on_error
            if policy == "propagate":
                reason = f"component {name!r} {score.status}: {score.reason}"
                return Score(status=score.status, reason=reason, components=components, info=info)
            if policy == "zero":
                kept_weight += abs(weights[name])
            elif policy == "renormalize":
                renormalized_weight += abs(weights[name])
            applied.append(f"{name}: {score.status} ({score.reason}) -> {policy}")
        if applied:
            info["policy_applied"] = applied
        if kept_weight == 0.0:
            return Score.skipped("no component applied", components=components, info=info)
        if renormalized_weight:
            total *= (kept_weight + renormalized_weight) / kept_weight
        return Score(value=total, components=components, info=info)


class Gate(Composite):
    """Score `then` only where `gate` reaches `threshold`; elsewhere the value is `otherwise`.

    E.g. format gates accuracy: an answer outside the required tags earns `otherwise` whatever it
    says. A gate or `then` that is skipped or errored makes the sample skipped or errored.
    """

    def __init__(
        self,
        gate: Reward,
        then: Reward,
        *,
        threshold: float = 1.0,
        otherwise: float = 0.0,
        name: str = "gate",
        gate_name: str | None = None,
        then_name: str | None = None,
    ) -> None:
        super().__init__([Component(gate, name=gate_name), Component(then, name=then_name)], name=name)
        self.threshold = threshold
        self.otherwise = otherwise

    async def ascore(self, samples: Sequence[Sample], context: RewardContext | None = None) -> list[Score]:
        context = context or RewardContext()
        gate, then = self.components
        gate_scores = await run_reward(gate.reward, samples, context)
        opened = [i for i, s in enumerate(gate_scores) if s.ok and (s.value or 0.0) >= self.threshold]
        then_scores = await run_reward(then.reward, [samples[i] for i in opened], context)
        by_index = dict(zip(opened, then_scores, strict=True))
        results = []
        for i, gate_score in enumerate(gate_scores):
            components: dict[str, float | None] = {}
            info: dict[str, Any] = {}
            _record(gate.name, gate_score, components, info)
            if not gate_score.ok:
                reason = f"gate {gate.name!r} {gate_score.status}: {gate_score.reason}"
                results.append(Score(status=gate_score.status, reason=reason, components=components, info=info))
                continue
            if i not in by_index:
                components[then.name] = None
                info["gate"] = "closed"
                results.append(Score(value=self.otherwise, components=components, info=info))
                continue
            then_score = by_index[i]
            _record(then.name, then_score, components, info)
            info["gate"] = "open"
            if not then_score.ok:
                reason = f"component {then.name!r} {then_score.status}: {then_score.reason}"
                results.append(Score(status=then_score.status, reason=reason, components=components, info=info))
            else:
                results.append(Score(value=then_score.value, components=components, info=info))
        return results


class Aggregate(Composite):
    """min, max or product of the components' values; skipped ones are dropped, errors propagate."""

    def __init__(
        self,
        components: Sequence[ComponentLike],
        *,
        kind: Literal["min", "max", "product"],
        name: str | None = None,
        on_skipped: Literal["drop", "propagate"] = "drop",
        on_error: Literal["drop", "propagate"] = "propagate",
    ) -> None:
        super().__init__(components, name=name or kind)
        self.kind = kind
        self.on_skipped = on_skipped
        self.on_error = on_error

    async def ascore(self, samples: Sequence[Sample], context: RewardContext | None = None) -> list[Score]:
        context = context or RewardContext()
        per_component = await self._component_scores(samples, context, self.components)
        return [
            self._combine({c.name: per_component[c.name][i] for c in self.components})
            for i in range(len(samples))
        ]

    def _combine(self, scores: dict[str, Score]) -> Score:
        components: dict[str, float | None] = {}
        info: dict[str, Any] = {}
        values: list[float] = []
        for name, score in scores.items():
            _record(name, score, components, info)
            if score.ok:
                assert score.value is not None
                values.append(score.value)
            elif (self.on_skipped if score.status == "skipped" else self.on_error) == "propagate":
                reason = f"component {name!r} {score.status}: {score.reason}"
                return Score(status=score.status, reason=reason, components=components, info=info)
        if not values:
            return Score.skipped("no component applied", components=components, info=info)
        combined = min(values) if self.kind == "min" else max(values) if self.kind == "max" else math.prod(values)
        return Score(value=combined, components=components, info=info)


def weighted_sum(*components: ComponentLike, **options: Any) -> WeightedSum:
    return WeightedSum(components, **options)


def gate(gate_reward: Reward, then: Reward, **options: Any) -> Gate:
    return Gate(gate_reward, then, **options)


def minimum(*components: ComponentLike, **options: Any) -> Aggregate:
    return Aggregate(components, kind="min", **options)


def maximum(*components: ComponentLike, **options: Any) -> Aggregate:
    return Aggregate(components, kind="max", **options)


def product(*components: ComponentLike, **options: Any) -> Aggregate:
    return Aggregate(components, kind="product", **options)
