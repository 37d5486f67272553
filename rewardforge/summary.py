"""Running statistics over scored samples, for the CLI's closing table (and anyone logging rewards)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from rich.table import Table

from rewardforge.core.types import Score


@dataclass
class _Moments:
    """Welford's running mean and variance: one pass, numerically stable."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, value: float) -> None:
        self.count += 1
        delta = value - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (value - self.mean)

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.count) if self.count else 0.0


@dataclass
class ScoreSummary:
    """Count, mean and std of ok values, status counts and per-component means."""

    values: _Moments = field(default_factory=_Moments)
    statuses: Counter[str] = field(default_factory=Counter)
    components: dict[str, _Moments] = field(default_factory=dict)
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, score: Score) -> None:
        self.statuses[score.status] += 1
        if score.value is not None:
            self.values.add(score.value)
        elif score.reason:
            self.reasons[score.reason.split(":")[0][:80]] += 1
        for name, value in score.components.items():
            if value is not None:
                self.components.setdefault(name, _Moments()).add(value)

    @property
    def count(self) -> int:
        return sum(self.statuses.values())

    def table(self, title: str) -> Table:
        table = Table(title=title, show_header=True, min_width=len(title) + 4)  # a title on one line
        table.add_column("metric")
        table.add_column("value", justify="right")
        table.add_row("samples", str(self.count))
        for status in ("ok", "skipped", "error"):
            table.add_row(f"status {status}", str(self.statuses.get(status, 0)))
        if self.values.count:
            table.add_row("reward mean", _number(self.values.mean))
            table.add_row("reward std", _number(self.values.std))
        for name, moments in sorted(self.components.items()):
            table.add_row(f"  {name} mean", f"{_number(moments.mean)}  (n={moments.count})")
        for reason, count in self.reasons.most_common(5):
            table.add_row(f"  not ok: {reason}", str(count))
        return table


def _number(value: float) -> str:
    """Four decimals, and never `-0.0000` for a mean that rounds to zero from below."""
    text = f"{value:.4f}"
    return "0.0000" if text == "-0.0000" else text
