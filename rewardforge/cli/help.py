"""`--help` that reads like the README: `--input FILE`, `--param KEY=VALUE`, `NAME`, flags bare.

Typer shows Python types as placeholders (`<bool>`, `<list[str]>`) and writes a required argument
as `{name}` in the usage line. Every command and the group use these classes instead: an option
shows its metavar (or the click-style type name when it has none), a flag shows nothing, an
argument shows its name in capitals.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption


class _PlainArgument(TyperArgument):
    """An argument shown by its name alone: `NAME`, `[NAMES]...`. It adds no state to TyperArgument."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def _usage_display_name(self) -> str:
        name = self.display_name_raw.upper()
        name = name if self.required else f"[{name}]"
        return f"{name}..." if self.nargs != 1 else name


def _plain(params: list[Any], ctx: Any) -> list[Any]:
    for param in params:
        if isinstance(param, TyperArgument) and not isinstance(param, _PlainArgument):
            param.__class__ = _PlainArgument  # same state, plainer rendering
        elif isinstance(param, TyperOption) and param.metavar is None:
            param.metavar = "" if param.is_flag else param.display_type(ctx).strip("<>").upper()
    return params


class Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain(super().get_params(ctx), ctx)


class Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain(super().get_params(ctx), ctx)


def plain_help(app: typer.Typer) -> None:
    """Give every command registered so far the plain rendering (commands added by any module)."""
    for info in app.registered_commands:
        if info.cls in (None, TyperCommand):
            info.cls = Command
