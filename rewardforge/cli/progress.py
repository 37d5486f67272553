"""How `rewardforge score` shows a run under way.

In a terminal: a live bar that moves with every scored sample, with the count, the rate and the
time left. Elsewhere (a log file, CI, a pipe): one plain status line every `interval` seconds, so
a long run still shows it is alive without filling the log with bar redraws.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskProgressColumn, TextColumn
from rich.text import Text


class ProgressView(Protocol):
    def advance(self, count: int) -> None: ...

    def close(self) -> None: ...


def duration(seconds: float) -> str:
    """`75` -> `1:15`, `3725` -> `1:02:05`."""
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class _Count(ProgressColumn):
    def render(self, task: Task) -> Text:
        total = f"{int(task.total):,}" if task.total is not None else "?"
        return Text(f"{int(task.completed):,}/{total} rows")


class _RateAndEta(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.speed
        if not speed:
            return Text("-- rows/s", style="progress.data.speed")
        text = f"{speed:,.0f} rows/s"
        if task.total is not None:
            text += f"  ETA {duration(max(task.total - task.completed, 0) / speed)}"
        return Text(text, style="progress.remaining")


class LiveBar:
    """A rich progress bar on the terminal, redrawn ten times a second."""

    def __init__(self, console: Console, total: int | None, done: int = 0) -> None:
        self._progress = Progress(TextColumn("scoring"), BarColumn(), TaskProgressColumn(), _Count(), _RateAndEta(),
                                  console=console, transient=True, speed_estimate_period=10.0)
        self._task = self._progress.add_task("score", total=total, completed=done)
        self._progress.start()

    def advance(self, count: int) -> None:
        self._progress.advance(self._task, count)

    def close(self) -> None:
        self._progress.stop()


class StatusLines:
    """A plain line every `interval` seconds: `scoring: 1,200/20,000 rows (6%), 150 rows/s, ETA 2:05`."""

    def __init__(self, console: Console, total: int | None, done: int = 0, *, interval: float = 10.0) -> None:
        self._console = console
        self._total = total
        self._start_done = self._done = done
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._report, args=(interval,), name="rewardforge-status",
                                        daemon=True)
        self._thread.start()

    def advance(self, count: int) -> None:
        with self._lock:
            self._done += count

    def line(self) -> str:
        with self._lock:
            done = self._done
        rate = (done - self._start_done) / max(time.monotonic() - self._started, 1e-9)
        text = f"scoring: {done:,}"
        if self._total is not None:
            text += f"/{self._total:,} rows ({100 * done / max(self._total, 1):.0f}%)"
        else:
            text += " rows"
        text += f", {rate:,.0f} rows/s"
        if self._total is not None and rate > 0:
            text += f", ETA {duration(max(self._total - done, 0) / rate)}"
        return text

    def _report(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self._console.print(self.line(), highlight=False, markup=False, soft_wrap=True)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def progress_view(console: Console, total: int | None, done: int = 0, *, interval: float = 10.0) -> ProgressView:
    """A live bar when the console is a terminal, periodic status lines otherwise."""
    if console.is_terminal:
        return LiveBar(console, total, done)
    return StatusLines(console, total, done, interval=interval)
