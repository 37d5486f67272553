"""`rewardforge score`: score a JSONL file, keeping every scored row whatever happens.

Rows are scored in batches (a GRPO group is never split across two) and written in input order
to a temporary file that becomes the output at the end (see output.py). Ctrl-C and SIGTERM stop
the run between two rows: the rows scored so far become the output, the summary is printed, the
command to resume is named, and the exit code is 130 (SIGINT) or 143 (SIGTERM).
"""

from __future__ import annotations

import os
import shlex
import signal
import sqlite3
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.markup import escape

from rewardforge.cli.console import err, fail, reward_params
from rewardforge.cli.output import Output, check_paths
from rewardforge.cli.progress import progress_view
from rewardforge.cli.score_ray import score_on_ray
from rewardforge.cli.signals import Interrupts
from rewardforge.core.cache import VerdictCache
from rewardforge.core.compose import Composite
from rewardforge.core.engine import score as score_samples
from rewardforge.core.errors import RewardError, did_you_mean
from rewardforge.core.registry import resolve
from rewardforge.core.samples import SAMPLE_COLUMNS
from rewardforge.core.types import Reward, Score
from rewardforge.core.workers import configure_shared_pool
from rewardforge.records import (
    BadLine,
    Record,
    RecordError,
    bad_line_row,
    count_lines,
    dump_line,
    iter_rows,
    not_jsonl,
    parse_field_map,
    scored_row,
)
from rewardforge.summary import ScoreSummary
from rewardforge.testing.report import ScoreReport


class OnBadLine(str, Enum):
    fail = "fail"
    skip = "skip"


