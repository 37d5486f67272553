"""Helpers shared by the foundation tests (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
RF = [sys.executable, "-m", "rewardforge.cli"]
T = TypeVar("T")


def count_calls(log: Path) -> int:
    """How many evaluations a counting reward logged."""
    return len(log.read_text().splitlines()) if log.exists() else 0


def tagged_processes(tag: str) -> list[int]:
    """Live processes whose environment carries RF_FAULT_TAG=tag: everything a test's workers started,
    wherever it was reparented (a `setsid` daemon included)."""
    needle = f"RF_FAULT_TAG={tag}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            environ = Path(f"/proc/{name}/environ").read_bytes()
            state = Path(f"/proc/{name}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in environ.split(b"\0") and state != b"Z":
            found.append(int(name))
    return found


def wait_until_gone(tag: str, within: float = 10.0) -> list[int]:
    """Tagged processes still alive after waiting up to `within` seconds (a kill takes a moment)."""
    deadline = time.monotonic() + within
    while (left := tagged_processes(tag)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def zombie_children(pid: int) -> int:
    """Exited children of `pid` that nobody has waited for."""
    count = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            fields = Path(f"/proc/{name}/stat").read_bytes().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == b"Z" and int(fields[1]) == pid:
            count += 1
    return count


async def worst_loop_stall(work: Awaitable[T]) -> tuple[float, T]:
    """Await `work` while a heartbeat ticks every 10 ms on the same loop: (the longest gap between
    ticks, the result). The heartbeat ticks before the work starts, so a stall at its start counts."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def heartbeat() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    beat = asyncio.create_task(heartbeat())
    await asyncio.sleep(0.05)
    try:
        result = await work
    finally:
        done.set()
        await beat
    return max(gaps), result
