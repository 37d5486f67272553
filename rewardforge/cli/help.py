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
            kind = param.display_type(ctx).strip("<>")
            param.metavar = "" if param.is_flag else _CLICK_NAMES.get(kind, kind.upper())
    return params


#: Click's names for the types typer shows, so an option without a metavar still reads naturally.
_CLICK_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "path": "PATH", "list[str]": "TEXT"}


class Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain(super().get_params(ctx), ctx)


class Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain(super().get_params(ctx), ctx)


def plain_help(app: typer.Typer) -> None:
    """Give every command and sub-app registered so far the plain rendering (whoever added them)."""
    for info in app.registered_commands:
        if info.cls in (None, TyperCommand):
            info.cls = Command
    for group in app.registered_groups:
        sub = group.typer_instance
        if sub is not None:
            if not isinstance(sub.info.cls, type) or sub.info.cls is TyperGroup:  # unset, or typer's own
                sub.info.cls = Group
            plain_help(sub)
