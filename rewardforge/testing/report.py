"""The HTML score report (`rewardforge score ... --report report.html`): one self-contained file.

It answers what a practitioner asks of a scored batch before training on it:
- how are the rewards distributed, overall and per component (is a component always 0 or 1)?
- how many samples were skipped or failed, and why (the commonest reasons)?
- what do the best and worst completions look like, with their `info`?
- does reward grow with completion length (a length hack)?
- with GRPO groups (`group_id`): how many groups have zero reward variance, and so teach nothing?

Charts are inline SVG (`svg.py`); there are no scripts, fonts or images to fetch.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import orjson

from rewardforge.core.types import Sample, Score, cut_middle
from rewardforge.summary import ScoreSummary
from rewardforge.testing.svg import ACCENT, MUTED, WARN, bars, fmt, histogram, scatter

_STATUS_COLORS = {"ok": ACCENT, "skipped": MUTED, "error": WARN}
_ZERO_STD = 1e-9


@dataclass(order=True)
class _Example:
    value: float
    order: int
    completion: str
    reference: str
    reason: str
    info: str


class ScoreReport:
    """Collects scored samples as they stream by, with bounded memory, and renders the report."""

    def __init__(self, title: str, *, examples: int = 5, max_points: int = 3000, seed: int = 0) -> None:
        self.title = title
        self.summary = ScoreSummary()
        self.values: list[float] = []
        self.components: dict[str, list[float]] = defaultdict(list)
        self.reasons: dict[str, Counter[str]] = defaultdict(Counter)
        self.points: list[tuple[int, float]] = []  # (completion length, reward), a reservoir sample
        self.groups: dict[Any, list[float]] = defaultdict(list)
        self.group_sizes: Counter[Any] = Counter()
        self._examples = examples
        self._max_points = max_points
        self._seen_points = 0
        self._best: list[_Example] = []  # min-heap of the highest values
        self._worst: list[_Example] = []  # min-heap of negated values: the lowest
        self._order = itertools.count()
        self._random = random.Random(seed)

    def add(self, sample: Sample, score: Score) -> None:
        self.summary.add(score)
        if sample.group_id is not None:
            self.group_sizes[sample.group_id] += 1
        if score.value is None:
            self.reasons[score.status][(score.reason or "no reason given").split(":")[0][:100]] += 1
            return
        value = score.value
        self.values.append(value)
        for name, component in score.components.items():
            if component is not None:
                self.components[name].append(component)
        if sample.group_id is not None:
            self.groups[sample.group_id].append(value)
        self._sample_point(len(sample.completion_text), value)
        self._keep_example(sample, score)

    def _sample_point(self, length: int, value: float) -> None:
        self._seen_points += 1
        if len(self.points) < self._max_points:
            self.points.append((length, value))
            return
        slot = self._random.randrange(self._seen_points)
        if slot < self._max_points:
            self.points[slot] = (length, value)

    def _keep_example(self, sample: Sample, score: Score) -> None:
        assert score.value is not None
        order = next(self._order)
        for heap, key in ((self._best, score.value), (self._worst, -score.value)):
            if len(heap) >= self._examples and key <= heap[0].value:
                continue
            example = _Example(key, -order, cut_middle(sample.completion_text, 1500), cut_middle(repr(sample.reference), 300),
                               score.reason or "", cut_middle(orjson.dumps(score.info, default=repr).decode(), 1500))
            if len(heap) < self._examples:
                heapq.heappush(heap, example)
            else:
                heapq.heapreplace(heap, example)

    # -- rendering -----------------------------------------------------------------------------------

    def group_stats(self) -> dict[str, float] | None:
        """GRPO groups with at least two scored samples: how many, and the share with zero reward std."""
        stds = [statistics.pstdev(v) for v in self.groups.values() if len(v) >= 2]
        if not stds:
            return None
        zero = sum(s <= _ZERO_STD for s in stds)
        return {"groups": len(stds), "zero_std": zero, "zero_std_fraction": zero / len(stds),
                "mean_std": statistics.fmean(stds), "mean_size": statistics.fmean(self.group_sizes.values())}

    def html(self) -> str:
        sections = [self._overview(), self._distributions(), self._statuses(), self._length(), self._groups(),
                    self._examples_section()]
        return _PAGE.format(title=escape(self.title), body="\n".join(s for s in sections if s))

    def write(self, path: str | Path) -> None:
        Path(path).write_text(self.html(), encoding="utf-8")

    def _overview(self) -> str:
        s = self.summary
        cards = [("samples", str(s.count)), ("ok", str(s.statuses.get("ok", 0))),
                 ("skipped", str(s.statuses.get("skipped", 0))), ("error", str(s.statuses.get("error", 0)))]
        if s.values.count:
            cards += [("mean reward", fmt(s.values.mean)), ("std", fmt(s.values.std)),
                      ("min", fmt(min(self.values))), ("max", fmt(max(self.values)))]
        stats = self.group_stats()
        if stats:
            cards.append(("zero-std groups", f"{stats['zero_std_fraction']:.1%}"))  # as the groups section says
        items = "".join(f'<div class="card"><div class="big">{escape(v)}</div><div>{escape(k)}</div></div>'
                        for k, v in cards)
        return f'<section id="overview"><div class="cards">{items}</div></section>'

    def _distributions(self) -> str:
        figures = [histogram(self.values, title="reward")]
        figures += [histogram(values, title=f"component: {name}", color="#5a9e6f")
                    for name, values in sorted(self.components.items())]
        return _section("distributions", "Score distributions", "".join(_figure(f) for f in figures),
                        "The value of every ok sample, then each component of a composed reward.")

    def _statuses(self) -> str:
        labels = ["ok", "skipped", "error"]
        counts = [self.summary.statuses.get(label, 0) for label in labels]
        chart = bars(labels, counts, title="status counts", colors=[_STATUS_COLORS[x] for x in labels])
        rows = "".join(f"<tr><td>{escape(status)}</td><td>{escape(reason)}</td><td class='num'>{n}</td></tr>"
                       for status in ("error", "skipped") for reason, n in self.reasons[status].most_common(8))
        table = (f"<table class='reasons'><tr><th>status</th><th>commonest reasons</th><th>samples</th></tr>{rows}"
                 "</table>") if rows else "<p>Every sample was scored.</p>"
        return _section("statuses", "Statuses and reasons", _figure(chart) + table,
                        "Skipped and errored samples carry no value; they never count as 0.")

    def _length(self) -> str:
        if not self.points:
            return ""
        xs = [float(length) for length, _ in self.points]
        ys = [value for _, value in self.points]
        chart = scatter(xs, ys, title="completion length vs reward", x_label="completion length (characters)",
                        y_label="reward", trend=_binned_means(self.points))
        corr = _correlation(xs, ys)
        note = ("A reward that rises with length invites padding." +
                (f" Correlation: {corr:+.2f}." if corr is not None else ""))
        return _section("length", "Completion length against reward", _figure(chart), note)

    def _groups(self) -> str:
        stats = self.group_stats()
        if stats is None:
            return _section("groups", "GRPO groups", "<p>No <code>group_id</code> with two or more scored samples: "
                            "per-group statistics need GRPO-shaped input.</p>", "")
        stds = [statistics.pstdev(v) for v in self.groups.values() if len(v) >= 2]
        chart = histogram(stds, title="reward std within each group", x_label="std of the group's rewards",
                          y_label="groups", highlight_zero=True)
        means = histogram([statistics.fmean(v) for v in self.groups.values() if len(v) >= 2],
                          title="mean reward of each group", x_label="group mean", y_label="groups",
                          color="#5a9e6f")
        text = (f"<p><b>{stats['zero_std']}</b> of <b>{stats['groups']}</b> groups "
                f"(<b>{stats['zero_std_fraction']:.1%}</b>) have zero reward std: every completion of the prompt "
                f"scored the same, so their advantages are 0 and they teach nothing. Mean group size "
                f"{stats['mean_size']:.1f}; mean within-group std {fmt(stats['mean_std'])}.</p>")
        return _section("groups", "GRPO groups", text + _figure(chart) + _figure(means),
                        "Groups are the samples that share a group_id.")

    def _examples_section(self) -> str:
        if not self._best:
            return ""
        best = sorted(self._best, key=lambda e: (-e.value, -e.order))
        worst = sorted(self._worst, key=lambda e: (-e.value, -e.order))
        return _section("examples", "Best and worst examples",
                        "<h3>highest reward</h3>" + "".join(_example(e, e.value) for e in best)
                        + "<h3>lowest reward</h3>" + "".join(_example(e, -e.value) for e in worst), "")


def _binned_means(points: list[tuple[int, float]], bins: int = 12) -> list[tuple[float, float]]:
    """The mean reward of about `bins` groups of points by length, shortest first. A group never splits
    one length (its points would be cut by reward), so the line moves left to right only."""
    if len(points) < 2 * bins:
        return []
    ordered = sorted(points, key=lambda point: point[0])
    size = math.ceil(len(ordered) / bins)
    chunks: list[list[tuple[int, float]]] = [[]]
    for point in ordered:
        if len(chunks[-1]) >= size and point[0] != chunks[-1][-1][0]:
            chunks.append([])
        chunks[-1].append(point)
    return [(statistics.fmean(p[0] for p in c), statistics.fmean(p[1] for p in c)) for c in chunks]


def _correlation(xs: list[float], ys: list[float]) -> float | None:
    if len(xs) < 3 or statistics.pstdev(xs) == 0 or statistics.pstdev(ys) == 0:
        return None
    return statistics.correlation(xs, ys)


def _figure(svg: str) -> str:
    return f'<figure class="chart">{svg}</figure>'


def _section(anchor: str, heading: str, body: str, note: str) -> str:
    note_html = f'<p class="note">{escape(note)}</p>' if note else ""
    return f'<section id="{anchor}"><h2>{escape(heading)}</h2>{note_html}<div class="body">{body}</div></section>'


def _example(example: _Example, value: float) -> str:
    reason = f" · {escape(example.reason)}" if example.reason else ""
    return (f'<details class="example"><summary><b>{fmt(value)}</b>{reason} — '
            f'{escape(cut_middle(example.completion.replace(chr(10), " "), 140))}</summary>'
            f"<pre>{escape(example.completion)}</pre><p><b>reference</b></p><pre>{escape(example.reference)}</pre>"
            f"<p><b>info</b></p><pre>{escape(example.info)}</pre></details>")


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1000px;
       color: #1f2933; padding: 0 16px; }}
h1 {{ font-size: 22px; margin-bottom: 4px; }} h2 {{ font-size: 17px; margin: 28px 0 4px; }}
h3 {{ font-size: 14px; margin: 14px 0 6px; }}
.note {{ color: #52606d; margin: 0 0 8px; }}
.cards {{ display: flex; flex-wrap: wrap; gap: 10px; }}
.card {{ border: 1px solid #d9e2ec; border-radius: 6px; padding: 8px 14px; min-width: 90px; }}
.big {{ font-size: 20px; font-weight: 600; }}
.body {{ display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }}
.body > p, .body > table, .body > h3, .body > details {{ flex-basis: 100%; }}
figure.chart {{ margin: 0; border: 1px solid #e4e7eb; border-radius: 6px; padding: 4px; }}
svg .axis {{ stroke: #7b8794; }} svg .grid {{ stroke: #e4e7eb; }}
svg .tick {{ font-size: 10px; fill: #52606d; }} svg .label {{ font-size: 11px; fill: #3e4c59; }}
svg .heading {{ font-size: 12px; font-weight: 600; fill: #1f2933; }} svg .empty {{ fill: #9aa5b1; }}
svg .dot {{ fill: #3b6fd4; fill-opacity: 0.35; }} svg .trend {{ fill: none; stroke: #d4513b; stroke-width: 2; }}
table {{ border-collapse: collapse; }} td, th {{ border-bottom: 1px solid #e4e7eb; padding: 3px 10px; text-align: left; }}
td.num {{ text-align: right; }}
details.example {{ border: 1px solid #e4e7eb; border-radius: 6px; padding: 4px 10px; margin: 4px 0; }}
pre {{ white-space: pre-wrap; word-break: break-word; background: #f5f7fa; padding: 6px; margin: 4px 0; }}
</style></head>
<body><h1>{title}</h1>
{body}
</body></html>
"""
