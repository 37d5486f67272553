"""Small inline-SVG charts (histogram, bars, scatter) for the HTML score report.

Plain strings, no plotting library and no external assets, so a report is one file that renders
anywhere. Each chart is an `<svg>` with `data-plot=KIND` and a `<title>`, which the browser test reads.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 440, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 14, 28, 40
ACCENT = "#3b6fd4"
MUTED = "#9aa5b1"
WARN = "#d4513b"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round tick values covering [low, high]."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0]
    if high <= low:
        return [low]
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def fmt(value: float) -> str:
    """A number as a tick label: short, and never in exponent form for a count (`1500`, `20k`, `1.5M`)."""
    if value == 0:
        return "0"
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.3g}M"
    if abs(value) >= 10_000:
        return f"{value / 1_000:.3g}k"
    if abs(value) >= 1_000:
        return f"{value:.0f}"
    if abs(value) < 0.001:
        return f"{value:.2g}"
    return f"{value:.3g}"


class _Frame:
    """Maps data coordinates to pixels inside the axes of one chart."""

    def __init__(self, x_range: tuple[float, float], y_range: tuple[float, float],
                 width: int = WIDTH, height: int = HEIGHT) -> None:
        self.width, self.height = width, height
        self.x0, self.x1 = x_range if x_range[1] > x_range[0] else (x_range[0] - 0.5, x_range[0] + 0.5)
        self.y0, self.y1 = y_range if y_range[1] > y_range[0] else (y_range[0] - 0.5, y_range[0] + 0.5)

    def x(self, value: float) -> float:
        return _LEFT + (value - self.x0) / (self.x1 - self.x0) * (self.width - _LEFT - _RIGHT)

    def y(self, value: float) -> float:
        return self.height - _BOTTOM - (value - self.y0) / (self.y1 - self.y0) * (self.height - _TOP - _BOTTOM)

    def axes(self, x_ticks: Sequence[float], y_ticks: Sequence[float], x_label: str, y_label: str) -> str:
        bottom, left = self.height - _BOTTOM, _LEFT
        parts = [f'<line x1="{left}" y1="{bottom}" x2="{self.width - _RIGHT}" y2="{bottom}" class="axis"/>',
                 f'<line x1="{left}" y1="{_TOP}" x2="{left}" y2="{bottom}" class="axis"/>']
        for t in x_ticks:
            px = self.x(t)
            parts.append(f'<line x1="{px:.1f}" y1="{bottom}" x2="{px:.1f}" y2="{bottom + 4}" class="axis"/>'
                         f'<text x="{px:.1f}" y="{bottom + 16}" class="tick" text-anchor="middle">{fmt(t)}</text>')
        for t in y_ticks:
            py = self.y(t)
            parts.append(f'<line x1="{left}" y1="{py:.1f}" x2="{self.width - _RIGHT}" y2="{py:.1f}" class="grid"/>'
                         f'<text x="{left - 6}" y="{py + 4:.1f}" class="tick" text-anchor="end">{fmt(t)}</text>')
        parts.append(f'<text x="{(left + self.width - _RIGHT) / 2:.1f}" y="{self.height - 6}" class="label" '
                     f'text-anchor="middle">{escape(x_label)}</text>')
        parts.append(f'<text x="12" y="{(_TOP + bottom) / 2:.1f}" class="label" text-anchor="middle" '
                     f'transform="rotate(-90 12 {(_TOP + bottom) / 2:.1f})">{escape(y_label)}</text>')
        return "".join(parts)


def _svg(kind: str, title: str, body: str, width: int = WIDTH, height: int = HEIGHT) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" data-plot="{escape(kind)}" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">'
            f'<title>{escape(title)}</title>'
            f'<text x="{_LEFT}" y="17" class="heading">{escape(title)}</text>{body}</svg>')


def histogram(values: Sequence[float], *, title: str, x_label: str = "reward", y_label: str = "samples",
              bins: int = 30, highlight_zero: bool = False, color: str = ACCENT) -> str:
    """Counts of `values`: one bar per value when there are few distinct ones (0/1 rewards), else bins."""
    if not values:
        return _svg("histogram", title, f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" class="empty" '
                    'text-anchor="middle">no values</text>')
    distinct = sorted(set(values))
    if len(distinct) <= 12:
        centres = distinct
        counts = [sum(1 for v in values if v == d) for d in distinct]
        gaps = [b - a for a, b in itertools.pairwise(distinct)]
        half = min(gaps) * 0.4 if gaps else 0.4
        edges = [(c - half, c + half) for c in centres]
    else:
        low, high = min(values), max(values)
        width = (high - low) / bins
        counts = [0] * bins
        for v in values:
            counts[min(int((v - low) / width), bins - 1)] += 1
        edges = [(low + i * width, low + (i + 1) * width) for i in range(bins)]
    frame = _Frame((edges[0][0], edges[-1][1]), (0, max(counts) * 1.08))
    bars = []
    for (a, b), count in zip(edges, counts, strict=True):
        if not count:
            continue
        fill = WARN if highlight_zero and a <= 0 <= b else color
        x, top = frame.x(a), frame.y(count)
        bars.append(f'<rect x="{x + 0.5:.1f}" y="{top:.1f}" width="{max(frame.x(b) - x - 1, 1):.1f}" '
                    f'height="{frame.y(0) - top:.1f}" fill="{fill}" class="bar"><title>{fmt(a)} – {fmt(b)}: '
                    f'{count}</title></rect>')
    span = edges[-1][1] - edges[0][0]
    spread = len(distinct) <= 6 and all(b - a >= span / 8 for a, b in itertools.pairwise(distinct))
    x_ticks = distinct if spread else nice_ticks(edges[0][0], edges[-1][1])  # labels must not overlap
    axes = frame.axes(x_ticks, nice_ticks(0, max(counts)), x_label, y_label)
    return _svg("histogram", title, axes + "".join(bars))


def bars(labels: Sequence[str], counts: Sequence[int], *, title: str, colors: Sequence[str] | None = None) -> str:
    """Horizontal bars, one per label, with the count written at the end."""
    height = _TOP + 26 * len(labels) + 12
    top = max(counts) if counts else 1
    span = WIDTH - 150 - 60
    rows = []
    for i, (label, count) in enumerate(zip(labels, counts, strict=True)):
        y = _TOP + 26 * i
        length = span * count / top if top else 0
        fill = (colors[i] if colors else ACCENT)
        rows.append(f'<text x="140" y="{y + 15}" class="tick" text-anchor="end">{escape(label)}</text>'
                    f'<rect x="148" y="{y + 3}" width="{max(length, 1):.1f}" height="16" fill="{fill}" class="bar">'
                    f'<title>{escape(label)}: {count}</title></rect>'
                    f'<text x="{152 + length:.1f}" y="{y + 15}" class="tick">{count}</text>')
    return _svg("bars", title, "".join(rows), height=height)


def scatter(xs: Sequence[float], ys: Sequence[float], *, title: str, x_label: str, y_label: str,
            trend: Sequence[tuple[float, float]] = ()) -> str:
    """Points, with an optional trend line (e.g. binned means)."""
    if not xs:
        return _svg("scatter", title, f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" class="empty" '
                    'text-anchor="middle">no values</text>')
    pad = (max(ys) - min(ys)) * 0.05 or 0.5
    frame = _Frame((min(xs), max(xs)), (min(ys) - pad, max(ys) + pad))
    dots = "".join(f'<circle cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="2.2" class="dot"/>'
                   for x, y in zip(xs, ys, strict=True))
    line = ""
    if len(trend) > 1:
        points = " ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in trend)
        line = f'<polyline points="{points}" class="trend"/>'
    axes = frame.axes(nice_ticks(min(xs), max(xs)), nice_ticks(min(ys), max(ys)), x_label, y_label)
    return _svg("scatter", title, axes + dots + line)
