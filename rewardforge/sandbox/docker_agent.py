"""The in-container job agent of the Docker backend: the container's command (`python3 -c` with this
source) and so its pid 1. It imports nothing from rewardforge (the image has only the standard library).

Why an agent rather than one `docker exec` per job: an exec costs about 80 ms of daemon, containerd and
runc time, which alone would hold a 2-core machine under 20 jobs/s. The agent forks each job itself.

Why it is trustworthy although jobs run in its container with its uid (there are no capabilities to
switch uid with):
- it is pid 1 of the container's pid namespace: a job's kill(-1) skips it, and no signal sent from inside
  the namespace (SIGKILL and SIGSTOP included) reaches a pid 1 that has no handler for it;
- it makes itself non-dumpable, so a job can neither ptrace it nor read its memory, file descriptors or
  environment through /proc;
- its protocol pipes (the container's attach stream) are never inherited by a job;
- after every job it SIGKILLs every other process (daemons, forks), reaps them (pid 1 inherits orphans),
  removes SysV IPC objects and wipes every writable mount, so nothing of one job reaches the next;
- cleanup never dies: it deletes without recursion (a job may leave a tree thousands of levels deep, or
  paths longer than PATH_MAX), catches everything, and a container it cannot clean is replaced while the
  job's verdict stands. A job must not be able to turn its own failure into a sandbox error.

Wire format, both ways: 4-byte big-endian length + JSON header, then the raw byte blobs the header sizes.
Request header: argv, env, cwd, files [[path, size, mode]], stdin (size), limits {wall_s, cpu_s,
file_size_mb, output_bytes, address_space_mb (or null)}; blobs: the files, then stdin. Reply header:
exit_code, signal, timed_out, output_exceeded, truncated, oom, wall_s, clean, error, stdout (size),
stderr (size); blobs: stdout, stderr.
The parent opens with 4 bytes (any); the agent answers {"ready": true, ...}.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import math
import os
import resource
import select
import signal
import struct
import subprocess
import sys
import time

WIPED_DIRS = ("/work", "/tmp", "/dev/shm", "/dev/mqueue")
_LENGTH = struct.Struct(">I")
_PR_SET_DUMPABLE = 4
_PR_SET_CHILD_SUBREAPER = 36
_IPC_RMID = 0
_CHUNK = 1 << 16
_IGNORED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
                    signal.SIGUSR2, signal.SIGPIPE, signal.SIGALRM, signal.SIGTSTP, signal.SIGTTIN,
                    signal.SIGTTOU, signal.SIGXCPU, signal.SIGXFSZ)
_libc = ctypes.CDLL(None, use_errno=True)


def read_exact(n: int) -> bytes | None:
    """Exactly n bytes of the request stream, or None at end of stream (the parent hung up)."""
    chunks, left = [], n
    while left:
        chunk = os.read(0, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def send(header: dict, *blobs: bytes) -> None:
    data = json.dumps(header).encode()
    payload = b"".join((_LENGTH.pack(len(data)), data, *blobs))
    view = memoryview(payload)
    while view:
        view = view[os.write(1, view):]


def reap() -> None:
    """Collects every exited child; orphans come to us because we are a child subreaper."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def others() -> list[int]:
    """Processes (zombies included) of our uid other than us. /proc/PID/status stays readable even for a
    job that made itself non-dumpable."""
    me, uid, found = os.getpid(), str(os.getuid()), []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open("/proc/" + name + "/status") as fh:
                for line in fh:
                    if line.startswith("Uid:"):
                        if line.split()[1] == uid:
                            found.append(int(name))
                        break
        except OSError:  # exited meanwhile
            continue
    return found


def kill_others(budget_s: float = 2.0) -> bool:
    """SIGKILLs every other process of our uid until none is left. kill(-1) spares only us (pid 1); /proc,
    not its return value, says when all are gone (zombies count until reaped)."""
    deadline = time.monotonic() + budget_s
    while others():
        if time.monotonic() > deadline:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
        reap()
        time.sleep(0.0005)
    return True