def score(
    reward: Annotated[str, typer.Option("--reward", "-r", metavar="NAME",
                                        help="registry name, pkg.module:attr, path/to/file.py:attr, or stack YAML file")],
    input: Annotated[str, typer.Option("--input", "-i", metavar="FILE",
                                       help="JSONL of prompt/completion/reference/metadata rows ('-' for stdin)")],
    output: Annotated[str, typer.Option("--output", "-o", metavar="FILE", help="JSONL to write ('-' for stdout)")],
    param: Annotated[list[str] | None, typer.Option("--param", "-p", metavar="KEY=VALUE",
                                                    help="a reward param; repeat for more")] = None,
    field: Annotated[list[str] | None, typer.Option("--field", metavar="FIELD=COLUMN",
                                                    help="read a sample field from another column, "
                                                         "e.g. reference=answer")] = None,
    timeout: Annotated[float | None, typer.Option(metavar="SECONDS", help="per-sample wall-clock limit")] = None,
    step: Annotated[int, typer.Option(metavar="N", help="training step, for scheduled weights")] = 0,
    cache: Annotated[Path | None, typer.Option(metavar="FILE", help="SQLite file of verdicts, kept across runs")] = None,
    batch_size: Annotated[int, typer.Option(metavar="N", min=1, help="samples per engine call")] = 256,
    on_bad_line: Annotated[OnBadLine, typer.Option(metavar="fail|skip",
                                                   help="stop at an unreadable line, or write an error row "
                                                        "for it and go on")] = OnBadLine.fail,
    resume: Annotated[bool, typer.Option("--resume", help="keep the rows already in the output and "
                                                          "score only the rest")] = False,
    force: Annotated[bool, typer.Option("--force", help="replace an existing output")] = False,
    status_every: Annotated[float, typer.Option(metavar="SECONDS", min=0.1,
                                                help="seconds between status lines when stderr is not "
                                                     "a terminal")] = 10.0,
    report: Annotated[Path | None, typer.Option(metavar="FILE", help="also write a self-contained HTML report "
                                                                     "of this run's rows here")] = None,
    backend: Annotated[str, typer.Option(metavar="local|ray", help="ray: score as a Ray Data pipeline "
                                                                  "(JSONL or Parquet input)")] = "local",
    address: Annotated[str | None, typer.Option(metavar="ADDRESS", help="--backend ray: the cluster to join "
                                                                       "('auto': the one running here)")] = None,
    workers: Annotated[int | None, typer.Option(metavar="N", min=1, help="worker processes (default: "
                                                "RF_WORKERS, else one per CPU)")] = None,
) -> None:
    """Score a JSONL file; each output line is the input plus reward, status, reason, components, info."""
    if backend != "local":
        score_on_ray(backend, reward, input, output, param, field, timeout, step, cache, batch_size, address,
                     on_bad_line=on_bad_line.value, force=force, resume=resume, report=report)
        return
    if timeout is not None and timeout <= 0:
        fail(f"--timeout must be positive, got {timeout}")
    if resume and force:
        fail("--resume and --force contradict each other: keep the output's rows, or replace them?")
    if resume and output == "-":
        fail("--resume needs an output file: rows already written to stdout cannot be read back")
    if input != "-" and not Path(input).is_file():
        fail(f"input file not found: {input}" if not Path(input).exists() else f"input is not a file: {input}")
    if input != "-":
        with open(input, "rb") as head:
            problem = not_jsonl(head.read(64))
        if problem:
            fail(f"--input {input}: {problem}")
    check_paths(input, output)
    try:
        field_map = parse_field_map(field or [])
    except RecordError as exc:
        fail(str(exc))
    built = _build_reward(reward, param or [])
    if workers is not None:
        configure_shared_pool(workers)
    verdict_cache = _open_cache(cache)
    sink = Output(output, resume=resume, force=force)
    run = _Run(built, field_map, sink, timeout=timeout, step=step, cache=verdict_cache)
    title = f"{built.name} on {'stdin' if input == '-' else Path(input).name}"
    run.html_report = ScoreReport(title) if report else None
    total = count_lines(Path(input)) if input != "-" else None
    with _open_input(input) as source, Interrupts() as interrupts:
        try:
            run.view = progress_view(err, total, sink.rows, interval=status_every)
            run.score_all(iter_rows(source, field_map), batch_size=batch_size,
                          skip_bad=on_bad_line is OnBadLine.skip, interrupts=interrupts)
        except BrokenPipeError:  # `-o - | head`: the reader has what it wanted
            run.close_view()
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
            raise typer.Exit(128 + signal.SIGPIPE) from None
        except KeyboardInterrupt:
            run.stop(f"{built.name}: interrupted after {_rows(sink.rows)}")
            _explain_interrupt(interrupts.received or signal.SIGINT, sink)
        except RecordError as exc:
            run.stop(f"{built.name}: {_rows(sink.rows)} scored before the bad line")
            if not sink.rows:
                kept = "Fix the line,"
            elif output == "-":
                kept = f"The {_rows(sink.rows)} before it went to stdout. Fix the line,"
            else:
                kept = (f"The {_rows(sink.rows)} before it {'is' if sink.rows == 1 else 'are'} in {output}; "
                        "fix the line and run again with --resume,")
            fail(f"{exc}. {kept} or pass --on-bad-line skip to write an error row for it and go on")
        except sqlite3.Error as exc:
            run.stop(f"{built.name}: {_rows(sink.rows)} scored before the cache failed")
            fail(f"--cache {cache}: {exc}")
        except typer.Exit:  # a usage error found on the way (a --field column missing); its message is out
            run.close_view()
            sink.discard()
            raise
        except BaseException:
            run.stop(f"{built.name}: {_rows(sink.rows)} scored before the failure")
            raise
    run.finish(title)
    if run.html_report is not None and report is not None:
        run.html_report.write(report)


def _build_reward(spec: str, pairs: list[str]) -> Reward:
    """The reward, its params read by the types it declares; a rejected param says how it was read."""
    params = None
    try:
        params = reward_params(spec, pairs)
        return resolve(spec, params.values or None)
    except RewardError as exc:
        fail(f"{exc}{params.advice(exc.param) if params else ''}")


