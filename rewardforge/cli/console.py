"""What every subcommand shares: the two consoles, one-line failures, tables, `--param` parsing."""

from __future__ import annotations

from typing import Any, NoReturn

import typer
import yaml
from rich.console import Console
from rich.table import Table

out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one line naming the problem and exit (2: the user's input is at fault)."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """`key=value` pairs; values are read as YAML scalars, so 0.5, true and [a, b] get their types."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            fail(f"--param {pair!r}: expected KEY=VALUE")
        try:
            value = yaml.safe_load(raw) if raw else ""
        except yaml.YAMLError:
            value = raw
        # "answer: [0-9]+" is a pattern, not a mapping: only an explicit {...} becomes a dict
        params[key] = raw if isinstance(value, dict) and not raw.lstrip().startswith("{") else value
    return params


def folded_table(title: str, *columns: str) -> Table:
    """A table whose long cells wrap instead of being cut."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table
