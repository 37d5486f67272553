"""The `rewardforge` command: list, show, score, test (golden cases, hacking probes), demo.

Usage errors (bad JSON on a line, a missing field, an unknown reward, a bad param) print one line
naming the problem and exit with code 2. Scored rows are written as they are produced, so nothing
already scored is lost when a later line is bad.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated, Any, NoReturn

import typer
import yaml
from pydantic import BaseModel
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from rewardforge.records import (
    Record,
    RecordError,
    count_lines,
    dump_line,
    parse_field_map,
    read_records,
    scored_row,
)
from rewardforge.rewards.cache import VerdictCache
from rewardforge.rewards.core import RewardError
from rewardforge.rewards.engine import score as score_samples
from rewardforge.rewards.registry import Registry, default_registry, import_object, resolve
from rewardforge.summary import ScoreSummary
from rewardforge.testing.golden import run_golden
from rewardforge.testing.probes import run_probes

app = typer.Typer(help="Reward functions and verifiers for LLM RL.", no_args_is_help=True, add_completion=False)
out = Console()
err = Console(stderr=True)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def fail(message: str, code: int = 2) -> NoReturn:
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


@app.command("list")
def list_rewards() -> None:
    """List every reward: built-ins and plugins, with where each comes from."""
    registry = default_registry()
    table = folded_table("rewards", "name", "source", "tags", "description")
    for name in registry.names():
        entry = registry.entries[name]
        table.add_row(name, entry.source, ", ".join(entry.tags), entry.description.split("\n")[0])
    out.print(table)
    for clash in registry.clashes:
        err.print(f"[yellow]name clash:[/] {clash}", highlight=False)
    for failure in registry.failures:
        err.print(f"[red]plugin failed to load:[/] {failure.source}: {failure.error}", highlight=False)


@app.command()
def show(name: Annotated[str, typer.Argument(help="registry name")]) -> None:
    """Show one reward: description, params schema and defaults, golden cases."""
    registry = default_registry()
    try:
        entry = registry.entry(name)
        target = import_object(entry.target)
    except RewardError as exc:
        fail(str(exc))
    out.print(f"[bold]{entry.name}[/]  ({entry.target}, {entry.source})")
    if entry.description:
        out.print(entry.description)
    params = folded_table("params", "name", "type", "default")
    model = getattr(target, "params_model", None)
    if isinstance(model, type) and issubclass(model, BaseModel):  # @reward functions, reward classes
        fields = model.model_fields
        declared = {k: f.get_default(call_default_factory=True) for k, f in fields.items() if not f.is_required()}
        defaults = {**declared, **entry.params}
        for pname, info in fields.items():
            default = repr(defaults[pname]) if pname in defaults else "required"
            params.add_row(pname, _type_name(info.annotation), default)
    else:
        for pname, value in entry.params.items():
            params.add_row(pname, type(value).__name__, repr(value))
    out.print(params)
    golden = folded_table("golden cases", "completion", "reference", "params", "expect")
    for case in entry.golden:
        expect = case.status if case.status != "ok" else (
            f"{case.expected}" if case.expected is not None else f"[{case.min}, {case.max}]")
        golden.add_row(repr(case.completion)[:80], repr(case.reference)[:40], str(case.params or ""), expect)
    out.print(golden)


@contextmanager
def open_output(path: str) -> Iterator[IO[bytes]]:
    if path == "-":
        yield sys.stdout.buffer
        return
    with open(path, "wb") as handle:
        yield handle


@app.command()
def score(
    reward: Annotated[str, typer.Option("--reward", "-r", help="registry name, pkg.module:attr, or stack YAML")],
    input: Annotated[Path, typer.Option("--input", "-i", help="JSONL with prompt/completion/reference/metadata")],
    output: Annotated[str, typer.Option("--output", "-o", help="JSONL to write ('-' for stdout)")],
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="KEY=VALUE reward param")] = None,
    field: Annotated[list[str] | None, typer.Option("--field", help="FIELD=COLUMN, e.g. reference=answer")] = None,
    timeout: Annotated[float | None, typer.Option(help="per-sample wall-clock limit, seconds")] = None,
    step: Annotated[int, typer.Option(help="training step, for scheduled weights")] = 0,
    cache: Annotated[Path | None, typer.Option(help="SQLite file to cache verdicts across runs")] = None,
    batch_size: Annotated[int, typer.Option(help="samples scored per engine call")] = 256,
) -> None:
    """Score a JSONL file; each output line is the input plus reward, status, reason, components, info."""
    if not input.is_file():
        fail(f"input file not found: {input}")
    if timeout is not None and timeout <= 0:
        fail(f"--timeout must be positive, got {timeout}")
    try:
        field_map = parse_field_map(field or [])
        built = resolve(reward, parse_params(param or []))
    except (RewardError, RecordError) as exc:
        fail(str(exc))
    verdict_cache = VerdictCache(cache) if cache else None
    summary = ScoreSummary()
    total = count_lines(input)

    def flush(batch: list[Record], sink: IO[bytes]) -> None:
        verdicts = score_samples(built, [r.sample for r in batch], timeout=timeout, step=step, cache=verdict_cache)
        for record, verdict in zip(batch, verdicts, strict=True):
            sink.write(dump_line(scored_row(record.row, verdict)))
            summary.add(verdict)
        sink.flush()
        progress.advance(task, len(batch))

    columns = (TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress, open_output(output) as sink, \
            input.open("rb") as source:
        task = progress.add_task("score", total=total)
        batch: list[Record] = []
        try:
            for record in read_records(source, field_map):
                batch.append(record)
                if len(batch) >= batch_size:
                    flush(batch, sink)
                    batch = []
        except RecordError as exc:
            if batch:
                flush(batch, sink)
            progress.stop()
            err.print(summary.table(f"{built.name}: scored {summary.count} rows before the error"))
            fail(str(exc))
        if batch:
            flush(batch, sink)
    err.print(summary.table(f"{built.name} on {input.name}"))


@app.command()
def test(
    names: Annotated[list[str] | None, typer.Argument(help="rewards to test (default: all)")] = None,
    timeout: Annotated[float, typer.Option(help="per-case wall-clock limit, seconds")] = 30.0,
    probes: Annotated[bool, typer.Option("--probes", help="also run the reward-hacking probes")] = False,
) -> None:
    """Run the golden cases of rewards from the registry (built-ins and plugins), and optionally the
    reward-hacking probes (reported, not failed: shaping rewards rightly let some through)."""
    registry = default_registry()
    chosen = names or registry.names()
    failed = 0
    table = folded_table("golden cases", "reward", "passed", "problems")
    for name in chosen:
        try:
            results = run_golden(registry, name, timeout=timeout)
        except RewardError as exc:
            failed += 1
            table.add_row(name, "-", f"cannot run: {exc}")
            continue
        problems = [f"case {r.index}: {r.problem}" for r in results if not r.passed]
        failed += len(problems)
        table.add_row(name, f"{len(results) - len(problems)}/{len(results)}", "\n".join(problems))
    out.print(table)
    if probes:
        _report_probes(registry, chosen, timeout)
    if failed:
        fail(f"{failed} golden case(s) failed", code=1)


def _report_probes(registry: Registry, names: list[str], timeout: float) -> None:
    title = "reward-hacking probes (a probe exploits a reward when it earns full credit)"
    table = folded_table(title, "reward", "probes run", "exploited by")
    for name in names:
        try:
            results = run_probes(registry, name, timeout=timeout)
        except RewardError as exc:
            table.add_row(name, "-", f"cannot run: {exc}")
            continue
        exploited = sorted({f"{r.probe} (case {r.case_index})" for r in results if r.exploited})
        table.add_row(name, str(len(results)) if results else "none (no full-credit golden case)",
                      ", ".join(exploited) or "-")
    out.print(table)


@app.command()
def demo(
    input: Annotated[Path, typer.Option(help="JSONL to score")] = EXAMPLES / "demo.jsonl",
    stack: Annotated[Path, typer.Option(help="reward stack YAML")] = EXAMPLES / "demo_stack.yaml",
) -> None:
    """Score the bundled example completions with a composed reward and show every component."""
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


def folded_table(title: str, *columns: str) -> Table:
    """A table whose long cells wrap instead of being cut."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _type_name(annotation: Any) -> str:
    return annotation.__name__ if isinstance(annotation, type) else str(annotation).replace("typing.", "")


def _cell(value: float | None) -> str:
    return "—" if value is None else f"{round(value, 3) + 0.0:.3f}"  # + 0.0 turns -0.0 into 0.0


def _one_line(text: str, width: int) -> str:
    """The end of the text on one line: that is where answers are."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else "…" + flat[-(width - 1):]


if __name__ == "__main__":
    app()
