"""The embedded sandbox: bubblewrap namespaces, a per-slot uid, rlimits, seccomp and per-slot cgroups.

What a job sees: `/usr` read-only (plus the interpreter's prefix when it lives elsewhere), a read-only
empty root, `/proc` of its own pid namespace, a minimal read-only `/dev` (the device nodes stay usable; a
job can neither add, replace nor chmod anything there, so nothing it does reaches the next job; no
pseudo-terminals, which are capped only host-wide), a two-line
`/etc/passwd` and `/etc/group`, and three sized tmpfs mounts (`/work` holding its files and used as the
working directory, `/tmp`, `/dev/shm`). Never `/`, `/root`, the rest of `/etc` or the project. No network
(a new net namespace with only loopback), no nested user namespaces, no capabilities, `no_new_privs`,
Docker's default seccomp profile (`seccomp.py`), a new session, and death with its parent. The slot's
cgroups (`cgroups.py`) bound the job as a whole: processes, memory (`Limits.memory_mb`, children and tmpfs
included) and CPU (`cpus`, 1 by default, as Docker).

Two ways to run, with the same isolation (the hazard suite runs on both):
- warm (default): one long-lived sandbox per slot whose worker (`_zygote.py`) forks a fresh child per job
  with new mount/PID/IPC namespaces and fresh tmpfs mounts (see `warm.py`). A few ms per job.
- cold (`warm=False`): a whole new bwrap per job. The exec chain has no Python between fork and exec:
  `sh` (joins the slot's cgroups) -> `setpriv` (the slot's uid, no caps) -> `bwrap` -> `prlimit`
  (rlimits, set inside the sandbox's user namespace) -> the job. Every step starts from an empty
  environment, so not even bwrap's own pid 1 carries the parent's environment.
"""

from __future__ import annotations

import contextlib
import json
import logging
import marshal
import math
import os
import shutil
import signal
import threading
import warnings
import weakref
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Literal

from rewardforge.sandbox.base import ExecRequest, ExecResult, Limits, SandboxBackend, SandboxError
from rewardforge.sandbox.cgroups import controller_parents, missing_controllers
from rewardforge.sandbox.jobs import (
    DEFAULT_ENV,
    PYTHON_NAMES,
    WORKDIR,
    as_bytes,
    classify,
    default_python,
    job_path,
    prlimit_args,
    result_from,
)
from rewardforge.sandbox.process import ProcessOutcome, memfd_with, run_process
from rewardforge.sandbox.seccomp import SeccompUnsupported, bpf_filter
from rewardforge.sandbox.slots import DEFAULT_BASE_UID, Slot, SlotPool
from rewardforge.sandbox.warm import WARM_OVERHEAD_PIDS, ZYGOTE_SOURCE, WarmPool, WarmWorker, inline_python

logger = logging.getLogger(__name__)

# The worker reads its source from a descriptor (so it is neither a file jobs could list nor a huge argv).
ZYGOTE_BOOTSTRAP = (
    "import os, sys\nwith os.fdopen(int(sys.argv[1]), 'rb') as f:\n    source = f.read()\n"
    "exec(compile(source, 'rewardforge-sandbox-worker', 'exec'))"
)
# bwrap processes that count against the job's pids budget: the outer bwrap and its pid-1 monitor.
_BWRAP_OVERHEAD_PIDS = 2
# Memory of a slot that is not the job's: bwrap's processes and, warm, the worker (an interpreter).
SLOT_OVERHEAD_MB = 64


class SandboxWeakeningWarning(UserWarning):
    """The local backend runs with less isolation than it is built for on this machine (a cgroup
    controller or the seccomp filter is unavailable): the warning says what is missing and what follows."""


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, SandboxWeakeningWarning, stacklevel=3)
        logger.warning(message)


_MISSING_EFFECTS = {
    "pids": "only RLIMIT_NPROC bounds a job's processes",
    "memory": "memory_mb bounds each process (RLIMIT_AS), not the job: a job of N processes can hold N times "
              "memory_mb and exhaust the host",
    "cpu": "jobs are not CPU-capped: one job spinning many threads can push its siblings past their time limits",
}


def _seccomp_filter() -> bytes | None:
    try:
        return bpf_filter()
    except SeccompUnsupported as exc:
        _warn_once(f"rewardforge local sandbox: NO SECCOMP FILTER ({exc}): io_uring, keyrings, bpf and the "
                   "other calls Docker's default profile refuses reach the kernel")
        return None


