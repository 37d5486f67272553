"""The HTML score report: the numbers it states, that it is one self-contained file, and that a real
browser (headless Chromium) renders its plots."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from rewardforge.core.types import Sample, Score
from rewardforge.testing.report import ScoreReport, _binned_means
from rewardforge.testing.svg import fmt, histogram


def grpo_rows(groups: int = 40, size: int = 8, seed: int = 0) -> list[dict[str, Any]]:
    """GRPO-shaped math rows: each prompt has `size` completions; some groups are all right or all wrong."""
    rng = random.Random(seed)
    rows = []
    for g in range(groups):
        answer = rng.randint(2, 99)
        p_right = [0.0, 1.0, 0.5, 0.25][g % 4]
        for _ in range(size):
            guess = answer if rng.random() < p_right else answer + rng.randint(1, 9)
            steps = "Let me add the numbers carefully. " * rng.randint(1, 25)
            rows.append({"prompt": f"Problem {g}", "completion": f"<think>{steps}</think>\n<answer>{guess}</answer>",
                         "reference": str(answer), "group_id": f"p{g}", "source": "synthetic"})
    rows.append({"prompt": "Problem x", "completion": "\\boxed{\\frac{1}{0}}", "reference": "3", "group_id": "px"})
    rows.append({"prompt": "Problem y", "completion": "\\boxed{3}", "reference": None, "group_id": "py"})
    return rows


def test_group_statistics_count_zero_std_groups() -> None:
    report = ScoreReport("t")
    for group, values in {"all_right": [1, 1, 1], "mixed": [0, 1, 1], "all_wrong": [0, 0], "single": [1]}.items():
        for value in values:
            report.add(Sample(completion="x" * (1 + value), group_id=group), Score.of(value))
    stats = report.group_stats()
    assert stats is not None
    assert (stats["groups"], stats["zero_std"]) == (3, 2)  # a single-sample group has no std to speak of
    assert stats["zero_std_fraction"] == pytest.approx(2 / 3)
    assert "<b>2</b> of <b>3</b> groups (<b>66.7%</b>) have zero reward std" in report.html()


def test_the_overview_card_and_the_groups_section_agree_on_the_zero_std_share() -> None:
    report = ScoreReport("t")
    for group in range(250):  # one group of 250 has zero std: 0.4%, which a whole percent would show as 0%
        for value in ([1.0, 1.0] if group == 0 else [0.0, 1.0]):
            report.add(Sample(completion="x", group_id=f"g{group}"), Score.of(value))
    html = report.html()
    assert "<b>1</b> of <b>250</b> groups (<b>0.4%</b>)" in html
    assert re.search(r">0\.4%<[^%]*zero-std groups", html), "the card rounds the share differently"


def test_tick_labels_of_counts_are_never_in_exponent_form() -> None:
    assert [fmt(v) for v in (0, 500, 1000, 1500, 2000, 20_000, 1_500_000)] == [
        "0", "500", "1000", "1500", "2000", "20k", "1.5M"]
    assert [fmt(v) for v in (0.25, 1.0, -0.658, 0.0004)] == ["0.25", "1", "-0.658", "0.0004"]
    chart = histogram([0.0] * 800 + [1.0] * 1200, title="reward")
    assert "e+" not in chart


def test_the_length_trend_moves_left_to_right_even_with_few_distinct_lengths() -> None:
    report = ScoreReport("t")
    for i in range(2000):  # three lengths, each with right and wrong answers
        report.add(Sample(completion="x" * (42 + i % 3)), Score.of(float(i % 5 < 3)))
    trend = _binned_means(report.points)
    xs = [x for x, _ in trend]
    assert xs == sorted(set(xs)) and len(xs) == 3, trend  # one point per length, none cut by reward
    assert all(abs(y - 0.6) < 0.01 for _, y in trend)


def test_examples_keep_the_end_of_a_long_completion_where_the_answer_is() -> None:
    report = ScoreReport("t", examples=1)
    completion = "<think>" + "Let me think about it. " * 400 + "</think> So the answer is \\boxed{1729}."
    report.add(Sample(completion=completion, reference="1729"), Score.of(1.0))
    html = report.html()
    summary = re.search(r"<summary>(.*?)</summary>", html, re.S)
    assert summary and "\\boxed{1729}." in summary.group(1) and "chars cut]" in summary.group(1)
    assert "\\boxed{1729}.</pre>" in html  # the expanded example too


def test_without_group_ids_the_report_says_why_there_are_no_group_statistics() -> None:
    report = ScoreReport("t")
    report.add(Sample(completion="a"), Score.of(1.0))
    assert report.group_stats() is None
    assert "per-group statistics need GRPO-shaped input" in report.html()


def test_statuses_reasons_examples_and_components() -> None:
    report = ScoreReport("t", examples=2)
    for i in range(10):
        report.add(Sample(completion=f"answer {i}"), Score.of(i / 10, components={"format": 1.0, "accuracy": i / 10},
                                                              info={"rank": i}))
    report.add(Sample(completion="z"), Score.error("sandbox unavailable: no bwrap"))
    report.add(Sample(completion="z"), Score.error("sandbox unavailable: no docker"))
    report.add(Sample(completion="y"), Score.skipped("no reference to compare with"))
    html = report.html()
    assert "<td>error</td><td>sandbox unavailable</td><td class='num'>2</td>" in html
    assert "<td>skipped</td><td>no reference to compare with</td>" in html
    assert html.count('data-plot="histogram"') >= 3  # reward, and each component
    assert "component: accuracy" in html and "component: format" in html
    best, worst = html.split("highest reward")[1].split("lowest reward")
    assert "answer 9" in best and "answer 8" in best and "answer 7" not in best
    assert "answer 0" in worst and "answer 1" in worst and "{&quot;rank&quot;:0}" in worst


def test_memory_stays_bounded_on_large_input() -> None:
    report = ScoreReport("t", max_points=100, examples=3)
    for i in range(5000):
        report.add(Sample(completion="x" * (i % 300)), Score.of((i % 7) / 7))
    assert len(report.points) == 100 and len(report._best) == 3 and len(report.values) == 5000


def test_completions_cannot_inject_markup() -> None:
    report = ScoreReport("<b>title</b>")
    report.add(Sample(completion='<script>alert("x")</script><img src=http://evil/x.png>'), Score.of(1.0))
    html = report.html()
    assert "<script" not in html and "<img" not in html and "&lt;script&gt;" in html
    assert "<h1>&lt;b&gt;title&lt;/b&gt;</h1>" in html


def assert_self_contained(html: str) -> None:
    """No scripts, stylesheets, fonts or images fetched from anywhere: one file is the whole report."""
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", html, re.I)
    assert not re.search(r"\b(src|href)\s*=", html, re.I)
    assert not re.search(r"url\(|@import", html, re.I)
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) <= {"http://www.w3.org/2000/svg"}


@pytest.fixture(scope="module")
def scored_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`rewardforge score --report` on a GRPO-shaped file with a composed reward (in-process CLI)."""
    from typer.testing import CliRunner

    from rewardforge.cli import app

    folder = tmp_path_factory.mktemp("report")
    data = folder / "rollouts.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in grpo_rows()))
    stack = folder / "stack.yaml"
    stack.write_text("name: math_stack\ntype: weighted_sum\ncomponents:\n"
                     "  - {reward: tag_format, name: format, weight: 0.2}\n"
                     "  - {reward: math_equivalence, name: accuracy}\n")
    report = folder / "report.html"
    result = CliRunner().invoke(app, ["score", "-r", str(stack), "-i", str(data), "-o", str(folder / "out.jsonl"),
                                      "--report", str(report)])
    assert result.exit_code == 0, result.output
    return report


