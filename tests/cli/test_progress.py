"""Progress of a long `rewardforge score` run: per sample, with rate and ETA, in a terminal; a
periodic one-line status elsewhere (issue 16)."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

from rf_cli_support import write_jsonl
from rf_test_rewards import counting, sleepy
from rf_test_support import RF

import rewardforge as rf
from rewardforge.cli.progress import StatusLines, duration


def test_the_engine_reports_process_isolated_samples_one_by_one() -> None:
    reports: list[int] = []
    samples = [{"completion": f"c{i}"} for i in range(6)] + [{"completion": "c0"}]  # one duplicate
    rf.score(sleepy.with_params(seconds=0.01), samples, progress=reports.append)
    assert sum(reports) == 7
    assert len(reports) == 6 and sorted(reports) == [1, 1, 1, 1, 1, 2]  # a verdict finishes both copies


def test_the_engine_reports_inline_and_cached_samples_too(call_log: Path) -> None:
    reward = counting.with_params(log=str(call_log))
    samples = [{"completion": c, "reference": "a"} for c in "abcab"]
    reports: list[int] = []
    rf.score(reward, samples, progress=reports.append, cache=True)
    assert sorted(reports) == [1, 2, 2]  # a, b twice each; c once: the call's verdicts, all at its end
    again: list[int] = []
    rf.score(reward, samples, progress=again.append, cache=True)
    assert again == [5]  # every verdict came from the cache, at once


def test_a_composite_reports_only_its_own_finished_samples() -> None:
    reports: list[int] = []
    stack = rf.weighted_sum(sleepy.with_params(seconds=0.0), ("exact_match", 1.0))
    rf.score(stack, [{"completion": f"c{i}", "reference": "c1"} for i in range(4)], progress=reports.append)
    assert sum(reports) == 4  # not 8: its components' samples are not the caller's samples


def test_status_line_says_count_share_rate_and_time_left() -> None:
    class Sink:
        def print(self, text: str, **_: object) -> None:
            raise AssertionError("no line is due within the hour")

    status = StatusLines(Sink(), total=20_000, done=0, interval=3600)  # type: ignore[arg-type]
    status.advance(1_000)
    time.sleep(0.05)
    line = status.line()
    status.close()
    match = re.fullmatch(r"scoring: 1,000/20,000 rows \(5%\), ([\d,]+) rows/s, ETA (\d+:\d\d(:\d\d)?)", line)
    assert match, line
    assert duration(75) == "1:15" and duration(3725) == "1:02:05"


def test_without_a_terminal_a_status_line_comes_every_interval(tmp_path: Path, cli_env: dict[str, str]) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"completion": f"c{i}"} for i in range(60)])
    result = subprocess.run([*RF, "score", "-r", "rf_test_rewards:sleepy", "-p", "seconds=0.03", "-i", str(source),
                             "-o", str(tmp_path / "out.jsonl"), "--status-every", "0.2"],
                            env=cli_env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    status = [line for line in result.stderr.splitlines() if line.startswith("scoring: ")]
    assert len(status) >= 2, result.stderr
    assert all(re.fullmatch(r"scoring: [\d,]+/60 rows \(\d+%\), [\d,]+ rows/s(, ETA \d+:\d\d)?", line)
               for line in status), status
    counts = [int(line.split()[1].split("/")[0].replace(",", "")) for line in status]
    assert counts == sorted(counts) and 0 < counts[-1] <= 60
    assert "\x1b[" not in result.stderr  # no terminal codes in a log


def test_in_a_terminal_the_bar_moves_per_sample_with_rate_and_eta(tmp_path: Path, cli_env: dict[str, str]) -> None:
    """The bar as a user sees it: stderr is a pseudo-terminal, 40 samples of 50 ms each."""
    source = write_jsonl(tmp_path / "in.jsonl", [{"completion": f"c{i}"} for i in range(40)])
    primary, secondary = pty.openpty()
    env = {**cli_env, "TERM": "xterm-256color", "COLUMNS": "120"}
    process = subprocess.Popen([*RF, "score", "-r", "rf_test_rewards:sleepy", "-p", "seconds=0.05", "-i", str(source),
                                "-o", str(tmp_path / "out.jsonl")], env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=secondary)
    os.close(secondary)
    screen = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the process closed the terminal
                break
            if not chunk:
                break
            screen += chunk
        elif process.poll() is not None:
            break
    os.close(primary)
    assert process.wait(timeout=30) == 0
    text = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", screen).decode(errors="replace")
    counts = sorted({int(n) for n in re.findall(r"(\d+)/40 rows", text)})
    assert len(counts) >= 5, text[-2000:]  # redrawn as samples finish, not in one jump at the end
    assert any(0 < n < 40 for n in counts)
    assert re.search(r"[\d,]+ rows/s\s+ETA \d+:\d\d", text), text[-2000:]
    assert "sleepy on in.jsonl" in text  # the summary closes the run
