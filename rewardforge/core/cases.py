"""Golden cases: what a reward must say about a sample, and how its scores must be ordered.

The same case format is read from a reward's `registry.yaml` entry (`golden:`), from a cases file
(`rewardforge test TARGET --cases cases.yaml`, a YAML list) and from the reward itself
(`@reward(cases=[...])`). Each item of the list is either a case or an ordering:

```yaml
- {completion: '\\boxed{3}', reference: '3', expected: 1.0}           # a value (within `tolerance`)
- {completion: '#### 95', reference: '100', expected: [0.2, 0.3]}     # a range (same as min: / max:)
- {completion: 'no idea', reference: '3', status: skipped}            # a status: ok | skipped | error
- {name: close, completion: '#### 99', reference: '100'}              # named, for orderings only
- {name: far, completion: '#### 150', reference: '100'}
- {order: 'close > far'}                                              # an ordering: > >= = <= <
```

A case may also carry `prompt`, `metadata`, `params` (the reward is built with them for this case
and probed with them too), `note`, and `allow` (probe name -> why that probe is expected to beat this
case, a documented limitation, e.g. a deliberately lenient setting).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rewardforge.core.errors import first_error
from rewardforge.core.types import RewardError, Status

Relation = Literal[">", ">=", "=", "<=", "<"]
_RELATION = re.compile(r"\s*(>=|<=|==|=|>|<)\s*")


class GoldenCase(BaseModel):
    """A sample and the verdict the reward must give it: a value, a range, a status, or a place in an order."""

    model_config = ConfigDict(extra="forbid")

    completion: str | list[dict[str, Any]]
    reference: Any = None
    prompt: str | list[dict[str, Any]] = ""
    metadata: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    name: str | None = None
    expected: float | None = None
    min: float | None = None
    max: float | None = None
    status: Status = "ok"
    tolerance: float = 1e-6
    note: str = ""
    allow: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _range_shorthand(cls, data: Any) -> Any:
        """`expected: [lo, hi]` is a range: the same as `min: lo` and `max: hi`."""
        if isinstance(data, dict) and isinstance(data.get("expected"), list | tuple):
            bounds = data["expected"]
            if len(bounds) != 2:
                raise ValueError("an expected range is [min, max]")
            data = {**data, "expected": None, "min": bounds[0], "max": bounds[1]}
        return data

    @model_validator(mode="after")
    def _says_something(self) -> GoldenCase:
        has_value = self.expected is not None or self.min is not None or self.max is not None
        if self.status == "ok" and not has_value and self.name is None:
            raise ValueError("an ok golden case needs `expected`, `min`/`max`, or a `name` used in an `order`")
        if self.status != "ok" and has_value:
            raise ValueError(f"a {self.status} golden case has no value to expect")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self

    @property
    def has_value(self) -> bool:
        return self.expected is not None or self.min is not None or self.max is not None

    def label(self, index: int) -> str:
        """How reports name this case: its index, and its name when it has one."""
        return f"case {index} ({self.name})" if self.name else f"case {index}"


class Ordering(BaseModel):
    """`order: "A > B >= C"`: the named cases' scores, compared pairwise left to right."""

    model_config = ConfigDict(extra="forbid")

    order: str
    tolerance: float = 1e-9
    note: str = ""

    @model_validator(mode="after")
    def _parses(self) -> Ordering:
        self.links()
        return self

    def links(self) -> list[tuple[str, Relation, str]]:
        """[(left, relation, right), ...] for each adjacent pair; `==` is read as `=`."""
        parts = _RELATION.split(self.order.strip())
        names, relations = parts[0::2], parts[1::2]
        if len(names) < 2 or any(not n or not n.replace("_", "").replace("-", "").isalnum() for n in names):
            raise ValueError(f"order {self.order!r}: expected case names joined by > >= = <= <, e.g. 'good > bad'")
        links: list[tuple[str, Relation, str]] = []
        for left, relation, right in zip(names, relations, names[1:], strict=False):
            rel: Relation = "=" if relation == "==" else relation  # type: ignore[assignment]
            links.append((left, rel, right))
        return links

    def names(self) -> list[str]:
        return _RELATION.split(self.order.strip())[0::2]


