"""`rewardforge list` and `rewardforge show`: what rewards exist and how to call them."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import typer
from pydantic import BaseModel
from rich.markup import escape
from rich.tree import Tree

from rewardforge.cli.console import err, fail, folded_table, out
from rewardforge.core.compose import (
    Aggregate,
    Composite,
    Gate,
    LinearSchedule,
    StepSchedule,
    Weight,
    WeightedSum,
)
from rewardforge.core.errors import RewardError, did_you_mean
from rewardforge.core.registry import RewardEntry, default_registry, params_model_of, resolve, target_of
from rewardforge.core.types import FunctionReward, Reward, without_param_docs


def list_rewards(
    word: Annotated[str | None, typer.Argument(metavar="WORD", help="only rewards whose name, tags or "
                                                                   "description mention it")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", metavar="TAG",
                                                  help="only rewards with this tag (repeat: all must match)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the catalog as JSON")] = False,
) -> None:
    """List the rewards, built-in and from plugins: one line each, with its kind and what it scores."""
    registry = default_registry()
    entries = [registry.entries[name] for name in registry.names()]
    all_tags = sorted({t for entry in entries for t in entry.tags})
    for wanted in tag or []:
        if wanted not in all_tags:
            fail(f"no reward has the tag {wanted!r}{did_you_mean(wanted, all_tags)}; the tags are {', '.join(all_tags)}")
    chosen = [e for e in entries if set(tag or []) <= set(e.tags) and (word is None or _mentions(e, word))]
    if as_json:
        typer.echo(json.dumps([_as_json(entry) for entry in chosen], indent=2))
    elif chosen:
        name_width = max(len(entry.name) for entry in chosen)
        kind_width = max(len(_kind(entry)) for entry in chosen)
        for entry in chosen:
            origin = "" if entry.source == "builtin" else f"[plugin {_plugin_name(entry.source)}] "
            line = f"{entry.name:<{name_width}}  {_kind(entry):<{kind_width}}  {origin}{_summary(entry.description)}"
            out.print(_fit(line, out.width), highlight=False, markup=False, soft_wrap=True)
    for clash in registry.clashes:
        err.print(f"[yellow]name clash:[/] {escape(clash)}", highlight=False)
    for failure in registry.failures:
        err.print(f"[red]plugin failed to load:[/] {escape(f'{failure.source}: {failure.error}')}", highlight=False)
    if not chosen:
        hint = did_you_mean(word, [e.name for e in entries] + all_tags) if word else ""
        err.print(f"no reward matches{f' {word!r}' if word else ''}{' with tag ' + ', '.join(tag) if tag else ''}"
                  f"{hint}", highlight=False, markup=False)
        raise typer.Exit(1)


def _mentions(entry: RewardEntry, word: str) -> bool:
    text = " ".join([entry.name, *entry.tags, entry.description]).casefold()
    return word.casefold() in text


def _fit(line: str, width: int) -> str:
    return line if len(line) <= width else line[: max(width - 1, 0)] + "…"


def _kind(entry: RewardEntry) -> str:
    return entry.tags[0] if entry.tags else "-"


def _summary(description: str) -> str:
    """The first sentence, on one line."""
    flat = " ".join(description.split())
    end = flat.find(". ")
    return flat[: end + 1] if end >= 0 else flat


def _plugin_name(source: str) -> str:
    return source.removeprefix("plugin ").split(" ")[0]


def _as_json(entry: RewardEntry) -> dict[str, Any]:
    return {"name": entry.name, "kind": _kind(entry), "tags": entry.tags, "summary": _summary(entry.description),
            "description": entry.description, "source": entry.source, "target": entry.target,
            "params": entry.params, "golden_cases": len(entry.golden)}


def show(
    name: Annotated[str, typer.Argument(metavar="NAME", help="a registry name, pkg.module:attr, "
                                                             "path/to/file.py:attr, or a stack YAML file")],
) -> None:
    """Show one reward: what it scores, its params (type, default, description), its golden cases.
    A stack file is shown as the tree of its components and weights."""
    if name.endswith((".yaml", ".yml")) or Path(name).is_file():
        _show_stack(name)
        return
    entry: RewardEntry | None = None
    try:
        if ":" not in name:
            entry = default_registry().entry(name)
        target = target_of(name)
    except RewardError as exc:
        fail(str(exc))
    if isinstance(target, Composite):
        _show_tree(target, f"{name} ({_composite_kind(target)})")
        return
    description = entry.description if entry else without_param_docs(
        getattr(target, "description", "") or inspect.getdoc(target) or "")
    where = f"{entry.target}, {entry.source}" if entry else name
    tags = f"  [{', '.join(entry.tags)}]" if entry and entry.tags else ""
    title = entry.name if entry else getattr(target, "name", None) or name
    out.print(f"[bold]{escape(title)}[/]{escape(tags)}  ({escape(where)})", highlight=False)
    if description:
        out.print(description, highlight=False, markup=False)
    _show_params(params_model_of(target), entry.params if entry else {})
    if entry and entry.golden:
        _show_golden(entry)


def _show_params(model: type[BaseModel] | None, defaults: dict[str, Any]) -> None:
    rows: list[tuple[str, str, str, str]] = []
    if model is not None:
        for pname, info in model.model_fields.items():
            if pname in defaults:
                default = _short(repr(defaults[pname]))
            elif info.is_required():
                default = "required"
            else:
                default = _short(repr(info.get_default(call_default_factory=True)))
            rows.append((pname, _type_name(info.annotation), default, info.description or ""))
    else:
        rows = [(pname, type(value).__name__, repr(value), "") for pname, value in defaults.items()]
    if not rows:
        out.print("params: none")
        return
    described = any(row[3] for row in rows)
    table = folded_table("params", "name", "type", "default", *(["description"] if described else []))
    for row in rows:
        table.add_row(*(escape(cell) for cell in (row if described else row[:3])))
    out.print(table)


def _show_golden(entry: RewardEntry) -> None:
    table = folded_table(f"golden cases ({len(entry.golden)})", "completion", "reference", "params", "expect")
    for case in entry.golden:
        expect = case.status if case.status != "ok" else (
            f"{case.expected}" if case.expected is not None else f"[{case.min}, {case.max}]")
        cells = (repr(case.completion)[:80], repr(case.reference)[:40], str(case.params or ""), expect)
        table.add_row(*(escape(cell) for cell in cells))
    out.print(table)


def _type_name(annotation: Any) -> str:
    """`bool`, `strict | partial` for a Literal, `list[str]`: what to write, not Python's repr."""
    if get_origin(annotation) is Literal:
        return " | ".join(str(value) for value in get_args(annotation))
    return annotation.__name__ if isinstance(annotation, type) else str(annotation).replace("typing.", "")


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _show_stack(path: str) -> None:
    try:
        built = resolve(Path(path))
    except RewardError as exc:
        fail(str(exc))
    if isinstance(built, Composite):
        _show_tree(built, f"{built.name} ({_composite_kind(built)}), from {path}")
    else:
        out.print(f"[bold]{escape(built.name)}[/] from {escape(path)}", highlight=False)


