"""Reward-design experiments: several runs on the same seed, their learning curves in one picture."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from rewardforge.trainer.config import TrainConfig
from rewardforge.trainer.loop import RunResult, train
from rewardforge.trainer.plots import plot_compare


def compare(runs: dict[str, TrainConfig], out_dir: Path, *, resume: bool = False,
            console: Console | None = None) -> dict[str, RunResult]:
    """Train each run into ``out_dir/<name>``, then draw ``out_dir/compare.png`` and print a table."""
    console = console or Console()
    seeds = {config.seed for config in runs.values()}
    if len(seeds) > 1:
        console.print(f"[yellow]note[/]: the runs use different seeds ({sorted(seeds)}); differences mix the "
                      "design with the luck of the draw", highlight=False)
    results = {}
    for name, config in runs.items():
        console.rule(f"[bold]{name}")
        results[name] = train(config, out_dir / name, resume=resume, console=console)
    window = max(config.output.rolling_window for config in runs.values())
    plot_compare({name: (r.metrics, r.evals) for name, r in results.items()}, out_dir / "compare.png", window=window,
                 title=" vs ".join(results))
    table = Table(title="held-out accuracy (greedy)")
    for column in ("run", "reward", "before", "after", "change"):
        table.add_column(column, justify="left" if column in ("run", "reward") else "right")
    for name, result in results.items():
        before, after = result.accuracy_before, result.accuracy_final
        spec = runs[name].reward
        table.add_row(name, spec if isinstance(spec, str) else str(spec.get("name", "stack")),
                      "—" if before is None else f"{100 * before:.1f}%", "—" if after is None else f"{100 * after:.1f}%",
                      "—" if before is None or after is None else f"{100 * (after - before):+.1f}")
    console.print(table)
    console.print(f"curves: {out_dir / 'compare.png'}", highlight=False)
    return results
