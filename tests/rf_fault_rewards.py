"""Rewards that fail in every way the engine must survive; importable by worker processes.

`faulty` does what its completion names (see FAULTS in tests/core/test_faults.py); any other
completion scores its length, so neighbours' values are checkable. Children it starts run
`sleep`-like Python processes, found afterwards by the RF_FAULT_TAG their environment inherits.
"""

from __future__ import annotations

import ctypes
import os
import resource
import subprocess
import sys
import time

from rewardforge import Score, reward

SLEEPER = [sys.executable, "-c", "import time; time.sleep(1000)"]


def _lookup(table: dict[str, str], key: str) -> str:
    return table[key]  # the frame a traceback must name


def _fork_sleeper(*, new_session: bool) -> None:
    if os.fork() == 0:
        if new_session:
            os.setsid()
        time.sleep(1000)
        os._exit(0)


@reward
def faulty(completion: str) -> float | Score:
    """A good completion scores its length; a fault name triggers that fault."""
    if completion == "raise":
        return float(_lookup({}, "missing_key"))
    if completion == "sys_exit":
        sys.exit(3)
    if completion == "keyboard_interrupt":
        raise KeyboardInterrupt
    if completion == "os_exit":
        os._exit(9)
    if completion == "segfault":
        ctypes.string_at(0)
    if completion == "hang":
        time.sleep(1000)
    if completion == "crash_leaving_child":  # the child holds the worker's pipes open
        _fork_sleeper(new_session=False)
        os._exit(1)
    if completion == "setsid_child":  # a daemon in a session of its own, then a normal verdict
        subprocess.Popen(SLEEPER, start_new_session=True)
        return 1.0
    if completion == "hang_with_setsid_child":
        subprocess.Popen(SLEEPER, start_new_session=True)
        time.sleep(1000)
    if completion == "memory":
        return float(len(bytearray(64 * 2**30)))  # past any worker's memory cap
    if completion == "nan":
        return float("nan")
    if completion == "not_a_number":
        return "high"  # type: ignore[return-value]
    if completion == "print_flood":
        sys.stdout.write("x" * (1 << 20))
        print("y" * (1 << 20), file=sys.stderr)
        return 1.0
    if completion == "huge_info":
        return Score.of(1.0, info={"answer": "z" * (50 << 20)})
    return float(len(completion))


@reward
def leaky(completion: str, *, fds_per_call: int = 4, fd_limit: int = 64) -> float:
    """Leaks file descriptors under a small file limit: without recycling, calls soon fail with EMFILE."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft > fd_limit:
        resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, hard))
    leaked = [os.open(os.devnull, os.O_RDONLY) for _ in range(fds_per_call)]
    return float(len(leaked))


@reward
def forks_without_waiting(completion: str) -> Score:
    """Forks a child that exits at once and never waits for it (one zombie per call, unless reaped)."""
    if os.fork() == 0:
        os._exit(0)
    time.sleep(0.002)  # the child has exited by the time the call returns
    return Score.of(1.0, info={"worker": os.getpid()})


@reward
def reads_step(completion: str, step: int) -> float:
    return float(step)


_hoard: list[bytes] = []


@reward
def hoards(completion: str, *, mb: int = 64) -> float:
    """Keeps `mb` more megabytes alive after every call (a slow leak)."""
    _hoard.append(os.urandom(1) * (mb << 20))
    return float(len(_hoard))


@reward
def whoami(completion: str) -> Score:
    """Which worker scored this sample."""
    return Score.of(1.0, info={"pid": os.getpid()})