def holds(left: float, relation: Relation, right: float, tolerance: float) -> bool:
    """Whether `left relation right`, with strict relations needing a margin above `tolerance`."""
    if relation == ">":
        return left > right + tolerance
    if relation == ">=":
        return left >= right - tolerance
    if relation == "<":
        return left < right - tolerance
    if relation == "<=":
        return left <= right + tolerance
    return abs(left - right) <= tolerance


class CaseSet(BaseModel):
    """A reward's cases and orderings, checked together: names are unique and orderings name cases."""

    model_config = ConfigDict(extra="forbid")

    cases: list[GoldenCase] = Field(default_factory=list)
    orderings: list[Ordering] = Field(default_factory=list)

    @model_validator(mode="after")
    def _names_resolve(self) -> CaseSet:
        named: dict[str, int] = {}
        for index, case in enumerate(self.cases):
            if case.name is not None:
                if case.name in named:
                    raise ValueError(f"case name {case.name!r} is used by cases {named[case.name]} and {index}")
                named[case.name] = index
        ordered: set[str] = set()
        for ordering in self.orderings:
            for name in ordering.names():
                if name not in named:
                    raise ValueError(f"order {ordering.order!r} names {name!r}, which no case has")
                if self.cases[named[name]].status != "ok":
                    raise ValueError(f"order {ordering.order!r} names {name!r}, a case that expects no value")
                ordered.add(name)
        for case in self.cases:
            if case.status == "ok" and not case.has_value and case.name not in ordered:
                raise ValueError(f"case {case.name!r} has no expected value and no `order` names it")
        return self

    def index_of(self, name: str) -> int:
        return next(i for i, case in enumerate(self.cases) if case.name == name)

    def __add__(self, other: CaseSet) -> CaseSet:
        """Both sets together; ValueError (one line) when their names clash."""
        try:
            return CaseSet(cases=[*self.cases, *other.cases], orderings=[*self.orderings, *other.orderings])
        except ValidationError as exc:
            raise ValueError(_describe(exc)) from None

    def __bool__(self) -> bool:
        return bool(self.cases)


def split_cases(items: Any) -> dict[str, list[Any]]:
    """Raw golden items (a YAML list) -> {"cases": [...], "orderings": [...]}, by the `order` key."""
    if items is None:
        return {"cases": [], "orderings": []}
    if not isinstance(items, list | tuple):
        raise ValueError(f"golden cases must be a list, got {type(items).__name__}")
    cases, orderings = [], []
    for item in items:
        if isinstance(item, GoldenCase):
            cases.append(item)
        elif isinstance(item, Ordering) or (isinstance(item, dict) and "order" in item):
            orderings.append(item)
        else:
            cases.append(item)
    return {"cases": cases, "orderings": orderings}


def parse_cases(items: Any, *, origin: str) -> CaseSet:
    """A validated CaseSet from raw items; errors name `origin` and the item at fault."""
    try:
        return CaseSet.model_validate(split_cases(items))
    except (ValidationError, ValueError) as exc:
        raise RewardError(f"{origin}: {_describe(exc)}") from None


def _describe(exc: ValidationError | ValueError) -> str:
    if not isinstance(exc, ValidationError):
        return str(exc)
    loc, message = first_error(exc)
    if len(loc) >= 2 and loc[0] in ("cases", "orderings"):
        kind = "case" if loc[0] == "cases" else "ordering"
        where = f"{kind} {loc[1]}" + "".join(f".{part}" for part in loc[2:])
        return f"{where}: {message.removeprefix('Value error, ')}"
    return message.removeprefix("Value error, ")
