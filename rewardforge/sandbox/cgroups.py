"""Per-slot cgroups: processes, memory and CPU of one sandbox slot, where this machine gives us writable ones.

rlimits bound each process; a cgroup bounds the job as a whole, as Docker's does for a container:
- `pids`: processes and threads, across user namespaces; it also lists every process a job left behind,
  so the slot can be swept clean before it is reused;
- `memory`: everything the job holds at once, its children and tmpfs files included (RLIMIT_AS alone let
  six children hold 450 MB each in a 512 MB job); swap is not a way around it;
- `cpu`: a CFS quota (`cpus`, 1.0 by default, Docker's default too) and a share equal to every other slot's,
  so that a job spinning many threads cannot slow its siblings past their time limits. The directory
  holding the slots weighs as much as the default number of slots would as plain processes: under load
  from the rest of the machine, sandboxed jobs get the CPU share their processes would get unsandboxed.

cgroup v1 (one hierarchy per controller) and v2 (the unified hierarchy) are both handled. A controller that
is not writable here (no root, a read-only /sys) is left out, and the backend says so at start.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import functools
import os
import signal
import time
from pathlib import Path

CONTROLLERS = ("pids", "memory", "cpu")
_GROUP_DIR = "rewardforge-sandbox"
_CFS_PERIOD_US = 100_000
# The parent lowers the oom_score_adj of each warm slot's own processes (bwrap, the worker) to this, so a
# job that spreads its memory over many small processes cannot get the worker killed instead of itself.
OOM_PROTECTED = -1000


def _mount_points() -> dict[str, Path]:
    """Maps each v1 controller (and 'unified' for v2) to where its hierarchy is mounted."""
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
        if fstype == "cgroup":
            for controller in CONTROLLERS:
                if controller in options:
                    found.setdefault(controller, Path(fields[4]))
        elif fstype == "cgroup2":
            found.setdefault("unified", Path(fields[4]))
    return found


def _own_paths() -> dict[str, str]:
    """This process's cgroup path in each v1 controller's hierarchy and in the unified one."""
    paths: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return paths
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            paths["unified"] = path
        for controller in controllers.split(","):
            if controller in CONTROLLERS:
                paths[controller] = path
    return paths


def _writable_dir(path: Path) -> bool:
    with contextlib.suppress(OSError):
        path.mkdir(exist_ok=True)
        return os.access(path, os.W_OK)
    return False


def _weigh_cpu_parent(parent: Path, v2: bool) -> None:
    """One slot weighs as much as one process at the default weight; the parent as the default slots."""
    slots = max(4, 2 * (os.cpu_count() or 1))
    with contextlib.suppress(OSError):
        if v2:
            (parent / "cpu.weight").write_text(str(min(10_000, 100 * slots)))
        else:
            (parent / "cpu.shares").write_text(str(1024 * slots))


@functools.cache
def controller_parents() -> dict[str, Path]:
    """controller -> the directory holding the slots' cgroups for it (created if needed), for each
    controller that is writable here. On v2 every controller maps to the same directory."""
    mounts, own = _mount_points(), _own_paths()
    found: dict[str, Path] = {}
    for controller in CONTROLLERS:
        if controller in mounts and controller in own:
            parent = mounts[controller] / own[controller].lstrip("/") / _GROUP_DIR
            if _writable_dir(parent):
                found[controller] = parent
    missing = [c for c in CONTROLLERS if c not in found]
    if missing and "unified" in mounts and "unified" in own:
        base = mounts["unified"] / own["unified"].lstrip("/")
        parent = base / _GROUP_DIR
        with contextlib.suppress(OSError):
            available = (base / "cgroup.controllers").read_text().split()
            wanted = [c for c in missing if c in available]
            if wanted and _writable_dir(parent):
                for directory in (base, parent):
                    for controller in wanted:
                        # Refused in a non-root group that holds processes: then the controller stays off.
                        with contextlib.suppress(OSError):
                            (directory / "cgroup.subtree_control").write_text(f"+{controller}")
                enabled = (parent / "cgroup.subtree_control").read_text().split()
                found.update({c: parent for c in wanted if c in enabled})
    if "cpu" in found:
        _weigh_cpu_parent(found["cpu"], v2=(found["cpu"] / "cgroup.controllers").exists())
    return found


def missing_controllers() -> list[str]:
    """The controllers slots run without on this machine."""
    parents = controller_parents()
    return [c for c in CONTROLLERS if c not in parents]


class SlotCgroup:
    """One slot's cgroups (one directory per controller on v1, one in all on v2). Every process of the slot
    is in all of them: the exec chain joins each `procs_files` entry before anything else runs."""

    def __init__(self, dirs: dict[str, Path]) -> None:
        self.dirs = dirs
        self.unique_dirs = list(dict.fromkeys(dirs.values()))
        self.procs_files = [d / "cgroup.procs" for d in self.unique_dirs]
        self.v2 = (self.unique_dirs[0] / "cgroup.controllers").exists()
        self._written: dict[Path, str] = {}  # limits already in force: a job with the same ones writes nothing

    def has(self, controller: str) -> bool:
        return controller in self.dirs

    def join_args(self, sh: str) -> list[str]:
        """Exec-chain prefix that moves the process into every directory of the slot before anything else
        runs. `sh` exports PWD on its own, so it is unset: the next step starts with an empty environment."""
        script = ('unset PWD; n=$0; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n - 1)); '
                  'done; exec "$@"')
        return [sh, "-c", script, str(len(self.procs_files)), *map(str, self.procs_files)]

    def _write(self, controller: str, name: str, value: str) -> None:
        path = self.dirs[controller] / name
        if self._written.get(path) != value:
            self._written.pop(path, None)  # unknown until the write succeeds
            path.write_text(value)
            self._written[path] = value

    def set_pids(self, pids: int) -> None:
        if self.has("pids"):
            self._write("pids", "pids.max", str(pids))

    def set_memory(self, limit_bytes: int) -> None:
        """Memory of the whole slot, swap included. Raises OSError when the limit cannot be set (v1
        refuses a limit below what the slot holds and cannot reclaim)."""
        if not self.has("memory"):
            return
        if self.v2:
            self._write("memory", "memory.max", str(limit_bytes))
            with contextlib.suppress(FileNotFoundError):
                self._write("memory", "memory.swap.max", "0")
            return
        # v1 keeps memsw (memory + swap) >= limit at every step: the order depends on the direction.
        steps = ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
        try:
            self._write("memory", steps[0], str(limit_bytes))
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            steps.reverse()  # raising the limit above memsw: memsw first
            self._write("memory", steps[0], str(limit_bytes))
        with contextlib.suppress(FileNotFoundError):  # no swap accounting: no memsw file
            self._write("memory", steps[1], str(limit_bytes))

    def set_cpus(self, cpus: float) -> None:
        if not self.has("cpu"):
            return
        quota = max(1000, round(cpus * _CFS_PERIOD_US))
        if self.v2:
            self._write("cpu", "cpu.max", f"{quota} {_CFS_PERIOD_US}")
        else:
            self._write("cpu", "cpu.cfs_period_us", str(_CFS_PERIOD_US))
            self._write("cpu", "cpu.cfs_quota_us", str(quota))

    def oom_kills(self) -> int:
        """Processes the memory controller has killed in this slot so far (0 without one)."""
        if not self.has("memory"):
            return 0
        name = "memory.events" if self.v2 else "memory.oom_control"
        try:
            for line in (self.dirs["memory"] / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in self.procs_files[0].read_text().split()]
        except OSError:
            return []

    def protect_from_oom(self) -> None:
        """Makes every process now in the slot (the sandbox's own: nothing else has run yet) the OOM killer's
        last choice; the jobs they start raise theirs again. Needs root; silently kept as is otherwise."""
        for pid in self.pids():
            with contextlib.suppress(OSError):
                Path(f"/proc/{pid}/oom_score_adj").write_text(str(OOM_PROTECTED))

    def kill_all(self, settle_s: float = 1.0) -> bool:
        """SIGKILL every process in the group until it is empty; False if some survived `settle_s`."""
        kill_file = self.unique_dirs[0] / "cgroup.kill"
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



# Slot directories this process made. They are reused from job to job (making and removing a memory cgroup
# per job would leave the kernel a trail of offline ones), and removed when the process exits.
_created: set[Path] = set()


@atexit.register
def _remove_created() -> None:
    for directory in sorted(_created, reverse=True):
        with contextlib.suppress(OSError):  # still in use by another process's holder of the slot: kept
            directory.rmdir()
    _created.clear()


def slot_cgroup(slot_name: str) -> SlotCgroup | None:
    """The cgroups for `slot_name`, created on first use; None where no controller is writable."""
    dirs: dict[str, Path] = {}
    for controller, parent in controller_parents().items():
        path = parent / slot_name
        with contextlib.suppress(OSError):
            if not path.is_dir():
                path.mkdir(exist_ok=True)
                _created.add(path)
            if os.access(path / "cgroup.procs", os.W_OK):
                dirs[controller] = path
    return SlotCgroup(dirs) if dirs else None
