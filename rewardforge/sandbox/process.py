"""Run one host process under a wall clock, with stdin from memory and stdout/stderr read with a byte cap.

Shared by the local backends. The process is started in its own session, so that a wall timeout or an
output overflow can kill its whole process group; callers add their own kill hook (a cgroup) for anything
that left the group. Waiting uses a pidfd, so a run costs no polling loop and ends as soon as the process
does, even when a daemonised grandchild still holds the output pipes open.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

# After the process exits, how long descendants that still hold the pipes may take to close them.
_DRAIN_GRACE_S = 0.05
_READ_CHUNK = 1 << 16


@dataclass
class ProcessOutcome:
    """How a host process ended. `returncode` is Popen's: negative for a signal, None if never reaped."""

    returncode: int | None
    stdout: bytes
    stderr: bytes
    truncated: bool
    timed_out: bool
    output_exceeded: bool
    wall_s: float


def memfd_with(data: bytes, name: str) -> int:
    """An anonymous in-memory file holding `data`, positioned at its start (for stdin or bwrap --file)."""
    fd = os.memfd_create(name, 0)  # not CLOEXEC: it is meant to be passed on
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


class CappedBuffer:
    """Keeps the first `cap` bytes of a stream and remembers whether more arrived."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.chunks: list[bytes] = []
        self.size = 0
        self.overflowed = False

    def add(self, data: bytes) -> None:
        room = self.cap - self.size
        if len(data) > room:
            self.overflowed = True
            data = data[: max(room, 0)]
        if data:
            self.chunks.append(data)
            self.size += len(data)

    def value(self) -> bytes:
        return b"".join(self.chunks)


def kill_group(pid: int) -> None:
    """SIGKILL the process group led by `pid`; a group that is already gone is not an error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def run_process(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    stdin: bytes,
    wall_s: float,
    output_bytes: int,
    pass_fds: Sequence[int] = (),
    extra_kill: Callable[[], object] | None = None,
    cwd: str | None = None,
) -> ProcessOutcome:
    """Start `argv` in a new session and wait for it, killing its group on wall timeout or output overflow.

    Raises OSError when the process cannot be started at all; the caller turns that into a sandbox error.
    """
    stdin_fd = memfd_with(stdin, "rf-stdin")
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=stdin_fd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            pass_fds=tuple(pass_fds),
            start_new_session=True,
            cwd=cwd,
        )
    finally:
        os.close(stdin_fd)
    buffers = {"stdout": CappedBuffer(output_bytes), "stderr": CappedBuffer(output_bytes)}
    timed_out = output_exceeded = False
    pidfd = os.pidfd_open(proc.pid)
    assert proc.stdout is not None and proc.stderr is not None
    with selectors.DefaultSelector() as sel, proc.stdout, proc.stderr:
        for name, stream in (("stdout", proc.stdout), ("stderr", proc.stderr)):
            os.set_blocking(stream.fileno(), False)
            sel.register(stream.fileno(), selectors.EVENT_READ, name)
        sel.register(pidfd, selectors.EVENT_READ, "exit")
        deadline = started + wall_s
        exited_at: float | None = None
        open_streams = 2
        try:
            while exited_at is None or open_streams:
                now = time.monotonic()
                if exited_at is not None:
                    timeout = exited_at + _DRAIN_GRACE_S - now
                else:
                    timeout = deadline - now
                if timeout <= 0:
                    if exited_at is None:
                        timed_out = True
                    break
                for key, _ in sel.select(timeout):
                    if key.data == "exit":
                        sel.unregister(pidfd)
                        exited_at = time.monotonic()
                        continue
                    try:
                        chunk = os.read(key.fd, _READ_CHUNK)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        sel.unregister(key.fd)
                        open_streams -= 1
                        continue
                    buffers[key.data].add(chunk)
                    if buffers[key.data].overflowed:
                        output_exceeded = True
                        break
                if output_exceeded:
                    break
        finally:
            kill_group(proc.pid)
            os.close(pidfd)
            returncode = proc.wait()
            if extra_kill is not None:
                extra_kill()
    return ProcessOutcome(
        returncode=returncode,
        stdout=buffers["stdout"].value(),
        stderr=buffers["stderr"].value(),
        truncated=output_exceeded,
        timed_out=timed_out,
        output_exceeded=output_exceeded,
        wall_s=time.monotonic() - started,
    )
