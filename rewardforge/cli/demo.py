"""`rewardforge demo`: score the bundled examples with a composed stack and show every component, then
train a tiny model with GRPO on the toy arithmetic task (shortened) to show a reward at work."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from rewardforge.cli.console import fail, out
from rewardforge.core.engine import score as score_samples
from rewardforge.core.registry import resolve
from rewardforge.records import read_records
from rewardforge.summary import ScoreSummary

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: examples/grpo_toy.yaml, shortened for the demo: the same warm start, a third of the GRPO steps.
SHORT_TOY: dict[str, Any] = {"steps": 60, "eval.size": 100, "eval.every": 0, "output.plot_every": 20,
                             "output.checkpoint_every": 1000, "output.save_model": False}


def demo(
    input: Annotated[Path, typer.Option(help="JSONL to score")] = EXAMPLES / "demo.jsonl",
    stack: Annotated[Path, typer.Option(help="reward stack YAML")] = EXAMPLES / "demo_stack.yaml",
    train: Annotated[bool, typer.Option("--train/--no-train", help="then GRPO on the toy task (under a "
                                        "minute on a laptop CPU)")] = True,
    train_dir: Annotated[Path | None, typer.Option(metavar="DIR", help="where the toy run's files go "
                                                   "(default: a new temporary folder)")] = None,
) -> None:
    """Score the bundled example completions with a composed reward, then train a tiny model on a toy."""
    score_examples(input, stack)
    if train:
        train_toy(train_dir)


def score_examples(input: Path, stack: Path) -> None:
    if not input.is_file() or not stack.is_file():
        fail(f"demo files not found ({input}, {stack}); run from a source checkout or pass --input/--stack")
    with input.open("rb") as source:
        records = list(read_records(source, {}))
    built = resolve(stack)
    verdicts = score_samples(built, [r.sample for r in records], timeout=30.0)
    names = list(dict.fromkeys(name for v in verdicts for name in v.components))
    table = Table(title=f"{built.name}: {stack.name} on {input.name}")
    table.add_column("#", justify="right")
    table.add_column("completion (end)", no_wrap=True, max_width=24)
    for name in [*names, "reward"]:
        table.add_column(name, justify="right", min_width=6, style="bold" if name == "reward" else None)
    summary = ScoreSummary()
    notes = []
    for row, (record, verdict) in enumerate(zip(records, verdicts, strict=True), start=1):
        summary.add(verdict)
        cells = [_cell(verdict.components.get(name)) for name in names]
        table.add_row(str(row), _one_line(record.sample.completion_text, 24), *cells, _cell(verdict.value))
        if not verdict.ok:
            notes.append(f"#{row}: {verdict.status}: {verdict.reason}")
        for applied in verdict.info.get("policy_applied", []):
            notes.append(f"#{row}: {applied}")
    out.print(table)
    for note in notes:
        out.print(f"  {note}", highlight=False)
    out.print(summary.table("summary"))


def _cell(value: float | None) -> str:
    return "—" if value is None else f"{round(value, 3) + 0.0:.3f}"  # + 0.0 turns -0.0 into 0.0


def _one_line(text: str, width: int) -> str:
    """The end of the text on one line: that is where answers are."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else "…" + flat[-(width - 1):]


def train_toy(train_dir: Path | None) -> None:
    """examples/grpo_toy.yaml, shortened: a tiny model learns two-digit sums from the reward."""
    from rewardforge.trainer.config import load_runs
    from rewardforge.trainer.errors import ConfigError
    from rewardforge.trainer.loop import train

    toy = EXAMPLES / "grpo_toy.yaml"
    out.rule("[bold]GRPO on a toy task")
    out.print("A tiny Llama built in code learns two-digit sums: a short supervised warm start, then GRPO "
              f"rewarded by tag_format + math_equivalence ({toy.name}, {SHORT_TOY['steps']} steps here).",
              highlight=False)
    target = train_dir or Path(tempfile.mkdtemp(prefix="rewardforge-demo-"))
    try:
        (config,) = load_runs(toy, SHORT_TOY).values()
        train(config, target, console=out)
    except ConfigError as exc:
        fail(str(exc))
    out.print(f"reward curves: {target / 'reward_curve.png'}; the full toy: rewardforge train {toy} "
              "--output-dir out/grpo_toy", highlight=False)
