"""The `rewardforge` command. Each subcommand lives in its own module; this one only assembles them.

Usage errors (bad JSON on a line, a missing field, an unknown reward, a bad param) print one line
naming the problem and exit with code 2.
"""

import os
import sys
from typing import Annotated

import typer

from rewardforge import __version__
from rewardforge.cli import catalog, check, demo, export, plugin, score, serve, train
from rewardforge.cli.help import Group, plain_help

app = typer.Typer(help="Reward functions and verifiers for LLM RL.", no_args_is_help=True, add_completion=False,
                  cls=Group)
app.command("list")(catalog.list_rewards)
app.command("show")(catalog.show)
app.command("score")(score.score)
app.command("test")(check.test)
app.command("demo")(demo.demo)
app.add_typer(export.app, name="export")
app.command("new-plugin")(plugin.new_plugin)
app.command("serve")(serve.serve)
app.command("train")(train.train)
plain_help(app)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"rewardforge {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="print the version and exit")] = False,
) -> None:
    """Reward functions and verifiers for LLM RL: score files, inspect and test rewards."""
    _import_from_the_current_directory()


def _import_from_the_current_directory() -> None:
    """`-r my_rewards:keyword` finds my_rewards.py in the current directory, as `python -m` would. A
    console script's sys.path has only its own folder; the directory goes last, so it never hides an
    installed package."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.append(cwd)


__all__ = ["app"]
