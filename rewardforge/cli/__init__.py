"""The `rewardforge` command. Each subcommand lives in its own module; this one only assembles them.

Usage errors (bad JSON on a line, a missing field, an unknown reward, a bad param) print one line
naming the problem and exit with code 2.
"""

import typer

from rewardforge.cli import catalog, check, demo, export, plugin, score

app = typer.Typer(help="Reward functions and verifiers for LLM RL.", no_args_is_help=True, add_completion=False)
app.command("list")(catalog.list_rewards)
app.command("show")(catalog.show)
app.command("score")(score.score)
app.command("test")(check.test)
app.command("demo")(demo.demo)
app.add_typer(export.app, name="export")
app.command("new-plugin")(plugin.new_plugin)

__all__ = ["app"]
