"""What every subcommand shares: the two consoles, one-line failures, tables, `--param` parsing."""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NoReturn, Union, get_args, get_origin

import typer
import yaml
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rewardforge.core.registry import params_model_of, target_of

out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one line naming the problem and exit (2: the user's input is at fault)."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@dataclass
class Params:
    """`--param` values, and for each value that was read as YAML, the text it was read from."""

    values: dict[str, Any] = field(default_factory=dict)
    read_as_yaml: dict[str, str] = field(default_factory=dict)
    declared: frozenset[str] | None = None  # the params the reward declares, when it declares them

    def advice(self, param: str | None) -> str:
        """How a rejected value was read and how to pass it as text instead. Without the name of the
        param at fault, every value that YAML turned into null or a boolean is suspect; a param the
        reward does not declare is misnamed, not misread."""
        readable = [key for key in self.read_as_yaml if self.declared is None or key in self.declared]
        if param is None:
            suspects = [key for key in readable if self.values[key] is None or isinstance(self.values[key], bool)]
            return "".join(self._read_as(key) for key in suspects)
        return self._read_as(param) if param in readable else ""

    def _read_as(self, param: str) -> str:
        raw = self.read_as_yaml[param]
        value = self.values[param]
        shown = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
        if isinstance(value, list):
            return (f" (--param {param}={raw} was read as YAML: {shown}; quote each item that must stay text, "
                    f"e.g. --param '{param}=[\"yes\", \"1.0\"]')")
        quoted = raw.replace("\\", "\\\\").replace('"', '\\"')
        return (f" (--param {param}={raw} was read as YAML: {shown}, a {type(value).__name__}; "
                f"to pass it as text, quote it: --param '{param}=\"{quoted}\"')")


def reward_params(spec: str, pairs: list[str]) -> Params:
    """`--param` pairs for the reward `spec` names, read by the types it declares (a stack file's
    params live inside it). Raises RewardError for a name that does not resolve."""
    if not pairs:
        return Params()
    model = None if spec.endswith((".yaml", ".yml")) else params_model_of(target_of(spec))
    return parse_params(pairs, model)


def parse_params(pairs: list[str], model: type[BaseModel] | None = None) -> Params:
    """`key=value` pairs, read by the type the reward declares for each param (when it declares one).

    - A text param (`str`, `str | None`, a Literal of strings) takes the value as written, so
      `pattern=#### \\d+` and `mode=yes` stay text. A value in quotes loses its quotes.
    - A list param takes a YAML list (`[a, b]`); a single value becomes a one-element list
      (`rules=boxed` is `["boxed"]`, not its characters).
    - Anything else is read as a YAML scalar: `0.5`, `true`, `null`; a mapping needs explicit
      braces (`{a: 1}`), so `answer: [0-9]+` stays text. A number param never takes `yes`/`no`.
    """
    params = Params(declared=frozenset(model.model_fields) if model is not None else None)
    fields = model.model_fields if model is not None else {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            fail(f"--param {pair!r}: expected KEY=VALUE")
        annotation = fields[key].annotation if key in fields else Any
        if _is_text(annotation):
            params.values[key] = _unquoted(raw)
            continue
        value = _yaml_value(raw)
        element = _list_element(annotation)
        if element is not None and not isinstance(value, list | tuple):
            value = [_unquoted(raw) if _is_text(element) else value]
        elif element is None and annotation is not Any:  # a number, a bool, a mapping: its own error is clear
            params.values[key] = _number(raw, value) if _is_number(annotation) else value
            continue
        params.values[key] = value
        if not _all_text(value):  # YAML made something else of it: a rejection may need quoting advice
            params.read_as_yaml[key] = raw
    return params


def _number(raw: str, value: Any) -> Any:
    """A number param's value: `1e-6` is a float (YAML 1.1 reads it as text), `yes` stays text."""
    if isinstance(value, bool):
        return raw
    if isinstance(value, str):
        try:
            return float(raw)
        except ValueError:
            return value
    return value


def _all_text(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list | tuple) and all(isinstance(v, str) for v in value))


def _yaml_value(raw: str) -> Any:
    try:
        value = yaml.safe_load(raw) if raw else ""
    except yaml.YAMLError:
        return raw
    # "answer: [0-9]+" is a pattern, not a mapping: only an explicit {...} becomes a dict
    return raw if isinstance(value, dict) and not raw.lstrip().startswith("{") else value


def _unquoted(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        value = _yaml_value(raw)
        return value if isinstance(value, str) else raw
    return raw


def _members(annotation: Any) -> tuple[Any, ...]:
    """The non-None members of a union (or the annotation itself), with Annotated unwrapped."""
    if get_origin(annotation) is Annotated:
        return _members(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        return tuple(m for arg in get_args(annotation) if arg is not type(None) for m in _members(arg))
    return (annotation,)


def _is_text(annotation: Any) -> bool:
    members = _members(annotation)
    return bool(members) and all(
        m is str or (get_origin(m) is Literal and all(isinstance(v, str) for v in get_args(m))) for m in members)


def _is_number(annotation: Any) -> bool:
    """An int or float param: YAML's `yes`/`no` are not numbers, however pydantic would coerce them."""
    members = _members(annotation)
    return bool(members) and all(m in (int, float) for m in members)


def _list_element(annotation: Any) -> Any | None:
    """The element type when every member of the annotation is a list, tuple or set; else None."""
    members = _members(annotation)
    if not members or not all(get_origin(m) in (list, tuple, set, frozenset) for m in members):
        return None
    args = get_args(members[0])
    return args[0] if args else Any


def folded_table(title: str, *columns: str) -> Table:
    """A table whose long cells wrap instead of being cut."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table
