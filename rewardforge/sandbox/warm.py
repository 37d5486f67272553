"""Warm workers for the local backend: one long-lived bubblewrap sandbox per slot, one fresh child per job.

The worker (`_zygote.py`) runs inside the same sandbox a cold run gets, holding only CAP_SYS_ADMIN and
CAP_SETPCAP *inside its own user namespace* so that it can give each job new mount/PID/IPC namespaces and
fresh tmpfs mounts, then drop every capability before job code runs. What a job can observe and do is the
same as in a cold run; what it saves is the sandbox start and the interpreter start-up (tens of ms).

The parent talks to a worker over a SOCK_SEQPACKET socket and passes the job's stdin/stdout/stderr as
descriptors, so output is read here, with the byte cap, exactly like a cold run.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import queue
import selectors
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from rewardforge.sandbox.base import ExecRequest, ExecResult, Limits, SandboxError
from rewardforge.sandbox.process import CappedBuffer, ProcessOutcome, kill_group, memfd_with
from rewardforge.sandbox.slots import Slot, SlotPool

ZYGOTE_SOURCE = (Path(__file__).with_name("_zygote.py")).read_text()
# Processes of a warm slot besides the job's own: outer bwrap, bwrap's init, the worker and the job's pid 1.
WARM_OVERHEAD_PIDS = 4
# The slot's memory limit while the worker starts (an interpreter and the preloaded modules).
_START_MEMORY_MB = 256
_START_TIMEOUT_S = 15.0
_KILL_GRACE_S = 2.0
_DRAIN_GRACE_S = 0.05
_READ_CHUNK = 1 << 16
# (slot, control fd) -> the worker's argv and the descriptors it must also inherit.
WorkerCommand = Callable[[Slot, int], tuple[list[str], list[int]]]


class _Spawner:
    """Starts workers from one long-lived thread.

    bwrap's --die-with-parent (PR_SET_PDEATHSIG) fires when the *thread* that forked it exits, so a worker
    started from a short-lived thread (a run_many pool) would be killed with it. This thread lives as long
    as the process, which is exactly when workers should die.
    """

    def __init__(self) -> None:
        self._requests: queue.Queue[tuple[dict[str, Any], Future[subprocess.Popen[bytes]]]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def popen(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="rewardforge-sandbox-spawner",
                                                daemon=True)
                self._thread.start()
        future: Future[subprocess.Popen[bytes]] = Future()
        self._requests.put(({"args": argv, **kwargs}, future))
        return future.result()

    def _serve(self) -> None:
        while True:
            kwargs, future = self._requests.get()
            try:
                future.set_result(subprocess.Popen(**kwargs))
            except BaseException as exc:
                future.set_exception(exc)


_spawner = _Spawner()


class WarmWorker:
    """One warm sandbox bound to one claimed slot. Used by one thread at a time."""

    def __init__(self, slots: SlotPool, command: WorkerCommand, max_jobs: int, cpus: float = 1.0) -> None:
        self._stack = contextlib.ExitStack()
        self.slot = self._stack.enter_context(slots.claim())
        self.max_jobs = max_jobs
        self.jobs = 0
        self.broken = False
        self.generation = 0
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock = ours
        self._errors = tempfile.TemporaryFile()
        try:
            self.slot.prepare(Limits(pids=8, memory_mb=_START_MEMORY_MB), overhead_pids=WARM_OVERHEAD_PIDS,
                              overhead_mb=0, cpus=cpus)
            argv, extra_fds = command(self.slot, theirs.fileno())
            try:
                self.proc = _spawner.popen(
                    argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._errors, env={},
                    pass_fds=(theirs.fileno(), *extra_fds), start_new_session=True,
                )
            finally:
                for fd in extra_fds:
                    os.close(fd)
        except BaseException:
            self._teardown()
            raise
        finally:
            theirs.close()
        self.sock.settimeout(_START_TIMEOUT_S)
        try:
            ready = self.sock.recv(4096)
        except OSError:
            ready = b""
        if not ready.startswith(b'{"ready"'):
            detail = " ".join(part for part in (ready.decode("utf-8", "replace"), self._startup_errors()) if part)
            self.close()
            raise SandboxError(f"warm sandbox worker did not start: {detail or 'no reply'}")
        self.sock.settimeout(None)
        if self.slot.cgroup is not None:
            self.slot.cgroup.protect_from_oom()

    def _startup_errors(self) -> str:
        with contextlib.suppress(OSError):
            self._errors.seek(0)
            return self._errors.read(4000).decode("utf-8", "replace").strip()
        return ""

    @property
    def reusable(self) -> bool:
        return not self.broken and self.jobs < self.max_jobs and self.proc.poll() is None

    def apply_limits(self, limits: Limits, overhead_pids: int, overhead_mb: int) -> None:
        """The next job's limits on the whole slot (its processes, its memory). Raises OSError when the memory
        limit cannot be set: the worker must then be replaced."""
        if self.slot.cgroup is not None:
            self.slot.cgroup.set_pids(limits.pids + overhead_pids)
            self.slot.cgroup.set_memory((limits.memory_mb + overhead_mb) << 20)

    def run(self, request: ExecRequest, payload: dict[str, object], backend: str,
            classify: Callable[..., tuple]) -> ExecResult:
        """Runs one job (call `apply_limits` first)."""
        limits = request.limits
        self.jobs += 1
        oom_before = self.slot.cgroup.oom_kills() if self.slot.cgroup is not None else 0
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        sent = [memfd_with(request.stdin if isinstance(request.stdin, bytes) else request.stdin.encode(),
                           "rf-stdin"), out_w, err_w,
                memfd_with(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL), "rf-request")]
        started = time.monotonic()
        try:
            socket.send_fds(self.sock, [b"R"], sent)
        except OSError as exc:
            self.broken = True
            for fd in (out_r, err_r):
                os.close(fd)
            raise SandboxError(f"warm sandbox worker is gone: {exc}") from exc
        finally:
            for fd in sent:
                os.close(fd)
        reply, outcome = self._collect(out_r, err_r, started, limits)
        if reply is None:
            self.broken = True
            if self.slot.cgroup is not None and self.slot.cgroup.oom_kills() > oom_before:
                # Only the job's memory can fill the slot: it spread itself so thin that the OOM killer took
                # the worker (where the parent cannot protect it). The job's verdict, never a sandbox error.
                return ExecResult(status="memory", signal=int(signal.SIGKILL), stdout=outcome.stdout,
                                  stderr=outcome.stderr, truncated=outcome.truncated, wall_s=outcome.wall_s,
                                  backend=backend,
                                  reason=f"memory limit of {limits.memory_mb} MB reached (OOM kill of the sandbox)")
            return ExecResult(status="sandbox_error", stdout=outcome.stdout, stderr=outcome.stderr,
                              truncated=outcome.truncated, wall_s=outcome.wall_s, backend=backend,
                              reason="warm sandbox worker stopped answering")
        if "error" in reply:
            self.broken = True
            return ExecResult(status="sandbox_error", stdout=outcome.stdout, stderr=outcome.stderr,
                              wall_s=outcome.wall_s, backend=backend, reason=str(reply["error"]))
        status = int(reply["status"])
        if os.WIFSIGNALED(status):
            exit_code, sig = None, os.WTERMSIG(status)
        else:
            exit_code, sig = os.WEXITSTATUS(status), None
        oom_killed = self.slot.cgroup is not None and self.slot.cgroup.oom_kills() > oom_before
        kind, reason = classify(outcome, exit_code, sig, limits, oom_killed=oom_killed)
        return ExecResult(status=kind, exit_code=exit_code, signal=sig, stdout=outcome.stdout,
                          stderr=outcome.stderr, truncated=outcome.truncated, wall_s=outcome.wall_s,
                          backend=backend, reason=reason)

    def _collect(self, out_r: int, err_r: int, started: float,
                 limits: Limits) -> tuple[dict[str, Any] | None, ProcessOutcome]:
        """Reads output (capped) until the worker reports the job's end; kills the job on a limit."""
        buffers = {out_r: CappedBuffer(limits.output_bytes), err_r: CappedBuffer(limits.output_bytes)}
        deadline = started + limits.wall_s
        timed_out = exceeded = False
        kill_sent_at: float | None = None
        reply: dict[str, Any] | None = None
        replied_at: float | None = None
        open_fds = {out_r, err_r}
        with selectors.DefaultSelector() as sel:
            for fd in open_fds:
                os.set_blocking(fd, False)
                sel.register(fd, selectors.EVENT_READ)
            sel.register(self.sock, selectors.EVENT_READ)
            while True:
                now = time.monotonic()
                if replied_at is not None:
                    if not open_fds or now > replied_at + _DRAIN_GRACE_S:
                        break
                    timeout = replied_at + _DRAIN_GRACE_S - now
                elif kill_sent_at is not None:
                    if now > kill_sent_at + _KILL_GRACE_S:
                        break  # the worker did not confirm the kill: it is unusable
                    timeout = kill_sent_at + _KILL_GRACE_S - now
                elif now >= deadline:
                    timed_out = True
                    kill_sent_at = self._send_kill()
                    continue
                else:
                    timeout = deadline - now
                for key, _ in sel.select(timeout):
                    if key.fileobj is self.sock:
                        sel.unregister(self.sock)
                        try:
                            message = self.sock.recv(4096)
                            reply = json.loads(message) if message else None
                        except (OSError, ValueError):
                            reply = None
                        replied_at = time.monotonic()
                        if reply is None:
                            break
                        continue
                    fd = key.fd
                    try:
                        chunk = os.read(fd, _READ_CHUNK)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        sel.unregister(fd)
                        open_fds.discard(fd)
                        continue
                    buffers[fd].add(chunk)
                    if buffers[fd].overflowed and not exceeded:
                        exceeded = True
                        sel.unregister(fd)
                        open_fds.discard(fd)
                        if kill_sent_at is None and replied_at is None:
                            kill_sent_at = self._send_kill()
                if replied_at is not None and reply is None:
                    break
        for fd in (out_r, err_r):
            os.close(fd)
        outcome = ProcessOutcome(
            returncode=None, stdout=buffers[out_r].value(), stderr=buffers[err_r].value(), truncated=exceeded,
            timed_out=timed_out, output_exceeded=exceeded, wall_s=time.monotonic() - started,
        )
        return reply, outcome

    def _send_kill(self) -> float:
        with contextlib.suppress(OSError):
            self.sock.send(b"K")
        return time.monotonic()

    def _teardown(self) -> None:
        proc = getattr(self, "proc", None)
        if proc is not None:
            kill_group(proc.pid)
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGKILL)
            proc.wait()
        if self.slot.cgroup is not None:
            self.slot.cgroup.kill_all()
        self.sock.close()
        self._errors.close()
        self._stack.close()

    def close(self) -> None:
        if not getattr(self, "_closed", False):
            self._closed = True
            self._teardown()


