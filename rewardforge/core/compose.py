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

Composites are checked when they are built, not at the first sample: a weight must be a finite
number or a schedule, names must be distinct, policies must exist. A component may be given as a
Reward, a registry name (or anything `rf.resolve` takes), `(reward, weight)`,
`(reward, weight, name)` or a `Component`.
"""

from __future__ import annotations

import asyncio
import math
import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, TypeAlias, get_args

from pydantic import BaseModel, ConfigDict, model_validator

from rewardforge.core.engine import run_reward
from rewardforge.core.errors import RewardError, UsageError, did_you_mean
from rewardforge.core.types import BaseReward, Reward, RewardContext, Sample, Score, run_sync

Policy: TypeAlias = Literal["renormalize", "drop", "zero", "propagate"]


class StepSchedule(BaseModel):
    """`before` until step `at`, then `after`: e.g. a length penalty switched on from step N.

    >>> schedule = StepSchedule(at=100, before=0.0, after=0.5)
    >>> schedule(99), schedule(100)
    (0.0, 0.5)
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    at: int
    before: float = 0.0
    after: float = 1.0

    def __call__(self, step: int) -> float:
        return self.after if step >= self.at else self.before


class LinearSchedule(BaseModel):
    """A weight that moves linearly from `start_value` to `end_value` between two steps, flat outside.

    >>> ramp = LinearSchedule(start_step=0, end_step=100, start_value=0.0, end_value=1.0)
    >>> ramp(-5), ramp(25), ramp(500)
    (0.0, 0.25, 1.0)
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    start_step: int
    end_step: int
    start_value: float = 0.0
    end_value: float = 1.0

    @model_validator(mode="after")
    def _steps_in_order(self) -> LinearSchedule:
        if self.end_step <= self.start_step:
            raise ValueError(f"end_step ({self.end_step}) must come after start_step ({self.start_step})")
        return self

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


#: A reward, or what `rf.resolve` turns into one: a registry name, `pkg.module:attr`, a stack file.
RewardLike: TypeAlias = Reward | str | Path


class Component:
    """A reward inside a composite, under a name and a (possibly scheduled) weight.

    >>> Component("exact_match", 0.5, "answer").name
    'answer'

    Raises:
        UsageError: the weight is not a finite number or a schedule, or the name is empty.
        RewardError: `reward` is a name that does not resolve.
    """

    def __init__(self, reward: RewardLike, weight: Weight = 1.0, name: str | None = None) -> None:
        self.reward = _as_reward(reward)
        self.weight = _checked_weight(weight)
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise UsageError(f"a component name must be a non-empty string, got {name!r}")
        self.name = name if name is not None else self.reward.name


ComponentLike: TypeAlias = Component | RewardLike | tuple[RewardLike, Weight] | tuple[RewardLike, Weight, str]


def _as_reward(item: Any) -> Reward:
    if isinstance(item, Reward):
        return item
    if isinstance(item, str | Path):
        from rewardforge.core.registry import resolve

        return resolve(item)
    if callable(item):
        raise UsageError(f"{getattr(item, '__name__', item)!r} is a plain function, not a Reward; "
                         "decorate it with @rf.reward")
    raise UsageError(f"{item!r} is not a reward; give a Reward, a registry name or a dotted path 'pkg.module:attr'")


def _checked_weight(weight: Any) -> Weight:
    if isinstance(weight, StepSchedule | LinearSchedule):
        return weight
    if isinstance(weight, numbers.Real) and not isinstance(weight, bool):
        if not math.isfinite(weight):
            raise UsageError(f"weight {weight} is not a finite number")
        return float(weight)
    raise UsageError(f"weight {weight!r} is not a number or a schedule; write (reward, 0.5) or "
                     "(reward, rf.StepSchedule(at=100, before=0.0, after=0.5))")


def _as_component(item: Any) -> Component:
    if isinstance(item, Component):
        return item
    if isinstance(item, tuple):
        if len(item) not in (2, 3):
            raise UsageError(f"a component tuple is (reward, weight) or (reward, weight, name), "
                             f"got {len(item)} items")
        return Component(*item)
    return Component(item)


def _checked_choice(what: str, value: Any, choices: tuple[str, ...]) -> Any:
    if value not in choices:
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        raise UsageError(f"{what} {value!r} is not one of {', '.join(choices)}{hint}")
    return value


class Composite(BaseReward):
    """Shared machinery: score every component over the whole batch, concurrently, then combine."""

    def __init__(self, components: Sequence[ComponentLike], *, name: str) -> None:
        if not isinstance(name, str) or not name.strip():
            raise UsageError(f"a composite's name must be a non-empty string, got {name!r}")
        if not components:
            raise UsageError(f"{name}: a composite needs at least one component")
        self.name = name
        self.components = []
        for index, item in enumerate(components):
            try:
                self.components.append(_as_component(item))
            except (UsageError, RewardError) as exc:
                label = _item_label(item)
                raise type(exc)(f"{name}: component {index}{label}: {exc}") from None
        seen: set[str] = set()
        for component in self.components:
            if component.name in seen:
                raise UsageError(f"{name}: two components are named {component.name!r}; "
                                 "give one a distinct name, e.g. (reward, weight, 'other_name')")
            seen.add(component.name)
        self.batched = any(getattr(c.reward, "batched", False) for c in self.components)

    def score(self, samples: Sequence[Sample], context: RewardContext | None = None) -> list[Score]:
        result: list[Score] = run_sync(self.ascore(samples, context))
        return result

    async def _component_scores(
        self, samples: Sequence[Sample], context: RewardContext, active: list[Component]
    ) -> dict[str, list[Score]]:
        results = await asyncio.gather(*(run_reward(c.reward, samples, context) for c in active))
        return {c.name: scores for c, scores in zip(active, results, strict=True)}


def _item_label(item: Any) -> str:
    """` (tag_format)`: what the user passed at a position, to name it in an error."""
    first = item[0] if isinstance(item, tuple) and item else item
    label = first if isinstance(first, str) else getattr(first, "name", None)
    return f" ({label})" if isinstance(label, str) else ""


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
        self.on_skipped: Policy = _checked_choice(f"{name}: on_skipped", on_skipped, get_args(Policy))
        self.on_error: Policy = _checked_choice(f"{name}: on_error", on_error, get_args(Policy))

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
        gate: RewardLike,
        then: RewardLike,
        *,
        threshold: float = 1.0,
        otherwise: float = 0.0,
        name: str = "gate",
        gate_name: str | None = None,
        then_name: str | None = None,
    ) -> None:
        super().__init__([(gate, 1.0, gate_name) if gate_name else gate,
                          (then, 1.0, then_name) if then_name else then], name=name)
        self.threshold = _checked_number(f"{name}: threshold", threshold)
        self.otherwise = _checked_number(f"{name}: otherwise", otherwise)

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
        self.kind: Literal["min", "max", "product"] = _checked_choice("kind", kind, ("min", "max", "product"))
        super().__init__(components, name=name or kind)
        self.on_skipped: Literal["drop", "propagate"] = _checked_choice(
            f"{self.name}: on_skipped", on_skipped, ("drop", "propagate"))
        self.on_error: Literal["drop", "propagate"] = _checked_choice(
            f"{self.name}: on_error", on_error, ("drop", "propagate"))

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


def _checked_number(what: str, value: Any) -> float:
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise UsageError(f"{what} must be a finite number, got {value!r}")


def weighted_sum(
    *components: ComponentLike,
    name: str = "weighted_sum",
    on_skipped: Policy = "renormalize",
    on_error: Policy = "propagate",
) -> WeightedSum:
    """Σ weight · value over the components, with an explicit policy for skipped and errored ones.

    Args:
        *components: Rewards, registry names, `(reward, weight)` or `(reward, weight, name)`
            tuples, or `Component`s. A weight is a finite number, a `StepSchedule` or a
            `LinearSchedule`; a component weighted 0 at the current step is not computed.
        name: the composite's name, which prefixes nested components (`outer.inner`).
        on_skipped: what a skipped component does: `renormalize` (default), `drop`, `zero` or
            `propagate` (the policy table in this module's docstring).
        on_error: what an errored component does; `propagate` (default) makes the sample an error.

    Returns:
        A `WeightedSum`, whose Scores carry each component's value in `components` and the
        weights in force in `info["weights"]`.

    Raises:
        UsageError: a weight that is not a finite number or schedule, a repeated or empty name,
            or an unknown policy.
        RewardError: a registry name that does not exist.

    >>> import rewardforge as rf
    >>> stack = rf.weighted_sum(("exact_match", 1.0), ("exact_match", 0.5, "again"))
    >>> [verdict] = rf.score(stack, [{"completion": "Paris", "reference": "Paris"}])
    >>> verdict.value, verdict.components
    (1.5, {'exact_match': 1.0, 'again': 1.0})
    >>> rf.weighted_sum(("exact_match", "heavy"))
    Traceback (most recent call last):
    ...
    rewardforge.core.errors.UsageError: weighted_sum: component 0 (exact_match): weight 'heavy' is not a number or a schedule; write (reward, 0.5) or (reward, rf.StepSchedule(at=100, before=0.0, after=0.5))
    """
    return WeightedSum(components, name=name, on_skipped=on_skipped, on_error=on_error)


def gate(
    gate_reward: RewardLike,
    then: RewardLike,
    *,
    threshold: float = 1.0,
    otherwise: float = 0.0,
    name: str = "gate",
    gate_name: str | None = None,
    then_name: str | None = None,
) -> Gate:
    """Score `then` only where `gate_reward` reaches `threshold`; elsewhere the value is `otherwise`.

    Args:
        gate_reward: the reward that opens the gate (a Reward or a registry name), e.g. a format check.
        then: the reward scored where the gate is open, e.g. answer correctness.
        threshold: the gate opens where its value is at least this.
        otherwise: the value where the gate stays closed (`then` is not computed there).
        name: the composite's name.
        gate_name: the gate's name in `components` (default: its reward's name).
        then_name: the `then` reward's name in `components` (default: its reward's name).

    Returns:
        A `Gate`. A skipped or errored gate or `then` makes the sample skipped or errored.

    Raises:
        UsageError: a threshold or `otherwise` that is not a finite number, or equal names.
        RewardError: a registry name that does not exist.

    >>> import rewardforge as rf
    >>> @rf.reward(isolation="inline")
    ... def shouted(completion: str) -> float:
    ...     return float(completion.isupper())
    >>> gated = rf.gate(shouted, "exact_match", otherwise=-1.0)
    >>> samples = [{"completion": "PARIS", "reference": "paris"}, {"completion": "paris", "reference": "paris"}]
    >>> [verdict.value for verdict in rf.score(gated, samples)]
    [1.0, -1.0]
    """
    return Gate(gate_reward, then, threshold=threshold, otherwise=otherwise, name=name,
                gate_name=gate_name, then_name=then_name)


def minimum(
    *components: ComponentLike,
    name: str | None = None,
    on_skipped: Literal["drop", "propagate"] = "drop",
    on_error: Literal["drop", "propagate"] = "propagate",
) -> Aggregate:
    """The smallest component value: every check must pass for a high score.

    Args:
        *components: as for `weighted_sum` (weights are accepted and ignored).
        name: the composite's name (default `min`).
        on_skipped: `drop` (default) leaves skipped components out; `propagate` skips the sample.
        on_error: `propagate` (default) makes the sample an error; `drop` leaves the component out.

    Returns:
        An `Aggregate`; a sample with no component left is skipped.

    Raises:
        UsageError: an invalid component or policy. RewardError: an unknown registry name.

    >>> import rewardforge as rf
    >>> strict = rf.resolve("exact_match", {"case_sensitive": True})
    >>> [verdict] = rf.score(rf.minimum("exact_match", (strict, 1.0, "strict")),
    ...                      [{"completion": "paris", "reference": "Paris"}])
    >>> verdict.value, verdict.components
    (0.0, {'exact_match': 1.0, 'strict': 0.0})
    """
    return Aggregate(components, kind="min", name=name, on_skipped=on_skipped, on_error=on_error)


def maximum(
    *components: ComponentLike,
    name: str | None = None,
    on_skipped: Literal["drop", "propagate"] = "drop",
    on_error: Literal["drop", "propagate"] = "propagate",
) -> Aggregate:
    """The largest component value: any one check passing is enough.

    Args:
        *components: as for `weighted_sum` (weights are accepted and ignored).
        name: the composite's name (default `max`).
        on_skipped: `drop` (default) leaves skipped components out; `propagate` skips the sample.
        on_error: `propagate` (default) makes the sample an error; `drop` leaves the component out.

    Returns:
        An `Aggregate`; a sample with no component left is skipped.

    Raises:
        UsageError: an invalid component or policy. RewardError: an unknown registry name.

    >>> import rewardforge as rf
    >>> strict = rf.resolve("exact_match", {"case_sensitive": True})
    >>> [verdict] = rf.score(rf.maximum("exact_match", (strict, 1.0, "strict")),
    ...                      [{"completion": "paris", "reference": "Paris"}])
    >>> verdict.value
    1.0
    """
    return Aggregate(components, kind="max", name=name, on_skipped=on_skipped, on_error=on_error)


def product(
    *components: ComponentLike,
    name: str | None = None,
    on_skipped: Literal["drop", "propagate"] = "drop",
    on_error: Literal["drop", "propagate"] = "propagate",
) -> Aggregate:
    """The product of the component values, e.g. a correctness score scaled by a length factor.

    Args:
        *components: as for `weighted_sum` (weights are accepted and ignored).
        name: the composite's name (default `product`).
        on_skipped: `drop` (default) leaves skipped components out; `propagate` skips the sample.
        on_error: `propagate` (default) makes the sample an error; `drop` leaves the component out.

    Returns:
        An `Aggregate`; a sample with no component left is skipped.

    Raises:
        UsageError: an invalid component or policy. RewardError: an unknown registry name.

    >>> import rewardforge as rf
    >>> @rf.reward(isolation="inline")
    ... def brevity(completion: str) -> float:
    ...     return 1.0 if len(completion) <= 5 else 0.5
    >>> [verdict] = rf.score(rf.product("exact_match", brevity), [{"completion": "Paris!", "reference": "Paris"}])
    >>> verdict.value
    0.5
    """
    return Aggregate(components, kind="product", name=name, on_skipped=on_skipped, on_error=on_error)
