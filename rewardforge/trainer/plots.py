"""The pictures a run leaves behind: ``reward_curve.png`` while it trains, ``compare.png`` across runs.

Each curve is drawn twice: the raw per-step values, thin and faint, and a trailing rolling mean, bold
(for KL a rolling median: the k3 estimate spikes for single steps, and a mean would turn each spike
into a plateau as wide as the window).
Files are written to a temporary name and renamed, so a viewer never opens half a PNG. The layout is
fixed (no constrained layout): drawing stays well under a second, even on a busy machine.
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

COMPONENT_PREFIX, COMPONENT_SUFFIX = "reward/", "/mean"


def rolling(values: list[float | None], window: int, *, median: bool = False) -> list[float | None]:
    """Trailing mean (or median) over the last ``window`` values that exist (None where there are none yet)."""
    out: list[float | None] = []
    for end in range(1, len(values) + 1):
        recent = [v for v in values[max(0, end - window): end] if v is not None]
        if not recent:
            out.append(None)
        else:
            out.append(statistics.median(recent) if median else sum(recent) / len(recent))
    return out


def _curve(ax: Axes, steps: list[int], values: list[float | None], window: int, label: str, color: Any, *,
           median: bool = False) -> None:
    pairs = [(s, v) for s, v in zip(steps, values, strict=True) if v is not None]
    if not pairs:
        return
    ax.plot(*zip(*pairs, strict=True), color=color, alpha=0.25, linewidth=0.8)
    smooth = [(s, v) for s, v in zip(steps, rolling(values, window, median=median), strict=True) if v is not None]
    ax.plot(*zip(*smooth, strict=True), color=color, linewidth=2.0, label=label)


def component_names(rows: list[dict[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for row in rows:
        for key in row:
            if key.startswith(COMPONENT_PREFIX) and key.endswith(COMPONENT_SUFFIX) and key != "reward/mean":
                names.setdefault(key[len(COMPONENT_PREFIX): -len(COMPONENT_SUFFIX)])
    return list(names)


def plot_run(rows: list[dict[str, Any]], evals: list[dict[str, Any]], path: Path, *, window: int, title: str) -> None:
    """Reward and each component, completion length, KL and held-out accuracy over steps."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.07, top=0.9, wspace=0.18, hspace=0.35)
    fig.suptitle(title)
    steps = [row["step"] for row in rows]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]

    ax = axes[0, 0]
    _curve(ax, steps, [row["reward/mean"] for row in rows], window, "reward", "black")
    for color, name in zip(colors, component_names(rows), strict=False):
        _curve(ax, steps, [row.get(f"reward/{name}/mean") for row in rows], window, name, color)
    ax.set_title(f"reward (rolling mean over {window} steps)")
    ax.legend(loc="best", fontsize=8)

    ax = axes[0, 1]
    _curve(ax, steps, [row["completion_length/mean"] for row in rows], window, "mean", colors[0])
    _curve(ax, steps, [row["completion_length/max"] for row in rows], window, "max", colors[1])
    ax.set_title("completion length (tokens)")
    ax.legend(loc="best", fontsize=8)

    ax = axes[1, 0]
    kl = [row["kl"] for row in rows]
    if any(value is not None for value in kl):
        _curve(ax, steps, kl, window, "kl", colors[2], median=True)
        smooth = [v for v in rolling(kl, window, median=True) if v is not None]
        ax.set_title(f"KL to the reference (rolling median over {window} steps)")
        if smooth and max(v for v in kl if v is not None) > 3 * max(smooth):  # one k3 spike would flatten the rest
            ax.set_ylim(0, 1.5 * max(smooth))
            ax.set_title(f"KL to the reference (median of {window} steps; spikes cut off)")
    else:
        ax.text(0.5, 0.5, "no reference model (beta = 0)", ha="center", va="center", transform=ax.transAxes)
        ax.set_title("KL to the reference")

    ax = axes[1, 1]
    if evals:
        ax.plot([e["step"] for e in evals], [100 * e["accuracy"] for e in evals], marker="o", color=colors[3])
        ax.set_ylim(0, 100)
    else:
        ax.text(0.5, 0.5, "no held-out evaluation configured", ha="center", va="center", transform=ax.transAxes)
    ax.set_title("held-out accuracy (%)")

    for ax in axes.flat:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    _save(fig, path)


def plot_compare(runs: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]], path: Path, *,
                 window: int, title: str) -> None:
    """Held-out accuracy (the common yardstick) and each run's own training reward, one colour per run."""
    fig, (acc, rew) = plt.subplots(1, 2, figsize=(12, 4.5))
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.12, top=0.85, wspace=0.18)
    fig.suptitle(title)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for color, (name, (rows, evals)) in zip(colors, runs.items(), strict=False):
        if evals:
            acc.plot([e["step"] for e in evals], [100 * e["accuracy"] for e in evals], marker="o", color=color,
                     label=name)
        _curve(rew, [row["step"] for row in rows], [row["reward/mean"] for row in rows], window, name, color)
    acc.set_title("held-out accuracy (%)")
    acc.set_ylim(0, 100)
    rew.set_title(f"training reward, each run's own (rolling mean over {window})")
    for ax in (acc, rew):
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=9)
    _save(fig, path)


def _save(fig: Any, path: Path) -> None:
    partial = path.with_name(f".{path.name}.partial.png")
    fig.savefig(partial, dpi=110)
    plt.close(fig)
    os.replace(partial, path)
