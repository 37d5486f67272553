"""Ctrl-C and SIGTERM halfway through `rewardforge score`: every scored row is kept, the summary is
printed, the exit code says which signal, and `--resume` finishes the run (issue 16).

Stopping in-flight worker calls promptly is the engine's job (issue 12); these tests use a reward
whose calls are short, so the time to stop is bounded either way.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from rf_cli_support import lines_in, partials, read_jsonl, start_score, wait_for, write_jsonl
from rf_test_support import RF


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_a_signal_keeps_every_scored_row_names_resume_and_resume_finishes(
    tmp_path: Path, cli_env: dict[str, str], signum: int, code: int
) -> None:
    rows = [{"id": i, "completion": f"c{i}"} for i in range(200)]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    target = tmp_path / "out.jsonl"
    args = ["-r", "rf_test_rewards:sleepy", "-p", "seconds=0.02", "-i", str(source), "-o", str(target),
            "--batch-size", "4"]
    process = start_score(args, cli_env)
    try:
        wait_for(lambda: any(lines_in(p) >= 12 for p in partials(tmp_path)), 60, "rows in the temporary file")
        sent = time.monotonic()
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=30)
        stopped_in = time.monotonic() - sent
    finally:
        process.kill()
    message = " ".join(stderr.decode().split())
    assert process.returncode == code, message
    assert stopped_in < 10, f"took {stopped_in:.1f}s to stop"
    kept = read_jsonl(target)
    assert len(kept) >= 12 and [row["id"] for row in kept] == list(range(len(kept)))
    assert all(row["status"] == "ok" and row["reward"] == 1.0 for row in kept)
    assert not partials(tmp_path)
    name = signal.Signals(signum).name
    assert f"interrupted by {name}; the {len(kept):,} rows scored so far are in {target}" in message
    assert "resume it with --resume" in message and f"{target} --batch-size 4 --resume" in message
    assert "samples" in message and "status ok" in message  # the summary of what was scored

    finished = subprocess.run([*RF, "score", *args, "--resume"], env=cli_env, capture_output=True, text=True,
                              timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert [row["id"] for row in read_jsonl(target)] == list(range(200))
    resumed = " ".join(finished.stderr.split())  # the summary counts this run; the note says so
    assert (f"resumed: the {len(kept):,} rows already in {target} were kept as they were, so the summary above "
            f"counts only the {200 - len(kept):,} rows scored now; {target} has all 200 rows") in resumed
