"""The worker process: read a call, run it, answer; between calls reap children and measure itself.

Started by its keeper as `python -c "from rewardforge.core.workers.process import serve; serve()"`.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import sys
import threading
from typing import Any

import cloudpickle

from rewardforge.core.workers.limits import DEFAULT_OUTPUT_BYTES, WorkerHealth, memory_cap_mb
from rewardforge.core.workers.protocol import ENV_OUTPUT_BYTES, ENV_SYS_PATH, LOADED, read_frame, write_frame

HEALTH_EVERY = 8  # a worker measures itself after its first calls, then every this many calls


class _OutputLimiter:
    """Forwards what rewards print (fds 1 and 2 are a pipe) to the caller's stderr, `budget` bytes per
    call; the rest is counted and reported in one line."""

    def __init__(self, sink: int, budget: int) -> None:
        self.sink = sink
        self.budget = budget
        self.left = budget
        self.dropped = 0
        self.lock = threading.Lock()
        read, write = os.pipe()
        os.dup2(write, 1)
        os.dup2(write, 2)
        os.close(write)
        threading.Thread(target=self._pump, args=(read,), name="rewardforge-output", daemon=True).start()

    def _pump(self, source: int) -> None:
        while True:
            chunk = os.read(source, 1 << 16)
            if not chunk:
                return
            with self.lock:
                keep = chunk[: max(self.left, 0)]
                self.left -= len(keep)
                self.dropped += len(chunk) - len(keep)
            if keep:
                _write_all(self.sink, keep)

    def end_call(self) -> None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        with self.lock:
            dropped, self.dropped, self.left = self.dropped, 0, self.budget
        if dropped:
            note = (f"[rewardforge worker {os.getpid()}: {dropped} more bytes of reward output dropped "
                    f"(RF_WORKER_OUTPUT_BYTES={self.budget} per call)]\n")
            _write_all(self.sink, note.encode())


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except OSError:
            return  # the caller's stderr is gone: drop the output, never the call


def _reap() -> None:
    """Wait for children that have exited, so a reward that forks without waiting leaves no zombies."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _read_proc(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 1 << 16)
    finally:
        os.close(fd)


def _health() -> WorkerHealth | None:
    """Open files, running children and resident memory; None without /proc (nothing to recycle for).

    Children are those of the main thread (where rewards run) and the orphans adopted by the keeper.
    """
    import resource

    try:
        open_files = len(os.listdir("/proc/self/fd")) - 1  # listdir's own descriptor
        rss_mb = int(_read_proc("/proc/self/statm").split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        pid, keeper = os.getpid(), os.getppid()
        children = len(_read_proc(f"/proc/{pid}/task/{pid}/children").split())
        children += len(_read_proc(f"/proc/{keeper}/task/{keeper}/children").split()) - 1  # less this worker
    except (OSError, ValueError, IndexError):
        return None
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return WorkerHealth(open_files, limit if limit > 0 else 1 << 20, children, rss_mb)


def serve() -> None:
    """Worker main loop: read a call, run it, answer. Protocol pipes are kept away from user output."""
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    output = _OutputLimiter(os.dup(2), int(os.environ.get(ENV_OUTPUT_BYTES, DEFAULT_OUTPUT_BYTES)))
    parent_path = os.environ.get(ENV_SYS_PATH)
    if parent_path:
        sys.path[:] = json.loads(parent_path)
    memory_mb = memory_cap_mb()
    if memory_mb:
        import resource

        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    served = 0
    while True:
        _reap()
        try:
            payload = read_frame(requests)
        except EOFError:
            return
        try:
            fn, args, kwargs = pickle.loads(payload)
        except BaseException as exc:
            write_frame(replies, LOADED)
            write_frame(replies, pickle.dumps((False, _portable_exception(exc), None)))
            continue
        write_frame(replies, LOADED)
        try:
            reply = (True, fn(*args, **kwargs))
        except BaseException as exc:  # includes MemoryError, SystemExit and KeyboardInterrupt from user code
            reply = (False, _portable_exception(exc))
        del fn, args, kwargs
        output.end_call()
        _reap()
        served += 1
        health = _health() if served <= 2 or served % HEALTH_EVERY == 0 else None
        write_frame(replies, _dump_reply(reply, health))


def _dump_reply(reply: tuple[bool, Any], health: WorkerHealth | None) -> bytes:
    """Plain pickle first (fast); cloudpickle for values of classes only the caller's __main__ knows."""
    message = (*reply, health)
    try:
        return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        pass
    try:
        return cloudpickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        return pickle.dumps((False, _portable_exception(exc), health))


def _portable_exception(exc: BaseException) -> BaseException:
    """An exception the caller can raise safely: never SystemExit or KeyboardInterrupt (those would end
    the caller), and one that survives pickling, else a RuntimeError carrying its text."""
    if not isinstance(exc, Exception):
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