def _open_cache(path: Path | None) -> VerdictCache | None:
    if path is None:
        return None
    if not path.parent.is_dir():
        fail(f"--cache {path}: the folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        fail(f"--cache {path}: the folder {path.parent} is not writable")
    try:
        return VerdictCache(path)
    except sqlite3.OperationalError as exc:  # locked, read-only, no permission
        fail(f"--cache {path}: cannot open it ({exc})")
    except sqlite3.DatabaseError as exc:
        fail(f"--cache {path}: not a verdict cache ({exc}); delete it or choose another file")


@contextmanager
def _open_input(path: str) -> Iterator[IO[bytes]]:
    if path == "-":
        yield sys.stdin.buffer
        return
    with open(path, "rb") as handle:
        yield handle


class _Run:
    """One scoring run: batches in, rows out, statistics and hints along the way."""

    def __init__(self, reward: Reward, field_map: dict[str, str], sink: Output, *, timeout: float | None,
                 step: int, cache: VerdictCache | None) -> None:
        self.reward = reward
        self.field_map = field_map
        self.sink = sink
        self.options: dict[str, Any] = {"timeout": timeout, "step": step, "cache": cache}
        self.summary = ScoreSummary()
        self.columns: set[str] = set()
        self.skipped_without: Counter[str] = Counter()  # skipped samples, by Sample field absent from their row
        self.view: Any = None
        self.html_report: ScoreReport | None = None

    def score_all(self, items: Iterable[Record | BadLine], *, batch_size: int, skip_bad: bool,
                  interrupts: Interrupts) -> None:
        first = True
        for batch in _batches(self._after_resumed(items), batch_size, skip_bad=skip_bad):
            records = [item for item in batch if isinstance(item, Record)]
            if first and records:
                self._check_mapped_columns(records)
                first = False
            verdicts = iter(score_samples(self.reward, [r.sample for r in records], progress=self.view.advance,
                                          **self.options))
            with interrupts.writing():
                for item in batch:
                    if isinstance(item, BadLine):
                        self._write(bad_line_row(item), Score.error(item.problem))
                        self.view.advance(1)
                    else:
                        verdict = next(verdicts)
                        self._write(scored_row(item.row, verdict), verdict)
                        if self.html_report is not None:
                            self.html_report.add(item.sample, verdict)
                        self.columns.update(item.row)
                        if verdict.status == "skipped":
                            self.skipped_without.update(item.absent)
                self.sink.flush()

    def _after_resumed(self, items: Iterable[Record | BadLine]) -> Iterator[Record | BadLine]:
        """The input past the rows an earlier run already scored, each of those checked on the way."""
        expected = len(self.sink.expected)
        position = 0
        for item in items:
            if position < expected:
                self.sink.check_resumed(position, item)
                position += 1
                continue
            yield item
        if position < expected:
            self.sink.discard()
            fail(f"--resume: {self.sink.path} has {expected:,} rows but the input only {position:,}; "
                 "it comes from another input file (use --force to start over)")

    def _check_mapped_columns(self, records: list[Record]) -> None:
        seen = {column for record in records for column in record.row}
        for name, column in self.field_map.items():
            if column not in seen:
                self.sink.discard()
                fail(f"--field {name}={column}: no row has a column {column!r}{did_you_mean(column, seen)}; "
                     f"the input's columns are {', '.join(sorted(seen))}")

    def _write(self, row: dict[str, Any], verdict: Score) -> None:
        self.sink.write(dump_line(row))
        self.summary.add(verdict)

    def close_view(self) -> None:
        if self.view is not None:
            self.view.close()
            self.view = None

    def stop(self, title: str) -> None:
        """Keep what was scored (when anything was) and show the summary of it."""
        self.close_view()
        if self.sink.rows:
            self.sink.commit()
        else:
            self.sink.discard()
        if self.summary.count:
            err.print(self.summary.table(title))

    def finish(self, title: str) -> None:
        self.close_view()
        self.sink.commit()
        err.print(self.summary.table(title))
        kept = len(self.sink.expected)
        if kept:
            err.print(f"resumed: the {_rows(kept)} already in {self.sink.path} {'was' if kept == 1 else 'were'} "
                      f"kept as they were, so the summary above counts only the {_rows(self.summary.count)} "
                      f"scored now; {self.sink.path} has all {_rows(self.sink.rows)}", highlight=False,
                      soft_wrap=True, markup=False)
        hint = self._skip_hint()
        if hint:
            err.print(f"[yellow]note:[/] {escape(hint)}", highlight=False, soft_wrap=True)

    def _skip_hint(self) -> str:
        """When most samples were skipped for want of a field, say which column might hold it."""
        skipped = self.summary.statuses.get("skipped", 0)
        if skipped * 2 <= self.summary.count:
            return ""
        read = _fields_read(self.reward)
        for name in ("reference", "prompt", "group_id"):  # metadata is never absent: extra columns fill it
            count = self.skipped_without[name]
            if count * 2 <= skipped or name not in read:
                continue
            column = self.field_map.get(name, name)
            unused = sorted(self.columns - set(SAMPLE_COLUMNS) - set(self.field_map.values()))
            guess = next((c for c in _LIKELY_COLUMNS.get(name, ()) if c in unused), None)
            advice = f"use --field {name}={guess}" if guess else f"use --field {name}=COLUMN"
            return (f"{skipped:,} of {self.summary.count:,} samples were skipped, {count:,} of them with no "
                    f"{column!r} value; the input has {', '.join(unused) or 'no other columns'}: {advice}")
        return ""


def _fields_read(reward: Reward) -> frozenset[str]:
    """The Sample fields a reward (or any component of a composite) reads."""
    if isinstance(reward, Composite):
        return frozenset().union(*(_fields_read(c.reward) for c in reward.components))
    fields: frozenset[str] = getattr(reward, "fields", frozenset(SAMPLE_COLUMNS))
    return fields


#: Columns that often hold a Sample field under another name, most likely first.
_LIKELY_COLUMNS = {
    "reference": ("answer", "gold", "solution", "ground_truth", "target", "label", "expected", "final_answer"),
    "prompt": ("question", "problem", "query", "instruction", "input"),
    "group_id": ("group", "prompt_id", "question_id", "problem_id"),
}


def _batches(items: Iterable[Record | BadLine], size: int, *, skip_bad: bool) -> Iterator[list[Record | BadLine]]:
    """Batches of about `size` lines, in order. A GRPO group (consecutive rows with one group_id) is
    never split across two batches, so group-relative rewards see it whole. With `skip_bad` off,
    the lines before a bad one are scored and then the bad line stops the run."""
    batch: list[Record | BadLine] = []
    for item in items:
        if isinstance(item, BadLine) and not skip_bad:
            if batch:
                yield batch
            raise RecordError(item.problem)
        if len(batch) >= size and not _same_group(batch[-1], item):
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch


def _same_group(last: Record | BadLine, item: Record | BadLine) -> bool:
    if not isinstance(last, Record) or not isinstance(item, Record):
        return False
    return last.sample.group_id is not None and last.sample.group_id == item.sample.group_id


def _rows(count: int) -> str:
    """`1 row`, `6,656 rows`."""
    return f"{count:,} row{'' if count == 1 else 's'}"


def _explain_interrupt(signum: int, sink: Output) -> None:
    name = signal.Signals(signum).name
    if sink.path == "-":
        err.print(f"interrupted by {name}; the {_rows(sink.rows)} scored so far went to stdout", highlight=False,
                  markup=False)
    else:
        argv = [arg for arg in sys.argv[1:] if arg not in ("--force", "--resume")]
        command = shlex.join([os.path.basename(sys.argv[0]) or "rewardforge", *argv, "--resume"])
        err.print(f"interrupted by {name}; the {_rows(sink.rows)} scored so far {'is' if sink.rows == 1 else 'are'} "
                  f"in {sink.path}. "
                  f"To finish the run, resume it with --resume:\n  {command}", highlight=False, soft_wrap=True,
                  markup=False)
    raise typer.Exit(128 + signum)