def remove_ipc() -> None:
    """Removes the SysV shared memory, semaphores and message queues jobs left in the IPC namespace."""
    for table, remove in (("shm", lambda i: _libc.shmctl(i, _IPC_RMID, None)),
                          ("sem", lambda i: _libc.semctl(i, 0, _IPC_RMID)),
                          ("msg", lambda i: _libc.msgctl(i, _IPC_RMID, None))):
        try:
            with open("/proc/sysvipc/" + table) as fh:
                lines = fh.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 1:
                remove(int(fields[1]))


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def _clear_files(fd: int) -> list[str]:
    """Unlinks every entry of the directory `fd` that is not a directory; returns the subdirectories' names."""
    subdirs = []
    with os.scandir(fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(entry.name)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry.name, dir_fd=fd)
    return subdirs


def empty_dir(top: str) -> None:
    """Deletes everything under `top`, depth first with an explicit stack and one open directory at a time
    (relative to it, so no path grows past PATH_MAX), making each directory writable on the way down.
    Every process of the job is dead by now, so nothing moves the tree while it is walked."""
    fd = os.open(top, _DIR_FLAGS)
    pending = [_clear_files(fd)]  # per level: subdirectories still to empty
    names: list[str] = []  # from `top` down to the directory `fd` is open on
    try:
        while True:
            if pending[-1]:
                name = pending[-1].pop()
                with contextlib.suppress(OSError):
                    os.chmod(name, 0o700, dir_fd=fd)
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = child
                names.append(name)
                pending.append(_clear_files(fd))
                continue
            pending.pop()
            if not names:
                return
            parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = parent
            os.rmdir(names.pop(), dir_fd=fd)
    finally:
        os.close(fd)


def wipe() -> bool:
    """Empties every writable mount; True when all of them are empty afterwards. Never raises."""
    clean = True
    for top in WIPED_DIRS:
        if not os.path.isdir(top):
            continue
        try:
            empty_dir(top)
            clean = clean and not os.listdir(top)
        except Exception:  # anything at all: the container is then replaced, the job's verdict stands
            clean = False
    return clean


def cleanup() -> bool:
    """Kills the job's processes, removes its IPC objects and wipes its files; True when all of that worked.
    Never raises: a failure only means the container is replaced."""
    try:
        killed = kill_others()
        remove_ipc()
    except Exception:
        killed = False
    return wipe() and killed


def oom_kills() -> int:
    """OOM kills so far in the container's memory cgroup (v1 memory.oom_control or v2 memory.events)."""
    for path in ("/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events"):
        try:
            with open(path) as fh:
                for line in fh:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return 0


def place_files(cwd: str, specs: list, blobs: list) -> None:
    for index, (rel, _size, mode) in enumerate(specs):
        data = blobs[index]
        path = os.path.join(cwd, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)


def job_setup(limits: dict):
    """Runs in the forked child before exec: rlimits, default signals, first in line for the OOM killer."""
    cpu = max(1, math.ceil(limits["cpu_s"]))
    fsize = limits["file_size_mb"] << 20
    address_space = limits.get("address_space_mb")

    def setup() -> None:
        for sig in _IGNORED_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
        if address_space:
            resource.setrlimit(resource.RLIMIT_AS, (address_space << 20, address_space << 20))
        with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as fh:
            fh.write("1000")

    return setup


class CappedOutput:
    """The job's stdout and stderr, each kept up to `cap` bytes; remembers whether more came."""

    def __init__(self, proc: subprocess.Popen, cap: int) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        self.cap = cap
        self.names = {proc.stdout.fileno(): "stdout", proc.stderr.fileno(): "stderr"}
        self.data = {"stdout": bytearray(), "stderr": bytearray()}
        self.open = set(self.names)
        self.exceeded = False

    def take(self, fd: int) -> bool:
        """Reads one chunk from fd; False at end of stream or when nothing is there."""
        try:
            chunk = os.read(fd, _CHUNK)
        except BlockingIOError:
            return False
        if not chunk:
            self.open.discard(fd)
            return False
        buf = self.data[self.names[fd]]
        room = self.cap - len(buf)
        if room > 0:
            buf += chunk[:room]
        if len(chunk) > room:
            self.exceeded = True
        return True

    def drain(self) -> None:
        """Reads what the (now dead) writers left in the pipes, without ever blocking."""
        for fd in list(self.open):
            os.set_blocking(fd, False)
            while self.take(fd):
                pass


