"""Reward stacks described in YAML: weighted, gated and aggregated components, with params.

```yaml
name: math_stack
type: weighted_sum              # weighted_sum | gate | min | max | product
on_skipped: renormalize         # renormalize | drop | zero | propagate (see compose.py)
on_error: propagate
components:
  - reward: tag_format          # a registry name, `pkg.module:attr`, or a nested stack mapping
    name: format
    weight: 0.2
    params: {tags: [think, answer]}
  - reward: math_equivalence
  - reward: overlong_penalty
    weight: {at: 100, before: 0.0, after: 0.5}     # a step schedule
---
type: gate
gate: {reward: tag_format, threshold: 1.0}
then: {reward: math_equivalence}
otherwise: 0.0
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rewardforge.core.compose import (
    Aggregate,
    Component,
    Gate,
    LinearSchedule,
    Policy,
    StepSchedule,
    WeightedSum,
)
from rewardforge.core.types import Reward, RewardError, first_error


class ComponentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reward: str | StackSpec
    name: str | None = None
    weight: float | StepSchedule | LinearSchedule = 1.0
    params: dict[str, Any] = Field(default_factory=dict)


class WeightedSumSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["weighted_sum"]
    name: str = "weighted_sum"
    on_skipped: Policy = "renormalize"
    on_error: Policy = "propagate"
    components: list[ComponentSpec] = Field(min_length=1)


class AggregateSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["min", "max", "product"]
    name: str | None = None
    on_skipped: Literal["drop", "propagate"] = "drop"
    on_error: Literal["drop", "propagate"] = "propagate"
    components: list[ComponentSpec] = Field(min_length=1)


class GateInputSpec(ComponentSpec):
    threshold: float = 1.0


class GateSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["gate"]
    name: str = "gate"
    gate: GateInputSpec
    then: ComponentSpec
    otherwise: float = 0.0


StackSpec = Annotated[WeightedSumSpec | AggregateSpec | GateSpec, Field(discriminator="type")]
ComponentSpec.model_rebuild()


class _StackFile(BaseModel):
    stack: StackSpec


def _build_component(spec: ComponentSpec) -> Component:
    from rewardforge.core.registry import resolve

    if isinstance(spec.reward, str):
        built = resolve(spec.reward, spec.params)
    else:
        if spec.params:
            raise RewardError("a nested stack takes no `params`; set them on its components")
        built = build_stack(spec.reward)
    return Component(built, spec.weight, spec.name)


def build_stack(spec: WeightedSumSpec | AggregateSpec | GateSpec) -> Reward:
    """A composite Reward from a validated stack description."""
    if isinstance(spec, WeightedSumSpec):
        return WeightedSum([_build_component(c) for c in spec.components], name=spec.name,
                           on_skipped=spec.on_skipped, on_error=spec.on_error)
    if isinstance(spec, AggregateSpec):
        return Aggregate([_build_component(c) for c in spec.components], kind=spec.type, name=spec.name,
                         on_skipped=spec.on_skipped, on_error=spec.on_error)
    gate_part, then_part = _build_component(spec.gate), _build_component(spec.then)
    return Gate(gate_part.reward, then_part.reward, threshold=spec.gate.threshold, otherwise=spec.otherwise,
                name=spec.name, gate_name=gate_part.name, then_name=then_part.name)


def parse_stack(data: Any, *, origin: str = "stack") -> Reward:
    """Validate a stack mapping (e.g. from YAML or JSON) and build it; errors name the bad field."""
    try:
        spec = _StackFile.model_validate({"stack": data}).stack
    except ValidationError as exc:
        loc, message = first_error(exc)
        where = ".".join(str(part) for part in loc[1:]) or "(top)"
        raise RewardError(f"{origin}: {where}: {message}") from None
    return build_stack(spec)


def load_stack(path: Path) -> Reward:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RewardError(f"reward stack file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise RewardError(f"{path}: not valid YAML: {exc}") from None
    return parse_stack(data, origin=str(path))
