"""`rewardforge score`: score a JSONL file, streaming scored rows out as they are produced."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rewardforge.cli.console import err, fail, parse_params
from rewardforge.core.cache import VerdictCache
from rewardforge.core.engine import score as score_samples
from rewardforge.core.registry import resolve
from rewardforge.core.types import RewardError
from rewardforge.records import (
    Record,
    RecordError,
    count_lines,
    dump_line,
    parse_field_map,
    read_records,
    scored_row,
)
from rewardforge.summary import ScoreSummary
from rewardforge.testing.report import ScoreReport


@contextmanager
def open_output(path: str) -> Iterator[IO[bytes]]:
    if path == "-":
        yield sys.stdout.buffer
        return
    with open(path, "wb") as handle:
        yield handle


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
    report: Annotated[Path | None, typer.Option(help="also write a self-contained HTML report here")] = None,
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
    html_report = ScoreReport(f"{built.name} on {input.name}") if report else None
    total = count_lines(input)

    def flush(batch: list[Record], sink: IO[bytes]) -> None:
        verdicts = score_samples(built, [r.sample for r in batch], timeout=timeout, step=step, cache=verdict_cache)
        for record, verdict in zip(batch, verdicts, strict=True):
            sink.write(dump_line(scored_row(record.row, verdict)))
            summary.add(verdict)
            if html_report:
                html_report.add(record.sample, verdict)
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
    if html_report and report:
        html_report.write(report)
