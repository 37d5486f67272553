"""The live view of a run: a progress bar with the numbers that say whether it is learning.

One line under the bar shows the latest step (reward and each component, length, KL, clipping, time);
notes (held-out results, dropped samples, checkpoints) print above it and stay in the scrollback.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


def _fmt(value: Any, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


class Display:
    def __init__(self, console: Console, total: int, done: int, label: str) -> None:
        self.console = console
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(), console=console)
        self.task = self.progress.add_task(label, total=total, completed=done)
        self.line = Text("  sampling the first batch…", style="dim")
        self.live = Live(Group(self.progress, self.line), console=console, refresh_per_second=4, transient=False)

    def __enter__(self) -> Display:
        self.live.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.live.stop()
        if not self.console.is_terminal:  # a file or pipe gets the final frame without its line end
            self.console.line()

    def step(self, row: dict[str, Any], components: list[str], dropped: int) -> None:
        parts = [f"step {row['step']}", f"reward {_fmt(row['reward/mean'])}"]
        parts += [f"{name} {_fmt(row.get(f'reward/{name}/mean'))}" for name in components]
        parts += [f"len {row['completion_length/mean']:.1f}", f"kl {_fmt(row['kl'], 4)}",
                  f"clip {row['clip_frac/low'] + row['clip_frac/high']:.3f}",
                  f"zero-std {row['frac_zero_std']:.2f}", f"{row['step_time_s']:.2f} s/step"]
        if dropped:
            parts.append(f"dropped {dropped}")
        self.line.plain = "  " + " | ".join(parts)
        self.line.style = ""
        self.progress.update(self.task, advance=1)

    def note(self, text: str) -> None:
        self.live.console.print(text, highlight=False)
