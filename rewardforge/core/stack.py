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

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError

from rewardforge.core.compose import (
    Aggregate,
    Component,
    Gate,
    LinearSchedule,
    Policy,
    StepSchedule,
    WeightedSum,
)
from rewardforge.core.errors import RewardError, describe_validation_error, did_you_mean
from rewardforge.core.types import Reward
from rewardforge.core.yaml_files import read_yaml_file


def _weight_kind(value: Any) -> str:
    """A mapping with `at` is a step schedule, one with `start_step`/`end_step` a linear one."""
    if isinstance(value, dict | StepSchedule | LinearSchedule):
        linear = isinstance(value, LinearSchedule) or (isinstance(value, dict) and (
            "start_step" in value or "end_step" in value))
        return "linear schedule" if linear else "step schedule"
    return "number"


def _reward_kind(value: Any) -> str:
    return "nested stack" if isinstance(value, dict | BaseModel) else "name"


WeightSpec = Annotated[
    Annotated[float, Tag("number")]
    | Annotated[StepSchedule, Tag("step schedule")]
    | Annotated[LinearSchedule, Tag("linear schedule")],
    Discriminator(_weight_kind),
]


class ComponentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    reward: Annotated[Annotated[str, Tag("name")] | Annotated[StackSpec, Tag("nested stack")],
                      Discriminator(_reward_kind)]
    name: str | None = None
    weight: WeightSpec = 1.0
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
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    type: Literal["gate"]
    name: str = "gate"
    gate: GateInputSpec
    then: ComponentSpec
    otherwise: float = 0.0


StackSpec = Annotated[WeightedSumSpec | AggregateSpec | GateSpec, Field(discriminator="type")]
ComponentSpec.model_rebuild()


class _StackFile(BaseModel):
    stack: StackSpec


#: Union tags pydantic puts into error locations; a reader thinks in keys, not in union members.
_TAGS = {"stack", "weighted_sum", "gate", "min", "max", "product", "name", "nested stack", "number",
         "step schedule", "linear schedule"}
#: Every key a stack file may use, for "did you mean".
_KEYS = {field for model in (ComponentSpec, WeightedSumSpec, AggregateSpec, GateInputSpec, GateSpec,
                             StepSchedule, LinearSchedule) for field in model.model_fields}


def _label(data: Any, loc: tuple[str | int, ...]) -> str:
    """`components[1]` -> `components[1] (format)`: the component's name or reward, as the file says it."""
    node = data
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return ""
    if isinstance(node, dict):
        label = node.get("name") or node.get("reward")
        if isinstance(label, dict):
            label = label.get("name") or label.get("type")
        if isinstance(label, str):
            return f" ({label})"
    return ""


def _where(data: Any, loc: tuple[str | int, ...]) -> str:
    """A readable path to a key: each component on the way is named by its position and its name."""
    text = ""
    for end, part in enumerate(loc, start=1):
        if isinstance(part, int):
            text += f"[{part}]{_label(data, loc[:end])}"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top)"


def _build_component(spec: ComponentSpec, where: str) -> Component:
    from rewardforge.core.registry import resolve

    try:
        if isinstance(spec.reward, str):
            built = resolve(spec.reward, spec.params)
        else:
            if spec.params:
                raise RewardError("a nested stack takes no `params`; set them on its components")
            built = build_stack(spec.reward, where=where)
        return Component(built, spec.weight, spec.name)
    except RewardError as exc:
        if str(exc).startswith(where):  # already placed by a nested component
            raise
        raise RewardError(f"{where}: {exc}", param=exc.param) from None


def _reward_label(spec: ComponentSpec) -> str:
    return spec.reward if isinstance(spec.reward, str) else spec.reward.name or spec.reward.type


def build_stack(spec: WeightedSumSpec | AggregateSpec | GateSpec, *, where: str = "") -> Reward:
    """A composite Reward from a validated stack description; errors name the component at fault."""
    prefix = f"{where}." if where else ""
    if isinstance(spec, GateSpec):
        gate_part = _build_component(spec.gate, f"{prefix}gate ({spec.gate.name or _reward_label(spec.gate)})")
        then_part = _build_component(spec.then, f"{prefix}then ({spec.then.name or _reward_label(spec.then)})")
        return Gate(gate_part.reward, then_part.reward, threshold=spec.gate.threshold, otherwise=spec.otherwise,
                    name=spec.name, gate_name=gate_part.name, then_name=then_part.name)
    components = [
        _build_component(c, f"{prefix}components[{i}] ({c.name or _reward_label(c)})")
        for i, c in enumerate(spec.components)
    ]
    if isinstance(spec, WeightedSumSpec):
        return WeightedSum(components, name=spec.name, on_skipped=spec.on_skipped, on_error=spec.on_error)
    return Aggregate(components, kind=spec.type, name=spec.name, on_skipped=spec.on_skipped,
                     on_error=spec.on_error)


def parse_stack(data: Any, *, origin: str = "stack") -> Reward:
    """Validate a stack mapping (e.g. from YAML or JSON) and build it.

    Errors name the origin (the file), the component path and the key:
    `stack.yaml: components[1] (format).weight: unknown key 'befor' (did you mean 'before'?)`.
    """
    if not isinstance(data, dict):
        raise RewardError(f"{origin}: a stack is a mapping with `type` and `components`, "
                          f"got {type(data).__name__ if data is not None else 'an empty file'}")
    try:
        spec = _StackFile.model_validate({"stack": data}).stack
    except ValidationError as exc:
        loc, message = describe_validation_error(exc, skip=_TAGS, known_keys=_KEYS)
        if str(exc.errors()[0]["type"]).startswith("union_tag"):
            loc, message = (*loc, "type"), _explain_tag(exc)
        elif loc and loc[-1] == "weight" and not message.startswith("unknown key"):
            message += "; a weight is a number or a schedule such as {at: 100, before: 0.0, after: 0.5}"
        raise RewardError(f"{origin}: {_where(data, loc)}: {message}") from None
    try:
        return build_stack(spec)
    except RewardError as exc:
        raise RewardError(f"{origin}: {exc}", param=exc.param) from None


def _explain_tag(exc: ValidationError) -> str:
    """`type: mean` -> "unknown type 'mean'; expected one of ... (did you mean ...)"."""
    error = exc.errors()[0]
    if error["type"] == "union_tag_not_found":
        given = error.get("input")
        unknown = [str(key) for key in given if key not in _KEYS] if isinstance(given, dict) else []
        hint = f"; {unknown[0]!r} is not a key{did_you_mean(unknown[0], _KEYS)}" if unknown else ""
        return f"missing key 'type' (weighted_sum, gate, min, max or product){hint}"
    value = str(error.get("ctx", {}).get("tag", error.get("input")))
    kinds = ["weighted_sum", "gate", "min", "max", "product"]
    return f"unknown type {value!r}; expected one of {', '.join(kinds)}{did_you_mean(value, kinds)}"


def load_stack(path: Path) -> Reward:
    return parse_stack(read_yaml_file(path, "reward stack file"), origin=str(path))
