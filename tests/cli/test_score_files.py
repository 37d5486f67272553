"""`rewardforge score` never destroys input and never leaves a half-written output (issue 16)."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from rf_cli_support import as_nobody, lines_in, partials, read_jsonl, start_score, wait_for, write_jsonl
from rf_test_support import RF
from typer.testing import CliRunner

from rewardforge.cli import app

runner = CliRunner()
ROWS = [{"id": i, "completion": f"answer {i % 3}", "reference": "answer 0"} for i in range(12)]


def score(*args: str, input: bytes | None = None) -> object:
    return runner.invoke(app, ["score", "-r", "exact_match", *args], input=input)


def one_line(output: str) -> str:
    return " ".join(output.split())


@pytest.mark.parametrize("how", ["same-path", "symlink", "hard-link", "dot-path"])
def test_writing_the_output_over_the_input_is_refused_and_the_input_survives(tmp_path: Path, how: str) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", ROWS)
    before = source.read_bytes()
    target = {
        "same-path": source,
        "symlink": tmp_path / "link.jsonl",
        "hard-link": tmp_path / "hard.jsonl",
        "dot-path": tmp_path / "." / "in.jsonl",
    }[how]
    if how == "symlink":
        target.symlink_to(source)
    if how == "hard-link":
        os.link(source, target)
    result = score("-i", str(source), "-o", str(target), "--force")
    assert result.exit_code == 2, result.output
    assert "is the input file; scoring would destroy it" in one_line(result.output)
    assert source.read_bytes() == before


def test_an_existing_output_is_refused_without_resume_or_force(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", ROWS)
    target = tmp_path / "out.jsonl"
    target.write_text("precious\n")
    result = score("-i", str(source), "-o", str(target))
    assert result.exit_code == 2
    assert "out.jsonl exists; pass --resume to keep its rows and score only the rest, or --force to replace it" \
        in one_line(result.output)
    assert target.read_text() == "precious\n"
    assert not partials(tmp_path)
    forced = score("-i", str(source), "-o", str(target), "--force")
    assert forced.exit_code == 0, forced.output
    assert [row["id"] for row in read_jsonl(target)] == list(range(12))


def test_the_output_keeps_the_permissions_a_new_file_would_get(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", ROWS)
    target = tmp_path / "out.jsonl"
    assert score("-i", str(source), "-o", str(target)).exit_code == 0
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # not the 0600 of a temporary file


def test_resume_scores_only_the_rows_missing_from_the_output(tmp_path: Path, call_log: Path) -> None:
    rows = [{"id": i, "completion": f"c{i}", "reference": "c0"} for i in range(10)]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    target = tmp_path / "out.jsonl"
    first = runner.invoke(app, ["score", "-r", "rf_test_rewards:counting", "-p", f"log={call_log}",
                                "-i", str(write_jsonl(tmp_path / "head.jsonl", rows[:4])), "-o", str(target)])
    assert first.exit_code == 0, first.output
    assert lines_in(call_log) == 4
    resumed = runner.invoke(app, ["score", "-r", "rf_test_rewards:counting", "-p", f"log={call_log}",
                                  "-i", str(source), "-o", str(target), "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert lines_in(call_log) == 10  # the first four were not scored again
    assert [row["id"] for row in read_jsonl(target)] == list(range(10))
    again = runner.invoke(app, ["score", "-r", "rf_test_rewards:counting", "-p", f"log={call_log}",
                                "-i", str(source), "-o", str(target), "--resume"])
    assert again.exit_code == 0 and lines_in(call_log) == 10  # nothing left to do


def test_resume_refuses_an_output_scored_from_another_input(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    assert score("-i", str(write_jsonl(tmp_path / "a.jsonl", ROWS[:3])), "-o", str(target)).exit_code == 0
    before = target.read_bytes()
    other = write_jsonl(tmp_path / "b.jsonl", [{**row, "completion": "changed"} for row in ROWS])
    result = score("-i", str(other), "-o", str(target), "--resume")
    assert result.exit_code == 2
    assert "--resume: row 1 of" in one_line(result.output) and "comes from another input file" in result.output
    longer_output = score("-i", str(write_jsonl(tmp_path / "c.jsonl", ROWS[:2])), "-o", str(target), "--resume")
    assert longer_output.exit_code == 2 and "has 3 rows but the input only 2" in one_line(longer_output.output)
    (tmp_path / "notes.jsonl").write_text("just some text\n")
    foreign = score("-i", str(write_jsonl(tmp_path / "d.jsonl", ROWS)), "-o", str(tmp_path / "notes.jsonl"),
                    "--resume")
    assert foreign.exit_code == 2 and "is not a scored row" in one_line(foreign.output)
    assert target.read_bytes() == before and not partials(tmp_path)


def test_resume_and_force_contradict_and_resume_needs_a_file(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", ROWS)
    both = score("-i", str(source), "-o", str(tmp_path / "o.jsonl"), "--resume", "--force")
    assert both.exit_code == 2 and "contradict" in both.output
    stdout = score("-i", str(source), "-o", "-", "--resume")
    assert stdout.exit_code == 2 and "--resume needs an output file" in one_line(stdout.output)


def test_input_from_stdin(tmp_path: Path) -> None:
    data = b"".join(b'{"completion": "%d", "reference": "1"}\n' % i for i in range(3))
    target = tmp_path / "out.jsonl"
    result = score("-i", "-", "-o", str(target), input=data)
    assert result.exit_code == 0, result.output
    assert [row["reward"] for row in read_jsonl(target)] == [0.0, 1.0, 0.0]
    assert "exact_match on stdin" in result.output


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder an unprivileged user can reach (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="rf-cli-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_output_folders_that_do_not_exist_or_cannot_be_written_are_one_line_errors(
    tmp_path: Path, shared_folder: Path, cli_env: dict[str, str]
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", ROWS)
    missing = score("-i", str(source), "-o", str(tmp_path / "no" / "such" / "out.jsonl"))
    assert missing.exit_code == 2
    assert one_line(missing.output) == f"error: cannot write {tmp_path}/no/such/out.jsonl: the folder " \
                                       f"{tmp_path}/no/such does not exist"
    assert not (tmp_path / "no").exists()
    folder_output = score("-i", str(source), "-o", str(tmp_path))
    assert folder_output.exit_code == 2 and "it is a folder" in folder_output.output

    shared_source = write_jsonl(shared_folder / "in.jsonl", ROWS)
    shared_source.chmod(0o644)
    locked = shared_folder / "locked"
    locked.mkdir(mode=0o555)
    locked.chmod(0o555)
    result = subprocess.run([*as_nobody(), *RF, "score", "-r", "exact_match", "-i", str(shared_source),
                             "-o", str(locked / "out.jsonl")], env=cli_env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2, result.stderr
    assert one_line(result.stderr) == f"error: cannot write {locked}/out.jsonl: the folder {locked} is not writable"
    cache = subprocess.run([*as_nobody(), *RF, "score", "-r", "exact_match", "-i", str(shared_source),
                            "-o", "-", "--cache", str(locked / "v.sqlite")], env=cli_env, capture_output=True,
                           text=True, timeout=60)
    assert cache.returncode == 2, cache.stderr
    assert one_line(cache.stderr) == f"error: --cache {locked}/v.sqlite: the folder {locked} is not writable"


def test_cache_paths_fail_in_one_line_without_creating_folders(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", ROWS)
    nowhere = f"/rf-no-such-folder-{os.getpid()}/x.sqlite"
    missing = score("-i", str(source), "-o", str(tmp_path / "a.jsonl"), "--cache", nowhere)
    assert missing.exit_code == 2
    assert one_line(missing.output) == (f"error: --cache {nowhere}: the folder {Path(nowhere).parent} "
                                        "does not exist")
    assert not Path(nowhere).parent.exists()
    corrupt = tmp_path / "verdicts.sqlite"
    corrupt.write_bytes(b"this is not a database" * 100)
    broken = score("-i", str(source), "-o", str(tmp_path / "b.jsonl"), "--cache", str(corrupt))
    assert broken.exit_code == 2 and "Traceback" not in broken.output
    assert one_line(broken.output).startswith(f"error: --cache {corrupt}: not a verdict cache (file is not a database)")
    good = tmp_path / "good.sqlite"
    assert score("-i", str(source), "-o", str(tmp_path / "c.jsonl"), "--cache", str(good)).exit_code == 0
    assert sqlite3.connect(good).execute("SELECT COUNT(*) FROM verdicts").fetchone()[0] == 3  # 3 distinct samples


def test_a_killed_run_leaves_the_old_output_intact_never_a_half_written_file(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    rows = [{"id": i, "completion": f"c{i}"} for i in range(400)]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    target = tmp_path / "out.jsonl"
    target.write_text('{"old": "complete output"}\n')
    process = start_score(["-r", "rf_test_rewards:sleepy", "-p", "seconds=0.02", "-i", str(source),
                           "-o", str(target), "--force", "--batch-size", "4"], cli_env)
    try:
        wait_for(lambda: any(lines_in(p) >= 8 for p in partials(tmp_path)), 60, "rows in the temporary file")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
    assert target.read_text() == '{"old": "complete output"}\n'  # a crash never half-writes the output


def test_a_reader_that_stops_early_ends_the_run_quietly(tmp_path: Path, cli_env: dict[str, str]) -> None:
    """`rewardforge score -o - | head -1`: no traceback, the shell's exit code for SIGPIPE."""
    source = write_jsonl(tmp_path / "in.jsonl", [{"completion": "x" * 200}] * 5000)
    process = subprocess.Popen([*RF, "score", "-r", "exact_match", "-i", str(source), "-o", "-"], env=cli_env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().startswith(b'{"completion"')
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141, stderr
    assert "Traceback" not in stderr


def test_resume_matches_rows_holding_integers_beyond_64_bits(tmp_path: Path) -> None:
    big = 2**70 + 1
    lines = [b'{"id": %d, "completion": "%d", "reference": "%d"}\n' % (big + i, big, big) for i in range(4)]
    (tmp_path / "head.jsonl").write_bytes(b"".join(lines[:2]))
    (tmp_path / "in.jsonl").write_bytes(b"".join(lines))
    target = tmp_path / "out.jsonl"
    assert score("-i", str(tmp_path / "head.jsonl"), "-o", str(target)).exit_code == 0
    resumed = score("-i", str(tmp_path / "in.jsonl"), "-o", str(target), "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert f'"id": {big + 3}'.replace(" ", "").encode() in target.read_bytes().replace(b" ", b"")
    assert target.read_bytes().count(b"\n") == 4
