"""Helpers shared by the CLI tests: JSONL files in and out, and running the real command as a user would."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from rf_test_support import RF


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def partials(folder: Path) -> list[Path]:
    """The temporary files `rewardforge score` writes before renaming them over the output."""
    return sorted(folder.glob(".*.partial"))


def start_score(args: list[str], env: dict[str, str], **kwargs: object) -> subprocess.Popen[bytes]:
    """`rewardforge score ARGS` as a real process, as a user would run it."""
    return subprocess.Popen([*RF, "score", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            **kwargs)  # type: ignore[call-overload]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def lines_in(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def as_nobody() -> list[str]:
    """A command prefix that runs as an unprivileged user (root ignores folder permissions)."""
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
