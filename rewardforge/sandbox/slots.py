"""Worker slots: each concurrent sandbox gets its own unprivileged uid and cgroups (pids, memory, CPU).

RLIMIT_NPROC counts every process of a uid, so parallel jobs sharing a uid would eat each other's budget
and fail with EAGAIN at random. One uid per slot makes the limit per job. Slots are claimed with `flock`
on a per-uid lock file, which also keeps separate processes (pytest-xdist workers, several trainers on
one host) from handing the same uid to two jobs at once; the kernel drops the lock if the holder dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rewardforge.sandbox.base import Limits, SandboxError
from rewardforge.sandbox.cgroups import SlotCgroup, slot_cgroup

DEFAULT_BASE_UID = 1_800_000
DEFAULT_UID_RANGE = 1024


@dataclass(frozen=True)
class Slot:
    """A claimed slot: run the job as `uid`/`gid` (None: stay the caller's uid) inside `cgroup`."""

    index: int
    uid: int | None
    cgroup: SlotCgroup | None

    def join_args(self, sh: str) -> list[str]:
        """Exec-chain prefix that puts the process in the slot's cgroups (nothing without cgroups)."""
        return self.cgroup.join_args(sh) if self.cgroup is not None else []

    def prepare(self, limits: Limits, *, overhead_pids: int, overhead_mb: int, cpus: float) -> None:
        """Empties the slot of anything an earlier job left, and sets this job's limits on the slot as a
        whole: its processes, its memory and its CPU (plus what the sandbox itself runs in the slot)."""
        if self.cgroup is None:
            return
        if not self.cgroup.kill_all():
            raise SandboxError(f"processes of an earlier job survive in {self.cgroup.unique_dirs[0]}")
        self.cgroup.set_pids(limits.pids + overhead_pids)
        self.cgroup.set_memory((limits.memory_mb + overhead_mb) << 20)
        self.cgroup.set_cpus(cpus)


def _lock_dir() -> Path:
    """Root keeps its locks in /run (not writable by the slot uids); others in a per-user temp dir."""
    if os.geteuid() == 0 and os.path.isdir("/run"):
        path = Path("/run/rewardforge-sandbox")
    else:
        path = Path(tempfile.gettempdir()) / f"rewardforge-sandbox-{os.geteuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


class SlotPool:
    """Hands out slots to concurrent runs; at most `size` at a time from this pool."""

    def __init__(self, size: int, base_uid: int = DEFAULT_BASE_UID, uid_range: int = DEFAULT_UID_RANGE) -> None:
        if size < 1:
            raise ValueError("a slot pool needs at least one slot")
        self.size = size
        self.base_uid = base_uid
        self.uid_range = max(uid_range, size)
        self.switch_uid = os.geteuid() == 0
        self._local = threading.BoundedSemaphore(size)
        self._lock_dir = _lock_dir()
        # Start anywhere in the uid range, then rotate: a uid just released may still own a zombie that
        # counts against its process limit until init reaps it, so a new pool should not reuse it first.
        self._next = random.randrange(self.uid_range)
        self._next_lock = threading.Lock()

    def _try_claim(self, index: int) -> int | None:
        fd = os.open(self._lock_dir / f"slot-{self.base_uid + index}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    @contextlib.contextmanager
    def claim(self) -> Iterator[Slot]:
        """Blocks until a slot is free in this pool and on this host, and holds it for the block."""
        with self._local:
            with self._next_lock:
                start = self._next
                self._next = (self._next + 1) % self.uid_range
            fd = None
            while fd is None:
                for step in range(self.uid_range):
                    index = (start + step) % self.uid_range
                    fd = self._try_claim(index)
                    if fd is not None:
                        break
                else:
                    time.sleep(0.005)  # every uid is busy in some process on this host
            try:
                uid = self.base_uid + index
                name = f"slot-{uid}" if self.switch_uid else f"slot-{os.getpid()}-{index}"
                yield Slot(index=index, uid=uid if self.switch_uid else None, cgroup=slot_cgroup(name))
            finally:
                os.close(fd)