def test_cli_writes_a_self_contained_report(scored_report: Path) -> None:
    html = scored_report.read_text()
    assert_self_contained(html)
    assert "math_stack on rollouts.jsonl" in html
    assert "<b>20</b> of <b>40</b> groups (<b>50.0%</b>) have zero reward std" in html  # the all-right and all-wrong
    for anchor in ("overview", "distributions", "statuses", "length", "groups", "examples"):
        assert f'<section id="{anchor}">' in html


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium")
    if binary is None:
        pytest.skip("LOUD SKIP: chromium is not installed; run scripts/setup_browser.sh (scripts/test.sh does)")
    return subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_report_renders_in_headless_chromium(scored_report: Path, tmp_path: Path) -> None:
    from PIL import Image

    dom = chromium("--dump-dom", scored_report.as_uri(), profile=tmp_path / "profile-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = dom.stdout
    # the browser parsed every chart as SVG with its marks: bars, dots and the trend line
    plots = re.findall(r'<svg[^>]*data-plot="(\w+)"', rendered)
    assert plots.count("histogram") >= 5 and "bars" in plots and "scatter" in plots
    assert len(re.findall(r'<rect [^>]*class="bar"', rendered)) >= 20
    assert len(re.findall(r'<circle [^>]*class="dot"', rendered)) >= 300
    assert '<polyline points="' in rendered

    shot = tmp_path / "report.png"
    result = chromium("--window-size=1100,2400", f"--screenshot={shot}", scored_report.as_uri(),
                      profile=tmp_path / "profile-shot")
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1100, 2400)
    colours = image.getcolors(maxcolors=1 << 20) or []
    counts = {rgb: n for n, rgb in colours}
    blue = sum(n for rgb, n in counts.items() if _near(rgb, (59, 111, 212)))
    red = sum(n for rgb, n in counts.items() if _near(rgb, (212, 81, 59)))
    green = sum(n for rgb, n in counts.items() if _near(rgb, (90, 158, 111)))
    assert blue > 5000 and green > 5000, (blue, green)  # reward histograms, component and group-mean plots
    assert red > 300, red  # the zero-std bar of the group plot, and the trend line


def _near(rgb: tuple[int, int, int], target: tuple[int, int, int], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(rgb, target, strict=True))
