"""`rewardforge train`: GRPO from a YAML config, or several configs compared on one plot.

The trainer (torch, transformers) is imported only when the command runs, so the other subcommands
start as fast as before.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rewardforge.cli.console import err, fail, parse_params
from rewardforge.cli.signals import Interrupts

if TYPE_CHECKING:
    from rewardforge.trainer.config import TrainConfig


def train(
    configs: Annotated[list[Path], typer.Argument(help="config YAML; two or more with --compare", show_default=False)],
    output_dir: Annotated[Path, typer.Option("--output-dir", "-o", metavar="DIR",
                                             help="where metrics, plots, checkpoints go")],
    set_: Annotated[list[str] | None, typer.Option("--set", metavar="KEY=VALUE", help="override a config key, "
                                                   "e.g. --set loss.beta=0.04 (values read as YAML); repeatable")] = None,
    compare: Annotated[bool, typer.Option("--compare", help="train each config (same seed) and draw their "
                                          "learning curves in DIR/compare.png")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="continue from the newest checkpoint in DIR")] = False,
) -> None:
    """Train a policy with GRPO on a reward stack; a config with `variants:` compares them."""
    from rewardforge.trainer.config import load_runs  # light: torch loads only once a run starts
    from rewardforge.trainer.errors import ConfigError, RewardFailure

    for pair in set_ or []:
        if "=" not in pair or pair.startswith("="):
            fail(f"--set {pair!r}: expected KEY=VALUE, e.g. --set loss.beta=0.04")
    overrides = parse_params(set_ or []).values  # read as YAML scalars, as --param values are
    if compare and len(configs) < 2:
        fail("--compare needs two or more config files")
    if not compare and len(configs) > 1:
        fail(f"got {len(configs)} config files; pass --compare to train and compare them")
    interrupts = Interrupts()
    try:
        runs: dict[str, TrainConfig] = {}
        for path in configs:
            for name, config in load_runs(path, overrides).items():  # a file's stem, or its variants' names
                runs[name if name not in runs else f"{path.stem}.{name}"] = config
        from rewardforge.trainer.compare import compare as compare_runs
        from rewardforge.trainer.loop import train as train_run

        # SIGTERM (a scheduler preempting the job) stops a run as Ctrl-C does: the loop names the checkpoint
        # to resume from. Checkpoints are written whole or not at all, so the signal may come at any time.
        with interrupts:
            if len(runs) == 1:
                (config,) = runs.values()
                train_run(config, output_dir, resume=resume)
            else:
                compare_runs(runs, output_dir, resume=resume)
    except ConfigError as exc:
        fail(str(exc))
    except RewardFailure as exc:
        fail(str(exc), code=1)
    except KeyboardInterrupt:
        err.print("stopped")
        raise typer.Exit(128 + (interrupts.received or signal.SIGINT)) from None

