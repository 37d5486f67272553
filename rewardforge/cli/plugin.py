"""`rewardforge new-plugin NAME`: scaffold a plugin package with golden cases, probes, tests and CI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rewardforge.cli.console import fail, out
from rewardforge.core.types import RewardError
from rewardforge.testing.scaffold import plugin_names, write_plugin


def new_plugin(
    name: Annotated[str, typer.Argument(help="distribution name, e.g. my-rewards (import name: my_rewards)")],
    directory: Annotated[Path | None, typer.Option("--dir", help="where to write it (default: ./NAME)")] = None,
    force: Annotated[bool, typer.Option("--force", help="write into a folder that is not empty")] = False,
) -> None:
    """Write a plugin package, tested from its first commit.

    It has a pyproject with entry points, a reward, registry.yaml with golden cases, a plugin probe,
    tests using rewardforge's pytest helpers and probes, a README and a CI script."""
    target = directory or Path(name)
    try:
        names = plugin_names(name)
        written = write_plugin(name, target, force=force)
    except RewardError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write {target}: {exc}")
    out.print(f"wrote {len(written)} files to {target}/", markup=False, highlight=False)
    for path in written:
        out.print(f"  {path.relative_to(target)}", markup=False, highlight=False)
    out.print(f"\nnext:\n  cd {target}\n  pip install -e '.[test]'\n  pytest\n"
              f"  rewardforge test --plugin {names.dist} --probes", markup=False, highlight=False)