class LocalBackend(SandboxBackend):
    """bubblewrap sandbox, the embedded default. Safe to call from many threads (see `run_many`)."""

    name = "local"

    def __init__(
        self,
        *,
        slots: int | None = None,
        python: str | None = None,
        base_uid: int = DEFAULT_BASE_UID,
        bwrap: str | None = None,
        warm: bool = True,
        max_jobs_per_worker: int = 1000,
        method: Literal["auto", "bwrap", "unshare"] = "auto",
        cpus: float = 1.0,
    ) -> None:
        """`slots`: jobs at once (default 2 per CPU, at least 4). `warm`: reuse one sandbox per slot and fork
        a fresh, fully isolated child per job (fast); False starts a whole new sandbox per job.
        `method`: "bwrap", or "unshare" (util-linux; the warm worker builds the sandbox root itself) for
        machines without bubblewrap; "auto" prefers bwrap. The unshare method is warm only.
        `cpus`: the CPU quota of each job (its slot's cgroup), 1 by default as Docker's.

        Where a cgroup controller or the seccomp filter is unavailable, the backend still runs and says so
        loudly (a `SandboxWeakeningWarning` and a log line) naming what follows; `describe()` lists it."""
        if cpus <= 0:
            raise ValueError(f"cpus must be positive, got {cpus}")
        self.bwrap = bwrap or shutil.which("bwrap") or ""
        if method == "auto":
            method = "bwrap" if self.bwrap and os.access(self.bwrap, os.X_OK) else "unshare"
        if method == "unshare" and not warm:
            raise ValueError("the unshare method runs warm workers only (warm=True)")
        self.method = method
        self.python = python or default_python()
        self.slots = SlotPool(slots or max(4, 2 * (os.cpu_count() or 1)), base_uid=base_uid)
        self._tools = {tool: shutil.which(tool) or "" for tool in ("sh", "prlimit", "setpriv", "unshare", "env")}
        self._static_args = self._mount_args()
        self._unavailable: str | None = None
        self._max_jobs = max_jobs_per_worker
        self._preloads: dict[str, str] = {}
        self._preloads_lock = threading.Lock()
        self.cpus = cpus
        self._seccomp = _seccomp_filter()
        for controller in missing_controllers():
            _warn_once(f"rewardforge local sandbox: NO WRITABLE {controller.upper()} CGROUP on this machine: "
                       f"{_MISSING_EFFECTS[controller]} (run as root with a writable /sys/fs/cgroup)")
        self._warm = self._new_warm_pool() if warm else None

    @property
    def concurrency(self) -> int:
        return self.slots.size

    @property
    def overhead_pids(self) -> int:
        """Processes of a job's slot that are not the job's: added to `Limits.pids` for the pids limits."""
        return WARM_OVERHEAD_PIDS if self._warm is not None else _BWRAP_OVERHEAD_PIDS

    # -- setup ---------------------------------------------------------------------------------------
    def _missing_tools(self) -> list[str]:
        missing = []
        if self.method == "bwrap" and not (self.bwrap and os.access(self.bwrap, os.X_OK)):
            missing.append("bwrap (apt-get install bubblewrap; scripts/setup_sandbox.sh)")
        needed = ["sh", "prlimit"] + (["setpriv"] if self.slots.switch_uid else [])
        needed += ["unshare", "env"] if self.method == "unshare" else []
        return missing + [f"{tool} (util-linux)" for tool in needed if not self._tools[tool]]

    def available(self) -> bool:
        return self.unavailable_reason() is None

    def unavailable_reason(self) -> str | None:
        """Why jobs cannot run here (missing tools, no user namespaces), or None; probed once."""
        if self._unavailable is None:
            missing = self._missing_tools()
            if missing:
                self._unavailable = "missing: " + ", ".join(missing)
            else:
                probe = self.run(ExecRequest(argv=["/usr/bin/true"], limits=Limits(wall_s=10)))
                self._unavailable = "" if probe.status == "ok" else (probe.reason or probe.status)
        return self._unavailable or None

    def describe(self) -> dict[str, object]:
        """What isolation this machine gives, for logs and bug reports."""
        return {
            "backend": self.name,
            "method": self.method,
            "bwrap": self.bwrap or None,
            "python": self.python,
            "per_slot_uid": self.slots.switch_uid,
            "warm_workers": self._warm is not None,
            "cgroups": {controller: str(path) for controller, path in controller_parents().items()},
            "cpus_per_job": self.cpus,
            "seccomp": "docker-default" if self._seccomp is not None else None,
            "missing": self._missing_tools() + [f"{c} cgroup" for c in missing_controllers()]
                       + ([] if self._seccomp is not None else ["seccomp"]),
        }

    def _mount_args(self) -> list[str]:
        """The mounts every job shares: /usr, the interpreter's prefix if elsewhere, the merged-usr links."""
        args = ["--ro-bind", "/usr", "/usr"]
        for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            host = Path("/") / top
            if host.is_symlink():
                args += ["--symlink", os.readlink(host), str(host)]
            elif host.is_dir():
                args += ["--ro-bind", str(host), str(host)]
        prefix = Path(self.python).resolve().parent.parent
        if not prefix.is_relative_to("/usr") and prefix != Path("/"):
            # Bound at its own path: the interpreter may find libpython through an absolute RPATH.
            args += ["--ro-bind", str(prefix), str(prefix)]
        return args

    # -- running -------------------------------------------------------------------------------------
    def run(self, request: ExecRequest) -> ExecResult:
        missing = self._missing_tools()
        if missing:
            return ExecResult(status="sandbox_error", backend=self.name, reason="missing: " + ", ".join(missing))
        if self._warm is not None:
            return self._run_warm(request)
        try:
            with self.slots.claim() as slot, self._job_fds(request) as (file_args, fds):
                return self._run_in_slot(request, slot, file_args, fds)
        except (OSError, SandboxError) as exc:
            return ExecResult(status="sandbox_error", backend=self.name, reason=f"sandbox setup failed: {exc}")

    def _run_warm(self, request: ExecRequest) -> ExecResult:
        payload = self._warm_payload(request)
        try:
            worker = self._limited_worker(request.limits, _warm_overhead(payload))
        except (OSError, SandboxError) as exc:
            return ExecResult(status="sandbox_error", backend=self.name, reason=f"sandbox setup failed: {exc}")
        try:
            return worker.run(request, payload, self.name, classify)
        except (OSError, SandboxError) as exc:
            worker.broken = True
            return ExecResult(status="sandbox_error", backend=self.name, reason=f"sandbox failed: {exc}")
        finally:
            self._warm.release(worker)  # type: ignore[union-attr]

    def _limited_worker(self, limits: Limits, overhead_pids: int) -> WarmWorker:
        """An idle warm worker whose slot now has the job's limits. A slot that cannot take them (cgroup v1
        refuses a memory limit below what the slot holds) gets a fresh worker, which holds nothing yet."""
        pool = self._warm
        assert pool is not None
        for _ in range(2):
            worker = pool.acquire()
            try:
                worker.apply_limits(limits, overhead_pids, SLOT_OVERHEAD_MB)
            except OSError as exc:
                worker.broken = True
                pool.release(worker)
                error = exc
                continue
            return worker
        raise SandboxError(f"the slot's cgroups refuse the job's limits: {error}")

    def preload_python(self, name: str, source: str) -> bool:
        """Warm workers import `source` as module `name` before their first job, so inline Python jobs find
        it compiled in sys.modules instead of loading it on every run. Each job runs in a fork of the
        worker, so no job can change what the next one finds. True when every job run from now on will
        find the module; False for cold runs. Workers started without it are replaced."""
        if self._warm is None:
            return False
        with self._preloads_lock:
            if self._preloads.get(name) != source:
                self._preloads[name] = source
                self._warm.retire_all()
        return True

    def _preload_args(self) -> tuple[list[str], list[int]]:
        with self._preloads_lock:
            modules = sorted(self._preloads.items())
        if not modules:
            return [], []
        fd = memfd_with(marshal.dumps(modules), "rf-preload")
        return ["--preload", str(fd)], [fd]

    def close(self) -> None:
        """Stops the warm workers (a later run starts new ones)."""
        if self._warm is not None:
            self._finalizer.detach()
            self._warm.close()
            self._warm = self._new_warm_pool()

    def _new_warm_pool(self) -> WarmPool:
        # The pool must not keep this backend alive: a forgotten backend is collected, and the finalizer
        # then stops its workers and frees their slots' uids.
        command = weakref.WeakMethod(self._warm_command)

        def start_worker(slot: Slot, control_fd: int) -> tuple[list[str], list[int]]:
            method = command()
            if method is None:
                raise SandboxError("the sandbox backend was garbage-collected")
            return method(slot, control_fd)

        pool = WarmPool(self.slots, start_worker, self._max_jobs, self.cpus)
        self._finalizer = weakref.finalize(self, pool.close)
        return pool

    @contextlib.contextmanager
    def _job_fds(self, request: ExecRequest) -> Iterator[tuple[list[str], list[int]]]:
        """bwrap arguments that copy the job's files (and /etc/passwd) in from memfds, and those fds."""
        fds: list[int] = []
        args: list[str] = []
        dirs: set[PurePosixPath] = set()
        try:
            for name, content in sorted(request.files.items()):
                rel = job_path(name)
                for parent in reversed(rel.parents[:-1]):
                    if parent not in dirs:
                        dirs.add(parent)
                        args += ["--dir", f"{WORKDIR}/{parent}"]
                data = as_bytes(content)
                fds.append(memfd_with(data, "rf-file"))
                mode = "0755" if data.startswith(b"#!") else "0644"
                args += ["--perms", mode, "--file", str(fds[-1]), f"{WORKDIR}/{rel}"]
            yield args, fds
        finally:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _identity_fds(self, uid: int) -> tuple[list[str], list[int]]:
        passwd = f"sandbox:x:{uid}:{uid}:sandbox:/tmp:/bin/sh\n".encode()
        group = f"sandbox:x:{uid}:\n".encode()
        fds = [memfd_with(passwd, "rf-passwd"), memfd_with(group, "rf-group")]
        args = ["--perms", "0444", "--ro-bind-data", str(fds[0]), "/etc/passwd",
                "--perms", "0444", "--ro-bind-data", str(fds[1]), "/etc/group"]
        return args, fds

    def _argv(self, request: ExecRequest) -> list[str]:
        if not request.argv:
            raise ValueError("ExecRequest.argv is empty")
        head = self.python if request.argv[0] in PYTHON_NAMES else request.argv[0]
        return [head, *request.argv[1:]]

    def _privilege_drop(self, slot: Slot) -> list[str]:
        """setpriv to the slot's uid (root callers only): bwrap then runs unprivileged, in a user namespace."""
        if slot.uid is None:
            return []
        return [self._tools["setpriv"], f"--reuid={slot.uid}", f"--regid={slot.uid}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]

    def _bwrap_args(self, slot: Slot, identity_args: list[str]) -> list[str]:
        """bwrap options shared by cold runs and warm workers (per-job mounts come after these)."""
        uid = slot.uid if slot.uid is not None else os.getuid()
        gid = slot.uid if slot.uid is not None else os.getgid()
        return [
            self.bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--uid", str(uid),
            "--gid", str(gid), "--hostname", "sandbox", "--die-with-parent", "--new-session",
            *self._static_args, "--proc", "/proc", "--dev", "/dev",
            # No pseudo-terminals (/dev/ptmx points into /dev/pts): they are capped only host-wide (kernel.pty.max),
            # so one job could take every one that other sandboxes and containers may get.
            "--size", "4096", "--tmpfs", "/dev/pts", "--remount-ro", "/dev/pts", *identity_args,
        ]

    def _command(self, request: ExecRequest, slot: Slot, file_args: list[str], status_fd: int,
                 identity_args: list[str], seccomp_args: list[str]) -> list[str]:
        """The cold exec chain; every step gets an empty environment, so bwrap's pid 1 carries none."""
        limits = request.limits
        tmp_bytes = str(limits.tmp_mb << 20)
        chain = [
            *slot.join_args(self._tools["sh"]),
            *self._privilege_drop(slot),
            *self._bwrap_args(slot, identity_args),
            "--size", tmp_bytes, "--tmpfs", "/tmp",
            "--size", tmp_bytes, "--tmpfs", "/dev/shm", "--remount-ro", "/dev",
            "--size", tmp_bytes, "--tmpfs", WORKDIR,
            *file_args,
            "--chdir", WORKDIR, "--clearenv",
        ]
        for key, value in {**DEFAULT_ENV, **request.env}.items():
            chain += ["--setenv", key, value]
        # A trusted harness is the sandbox's pid 1 itself, as in a warm run. bwrap's own pid 1 runs as the job's
        # uid, stays dumpable and holds the job's stdout: a test program could ptrace it and write into the
        # harness's report stream (tests/sandbox/test_redteam.py). Nothing inside can signal a pid 1 to death.
        if request.trusted_init:
            chain.append("--as-pid-1")
        # rlimits are applied inside the sandbox: RLIMIT_NPROC then counts this sandbox's user namespace only
        # (Linux >= 5.14 ucounts), so it bounds the job even when every slot shares the caller's uid.
        nproc = limits.pids + 1  # bwrap's init
        chain += ["--json-status-fd", str(status_fd), *seccomp_args, "--remount-ro", "/", "--",
                  self._tools["prlimit"], *prlimit_args(limits, nproc), "--", *self._argv(request)]
        return chain

    def _seccomp_fd(self, option: str) -> tuple[list[str], list[int]]:
        """`option FD` carrying the job filter in a memfd (nothing where this machine has none)."""
        if self._seccomp is None:
            return [], []
        fd = memfd_with(self._seccomp, "rf-seccomp")
        return [option, str(fd)], [fd]

    def _warm_command(self, slot: Slot, control_fd: int) -> tuple[list[str], list[int]]:
        """The exec chain of a warm worker, and the descriptors it must inherit besides `control_fd`."""
        if self.method == "unshare":
            return self._unshare_command(slot, control_fd)
        identity_args, identity_fds = self._identity_fds(slot.uid if slot.uid is not None else os.getuid())
        source_fd = memfd_with(ZYGOTE_SOURCE.encode(), "rf-zygote")
        chain = [
            *slot.join_args(self._tools["sh"]),
            *self._privilege_drop(slot),
            *self._bwrap_args(slot, identity_args),

            # Only inside the worker's own user namespace, and dropped by each job before its code runs.
            "--cap-add", "CAP_SYS_ADMIN", "--cap-add", "CAP_SETPCAP",
            "--size", str(1 << 20), "--tmpfs", "/tmp", "--size", str(1 << 20), "--tmpfs", "/dev/shm",
            # Read-only before any job: every job's mount namespace is a copy of this one.
            "--remount-ro", "/dev",
            "--dir", WORKDIR, "--chdir", "/", "--clearenv",
        ]
        for key, value in DEFAULT_ENV.items():
            chain += ["--setenv", key, value]
        preload_args, preload_fds = self._preload_args()
        # The worker installs the filter in each job: it needs mount and namespace flags itself.
        seccomp_args, seccomp_fds = self._seccomp_fd("--seccomp")
        chain += ["--remount-ro", "/", "--", self.python, "-I", "-c", ZYGOTE_BOOTSTRAP, str(source_fd),
                  *preload_args, *seccomp_args, str(control_fd)]
        return chain, [*identity_fds, source_fd, *preload_fds, *seccomp_fds]

    def _unshare_command(self, slot: Slot, control_fd: int) -> tuple[list[str], list[int]]:
        """Without bubblewrap: util-linux `unshare` makes the namespaces (the worker is root in its own user
        namespace only) and the worker builds the same root bwrap would (`_zygote._build_root`)."""
        top: list[tuple[str, str | None]] = []
        for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            host = Path("/") / name
            if host.is_symlink():
                top.append((name, os.readlink(host)))
            elif host.is_dir():
                top.append((name, None))
        binds = ["/usr"]
        prefix = Path(self.python).resolve().parent.parent
        if not prefix.is_relative_to("/usr") and prefix != Path("/"):
            binds.append(str(prefix))
        source_fd = memfd_with(ZYGOTE_SOURCE.encode(), "rf-zygote")
        preload_args, preload_fds = self._preload_args()
        seccomp_args, seccomp_fds = self._seccomp_fd("--seccomp")
        chain = [
            *slot.join_args(self._tools["sh"]),
            *self._privilege_drop(slot),
            self._tools["unshare"], "--user", "--map-root-user", "--mount", "--pid", "--fork", "--net", "--ipc",
            "--uts", "--cgroup", "--kill-child", "--",
            # The worker's environment is its jobs' malloc tuning (MALLOC_ARENA_MAX is read at start-up).
            self._tools["env"], "-i", *(f"{key}={value}" for key, value in DEFAULT_ENV.items()),
            self.python, "-I", "-c", ZYGOTE_BOOTSTRAP, str(source_fd),
            "--build-root", json.dumps({"top": top, "binds": binds}), *preload_args, *seccomp_args,
            str(control_fd),
        ]
        return chain, [source_fd, *preload_fds, *seccomp_fds]

    def _warm_payload(self, request: ExecRequest) -> dict[str, object]:
        limits = request.limits
        cpu = max(1, math.ceil(limits.cpu_s))
        rlimits = [
            ("RLIMIT_AS", (limits.memory_mb << 20,) * 2),
            ("RLIMIT_CPU", (cpu, cpu + 1)),
            ("RLIMIT_FSIZE", (limits.file_size_mb << 20,) * 2),
            ("RLIMIT_NOFILE", (256, 256)),
            ("RLIMIT_CORE", (0, 0)),
        ]
        # Counted per user namespace (Linux >= 5.14 ucounts), and each worker has its own: so this bounds the
        # job (plus the worker's fixed few) even when every slot runs under the caller's uid.
        argv = self._argv(request)
        python_inline = request.argv[0] in PYTHON_NAMES and inline_python(argv)
        # Only a trusted Python program running in the warm interpreter becomes pid 1 (see ExecRequest).
        as_init = request.trusted_init and python_inline
        rlimits.append(("RLIMIT_NPROC", (limits.pids + _warm_overhead({"as_init": as_init}),) * 2))
        files = [(str(job_path(name)), as_bytes(content)) for name, content in sorted(request.files.items())]
        return {
            "argv": argv,
            "files": files,
            "env": {**DEFAULT_ENV, **request.env},
            "rlimits": rlimits,
            "tmp_bytes": limits.tmp_mb << 20,
            "python_inline": python_inline,
            "as_init": as_init,
        }

    def _run_in_slot(self, request: ExecRequest, slot: Slot, file_args: list[str], fds: list[int]) -> ExecResult:
        limits = request.limits
        slot.prepare(limits, overhead_pids=_BWRAP_OVERHEAD_PIDS, overhead_mb=SLOT_OVERHEAD_MB, cpus=self.cpus)
        oom_before = slot.cgroup.oom_kills() if slot.cgroup is not None else 0
        identity_args, identity_fds = self._identity_fds(slot.uid if slot.uid is not None else os.getuid())
        seccomp_args, seccomp_fds = self._seccomp_fd("--seccomp")
        status_read, status_write = os.pipe()
        try:
            argv = self._command(request, slot, file_args, status_write, identity_args, seccomp_args)
            outcome = run_process(
                argv,
                env={},
                stdin=as_bytes(request.stdin),
                wall_s=limits.wall_s,
                output_bytes=limits.output_bytes,
                pass_fds=[*fds, *identity_fds, *seccomp_fds, status_write],
                extra_kill=slot.cgroup.kill_all if slot.cgroup is not None else None,
            )
            os.close(status_write)
            status_write = -1
            status = _read_status(status_read)
        finally:
            for fd in (*identity_fds, *seccomp_fds, status_read, status_write):
                if fd >= 0:
                    os.close(fd)
        oom_killed = slot.cgroup is not None and slot.cgroup.oom_kills() > oom_before
        return self._result(outcome, status, limits, oom_killed)

    def _result(self, outcome: ProcessOutcome, status: dict[str, int], limits: Limits,
                oom_killed: bool) -> ExecResult:
        if "child-pid" not in status:
            if outcome.timed_out:
                return result_from(outcome, self.name, "sandbox_error", "sandbox did not start in time")
            detail = outcome.stderr.decode("utf-8", "replace").strip()[-500:]
            return result_from(outcome, self.name, "sandbox_error", f"bwrap failed to start the job: {detail}")
        code = status.get("exit-code", outcome.returncode)  # bwrap does not report a failed execvp
        if code is None or code < 0:  # killed by us before bwrap could report
            exit_code, sig = None, int(signal.SIGKILL)
        elif code > 128:  # bwrap reports a child killed by signal N as 128 + N, like a shell
            exit_code, sig = None, code - 128
        else:
            exit_code, sig = code, None
        kind, reason = classify(outcome, exit_code, sig, limits, oom_killed=oom_killed)
        return result_from(outcome, self.name, kind, reason, exit_code, sig)


def _warm_overhead(payload: dict[str, object]) -> int:
    """Processes of the slot that are not the job's: one less when the job is its own pid 1."""
    return WARM_OVERHEAD_PIDS - 1 if payload["as_init"] else WARM_OVERHEAD_PIDS


def _read_status(fd: int) -> dict[str, int]:
    """Merges the JSON objects bwrap wrote on its status fd ({"child-pid"}, then {"exit-code"})."""
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    merged: dict[str, int] = {}
    decoder = json.JSONDecoder()
    text, pos = b"".join(chunks).decode("utf-8", "replace"), 0
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            break
        if isinstance(obj, dict):
            merged.update({k: v for k, v in obj.items() if isinstance(v, int)})
    return merged