def run_job(header: dict, files: list, stdin: bytes) -> tuple[dict, bytes, bytes]:
    limits = header["limits"]
    cwd = header["cwd"]
    place_files(cwd, header["files"], files)
    oom_before = oom_kills()
    started = time.monotonic()
    try:
        proc = subprocess.Popen(header["argv"], cwd=cwd, env=header["env"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, close_fds=True,
                                start_new_session=True, preexec_fn=job_setup(limits))
    except OSError as exc:
        message = "rewardforge sandbox: cannot execute {!r}: {}\n".format(header["argv"][0], exc.strerror)
        return {"exit_code": 127, "signal": None, "wall_s": 0.0}, b"", message.encode()
    assert proc.stdin is not None
    output = CappedOutput(proc, limits["output_bytes"])
    # A pidfd wakes select() the moment the job exits, even while its daemons hold the pipes open;
    # without one (Python < 3.9), poll every 20 ms.
    exited = os.pidfd_open(proc.pid) if hasattr(os, "pidfd_open") else -1
    tick = None if exited >= 0 else 0.02
    pending = memoryview(stdin)
    writer = proc.stdin.fileno()
    os.set_blocking(writer, False)
    if not pending:
        proc.stdin.close()
        writer = -1
    timed_out = False
    deadline = started + limits["wall_s"]
    while not output.exceeded:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        waiting = [exited, *output.open] if exited >= 0 else list(output.open)
        writers = [writer] if writer >= 0 else []
        readable, writable, _ = select.select(waiting, writers, [], min(left, tick or left))
        if (exited >= 0 and exited in readable) or (exited < 0 and proc.poll() is not None):
            break
        if writable:
            try:
                pending = pending[os.write(writer, pending[:_CHUNK]):]
            except BlockingIOError:
                pass
            except BrokenPipeError:
                pending = pending[:0]
            if not pending:
                proc.stdin.close()
                writer = -1
        for fd in readable:
            output.take(fd)
    wall = time.monotonic() - started
    # The job is over (exited, timed out or flooded): nothing of it may run on, and daemons it left must
    # close the pipes they inherited, so kill everything before draining what is already in the pipes.
    # The job itself is reaped first: kill_others() reaps any child, which would lose its exit status.
    if proc.poll() is None:
        proc.kill()
    returncode = proc.wait()
    if exited >= 0:
        os.close(exited)
    killed = kill_others()
    output.drain()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    reply = {
        "exit_code": returncode if returncode >= 0 else None,
        "signal": -returncode if returncode < 0 else None,
        "timed_out": timed_out,
        "output_exceeded": output.exceeded,
        "truncated": output.exceeded,
        "oom": oom_kills() > oom_before,
        "wall_s": wall,
        "killed": killed,
    }
    return reply, bytes(output.data["stdout"]), bytes(output.data["stderr"])


def main() -> None:
    for sig in _IGNORED_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    if _libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) or _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0):
        send({"ready": False, "error": f"prctl failed: errno {ctypes.get_errno()}"})
        return
    # The greeting waits for the parent's first frame: by then the parent has parsed the HTTP upgrade
    # response, so none of our bytes can be stranded in its HTTP reader's buffer.
    if read_exact(_LENGTH.size) is None:
        return
    send({"ready": True, "uid": os.getuid(), "python": sys.version.split()[0], "clean": cleanup()})
    while True:
        raw = read_exact(_LENGTH.size)
        if raw is None:
            return
        header = json.loads(read_exact(_LENGTH.unpack(raw)[0]) or b"{}")
        files = [read_exact(spec[1]) or b"" for spec in header["files"]]
        stdin = read_exact(header["stdin"]) or b"" if header["stdin"] else b""
        if not wipe():
            send({"error": "the sandbox still holds files of an earlier job", "clean": False})
            continue
        try:
            reply, stdout, stderr = run_job(header, files, stdin)
        except Exception as exc:  # reported to the parent, which recycles the container
            send({"error": f"agent failure: {type(exc).__name__}: {exc}", "clean": cleanup()})
            continue
        killed = reply.pop("killed", True)
        reply["clean"] = cleanup() and killed
        reply["stdout"], reply["stderr"] = len(stdout), len(stderr)
        send(reply, stdout, stderr)


if __name__ == "__main__":
    main()