class WarmPool:
    """Warm workers, at most one per slot of `slots`; a worker is replaced when it breaks or has run
    `max_jobs` jobs (a bound on anything a job could leave in the worker's own process)."""

    def __init__(self, slots: SlotPool, command: WorkerCommand, max_jobs: int = 1000, cpus: float = 1.0) -> None:
        self.slots = slots
        self.command = command
        self.max_jobs = max_jobs
        self.cpus = cpus
        self._idle: list[WarmWorker] = []
        self._count = 0
        self._cond = threading.Condition()
        self._closed = False
        self._generation = 0  # workers started before the last retire_all() are not reused

    def acquire(self) -> WarmWorker:
        """An idle worker, or a new one while fewer than `slots.size` exist; otherwise waits for one."""
        with self._cond:
            while True:
                if self._closed:
                    raise SandboxError("the sandbox backend is closed")
                if self._idle:
                    return self._idle.pop()
                if self._count < self.slots.size:
                    self._count += 1
                    generation = self._generation
                    break
                self._cond.wait()
        try:
            worker = WarmWorker(self.slots, self.command, self.max_jobs, self.cpus)
        except BaseException:
            self._forget()
            raise
        worker.generation = generation
        return worker

    def _forget(self) -> None:
        with self._cond:
            self._count -= 1
            self._cond.notify()

    def retire_all(self) -> None:
        """Replace every worker: idle ones now, busy ones when their job ends (their start-up is stale)."""
        with self._cond:
            self._generation += 1
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()
            self._forget()

    def release(self, worker: WarmWorker) -> None:
        with self._cond:
            if worker.reusable and worker.generation == self._generation and not self._closed:
                self._idle.append(worker)
                self._cond.notify()
                return
        worker.close()
        self._forget()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for worker in idle:
            worker.close()
            self._forget()


# Interpreter options a warm worker can honour after start-up: -B, -E (its environment is already clean),
# -I, -s, -S (sys.path is trimmed to match), -u (unbuffered stdout/stderr). Others mean a fresh interpreter.
INLINE_FLAGS = frozenset("BEIsSu")


def inline_python(argv: Sequence[str]) -> bool:
    """Whether `python3 argv[1:]` can run in the warm interpreter: [flags] script-path | -c code."""
    args = list(argv[1:])
    while args and args[0].startswith("-") and args[0] != "-c":
        if len(args[0]) < 2 or not set(args[0][1:]) <= INLINE_FLAGS:
            return False
        args = args[1:]
    if not args:
        return False
    return len(args) >= 2 if args[0] == "-c" else True
