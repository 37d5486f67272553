"""A pids cgroup per sandbox slot, where this machine gives us a writable one.

rlimits alone cannot bound a job's processes across user namespaces as tightly as a cgroup, and a cgroup
also lists every process a job left behind, so the slot can be swept clean before it is reused. Both
cgroup v1 (a `pids` hierarchy) and v2 (the unified hierarchy with the `pids` controller) are handled. When
neither is writable (no root, a read-only /sys) the backend runs without it and says so in `describe()`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import time
from pathlib import Path

_GROUP_DIR = "rewardforge-sandbox"


def _mount_points() -> dict[str, Path]:
    """Maps 'pids' (v1) and 'unified' (v2) to where those hierarchies are mounted."""
    found: dict[str, Path] = {}
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        fstype, options = tail[0], tail[2].split(",")
        if fstype == "cgroup" and "pids" in options:
            found.setdefault("pids", Path(fields[4]))
        elif fstype == "cgroup2":
            found.setdefault("unified", Path(fields[4]))
    return found


def _own_paths() -> dict[str, str]:
    """This process's cgroup path in the pids (v1) and unified (v2) hierarchies."""
    paths: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return paths
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            paths["unified"] = path
        elif "pids" in controllers.split(","):
            paths["pids"] = path
    return paths


@functools.cache
def pids_parent() -> Path | None:
    """The cgroup directory holding the slots' pids cgroups (created if needed), or None if not writable."""
    mounts, own = _mount_points(), _own_paths()
    if "pids" in mounts and "pids" in own:
        parent = mounts["pids"] / own["pids"].lstrip("/") / _GROUP_DIR
        with contextlib.suppress(OSError):
            parent.mkdir(exist_ok=True)
            return parent if os.access(parent, os.W_OK) else None
        return None
    if "unified" in mounts and "unified" in own:
        base = mounts["unified"] / own["unified"].lstrip("/")
        parent = base / _GROUP_DIR
        with contextlib.suppress(OSError):
            if "pids" not in (base / "cgroup.controllers").read_text().split():
                return None
            parent.mkdir(exist_ok=True)
            # Enabling a controller for children is refused in a non-root group that holds processes.
            (base / "cgroup.subtree_control").write_text("+pids")
            (parent / "cgroup.subtree_control").write_text("+pids")
            return parent
    return None


class PidsCgroup:
    """One slot's cgroup: bounds its processes and threads, and can kill whatever the job left running."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.procs_file = path / "cgroup.procs"

    def set_max(self, pids: int) -> None:
        (self.path / "pids.max").write_text(str(pids))

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in self.procs_file.read_text().split()]
        except OSError:
            return []

    def kill_all(self, settle_s: float = 1.0) -> bool:
        """SIGKILL every process in the group until it is empty; False if some survived `settle_s`."""
        kill_file = self.path / "cgroup.kill"
        deadline = time.monotonic() + settle_s
        while True:
            members = self.pids()
            if not members:
                return True
            if kill_file.exists():
                with contextlib.suppress(OSError):
                    kill_file.write_text("1")
            else:
                for pid in members:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
            if time.monotonic() > deadline:
                return not self.pids()
            time.sleep(0.002)


def slot_cgroup(slot_name: str) -> PidsCgroup | None:
    """The pids cgroup for `slot_name`, created on first use; None where no pids cgroup is writable."""
    parent = pids_parent()
    if parent is None:
        return None
    path = parent / slot_name
    try:
        path.mkdir(exist_ok=True)
    except OSError:
        return None
    group = PidsCgroup(path)
    return group if os.access(group.procs_file, os.W_OK) else None
