"""`rewardforge list` and `rewardforge show`: what rewards exist and how to call them."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import BaseModel

from rewardforge.cli.console import err, fail, folded_table, out
from rewardforge.core.registry import default_registry, import_object
from rewardforge.core.types import RewardError


def list_rewards() -> None:
    """List every reward: built-ins and plugins, with where each comes from."""
    registry = default_registry()
    table = folded_table("rewards", "name", "source", "tags", "description")
    for name in registry.names():
        entry = registry.entries[name]
        table.add_row(name, entry.source, ", ".join(entry.tags), entry.description.split("\n")[0])
    out.print(table)
    for clash in registry.clashes:
        err.print(f"[yellow]name clash:[/] {clash}", highlight=False)
    for failure in registry.failures:
        err.print(f"[red]plugin failed to load:[/] {failure.source}: {failure.error}", highlight=False)


def show(name: Annotated[str, typer.Argument(help="registry name")]) -> None:
    """Show one reward: description, params schema and defaults, golden cases."""
    registry = default_registry()
    try:
        entry = registry.entry(name)
        target = import_object(entry.target)
    except RewardError as exc:
        fail(str(exc))
    out.print(f"[bold]{entry.name}[/]  ({entry.target}, {entry.source})")
    if entry.description:
        out.print(entry.description)
    params = folded_table("params", "name", "type", "default")
    model = getattr(target, "params_model", None)
    if isinstance(model, type) and issubclass(model, BaseModel):  # @reward functions, reward classes
        fields = model.model_fields
        declared = {k: f.get_default(call_default_factory=True) for k, f in fields.items() if not f.is_required()}
        defaults = {**declared, **entry.params}
        for pname, info in fields.items():
            default = repr(defaults[pname]) if pname in defaults else "required"
            params.add_row(pname, _type_name(info.annotation), default)
    else:
        for pname, value in entry.params.items():
            params.add_row(pname, type(value).__name__, repr(value))
    out.print(params)
    golden = folded_table("golden cases", "completion", "reference", "params", "expect")
    for case in entry.golden:
        expect = case.status if case.status != "ok" else (
            f"{case.expected}" if case.expected is not None else f"[{case.min}, {case.max}]")
        golden.add_row(repr(case.completion)[:80], repr(case.reference)[:40], str(case.params or ""), expect)
    out.print(golden)


def _type_name(annotation: Any) -> str:
    return annotation.__name__ if isinstance(annotation, type) else str(annotation).replace("typing.", "")