def _show_tree(composite: Composite, title: str) -> None:
    tree = Tree(f"[bold]{escape(title)}[/]", highlight=False)
    _add_components(tree, composite)
    out.print(tree)


def _composite_kind(composite: Composite) -> str:
    if isinstance(composite, WeightedSum):
        return f"weighted_sum, on_skipped={composite.on_skipped}, on_error={composite.on_error}"
    if isinstance(composite, Gate):
        return f"gate: threshold {composite.threshold}, otherwise {composite.otherwise}"
    if isinstance(composite, Aggregate):
        return f"{composite.kind}, on_skipped={composite.on_skipped}, on_error={composite.on_error}"
    return type(composite).__name__


def _add_components(tree: Tree, composite: Composite) -> None:
    for index, component in enumerate(composite.components):
        if isinstance(composite, Gate):
            role = "gate" if index == 0 else "then"
        elif isinstance(composite, WeightedSum):
            role = f"× {_weight_text(component.weight)}"
        else:
            role = ""
        label = f"{component.name}: {role} " if role else f"{component.name}: "
        reward = component.reward
        if isinstance(reward, Composite):
            _add_components(tree.add(escape(f"{label}{reward.name} ({_composite_kind(reward)})")), reward)
        else:
            tree.add(escape(f"{label}{reward.name}{_changed_params(reward)}"))


def _weight_text(weight: Weight) -> str:
    if isinstance(weight, StepSchedule):
        return f"{weight.before} before step {weight.at}, {weight.after} from it"
    if isinstance(weight, LinearSchedule):
        return (f"{weight.start_value} → {weight.end_value} over steps {weight.start_step}–{weight.end_step}")
    return f"{weight}"


def _changed_params(reward: Reward) -> str:
    """` {mode: 'partial'}`: the params set away from their defaults, where the reward says."""
    changed: dict[str, Any] = {}
    if isinstance(reward, FunctionReward):
        fields = reward.params_model.model_fields
        changed = {k: v for k, v in reward.params.items()
                   if k in fields and (fields[k].is_required() or v != fields[k].get_default(call_default_factory=True))}
    elif isinstance(getattr(reward, "config", None), BaseModel):
        changed = reward.config.model_dump(exclude_defaults=True)  # type: ignore[attr-defined]
    return f" {changed}" if changed else ""
