"""Warm, killable worker processes for work that may hang or blow up (sympy, user rewards).

A timeout here is enforced by the parent: it stops waiting, kills the worker's whole process group
and starts a replacement. That works from any thread, inside asyncio and inside another process
pool, which `signal.alarm` cannot. Workers are plain `subprocess` children speaking length-prefixed
pickles over dedicated pipes, so they can be started even from daemonic processes, where
`multiprocessing` refuses to fork.
"""

from __future__ import annotations

import atexit
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

from rewardforge.core.errors import RewardforgeError

_HEADER = struct.Struct("!Q")
_ENV_SYS_PATH = "RF_WORKER_SYS_PATH"
_ENV_MEMORY_MB = "_RF_WORKER_AS_LIMIT_MB"
_PING = pickle.dumps((int, (), {}))
_LOADED = b"L"
_LOAD_TIMEOUT_S = 120.0  # unpickling imports the reward's modules (sympy, transformers...): be patient


class WorkerTimeout(RewardforgeError, TimeoutError):
    """The call ran past its deadline; its worker was killed and will be replaced."""


class WorkerCrashed(RewardforgeError, RuntimeError):
    """The worker died mid-call (segfault, out of memory, killed)."""


def _write_frame(stream: IO[bytes], payload: bytes) -> None:
    view = memoryview(_HEADER.pack(len(payload)) + payload)
    while view:  # raw pipes may take a large frame in several writes
        written = stream.write(view)
        view = view[written or 0:]
    stream.flush()


def _read_exact(stream: IO[bytes], size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            raise EOFError("pipe closed")
        data += chunk
    return data


def _read_frame(stream: IO[bytes]) -> bytes:
    (size,) = _HEADER.unpack(_read_exact(stream, _HEADER.size))
    return _read_exact(stream, size)


class _Worker:
    """One child process; used by one call at a time."""

    def __init__(self, memory_mb: int | None) -> None:
        self.sys_path = tuple(sys.path)  # what it can import: a worker is retired when the parent's path grows
        env = {**os.environ, _ENV_SYS_PATH: os.pathsep.join(p for p in sys.path if p)}
        env.pop(_ENV_MEMORY_MB, None)
        if memory_mb:
            env[_ENV_MEMORY_MB] = str(memory_mb)
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from rewardforge.core.workers import serve; serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            start_new_session=True,  # its own process group, so a kill takes its children too
            bufsize=0,  # unbuffered: `select` on the pipe must see every byte not yet read
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.requests: IO[bytes] = self.process.stdin
        self.replies: IO[bytes] = self.process.stdout

    def call(self, payload: bytes, timeout: float | None) -> bytes:
        """Send a call; the clock starts once the worker has loaded it (imports are not the call's time)."""
        _write_frame(self.requests, payload)
        self._wait(_LOAD_TIMEOUT_S, "loading the call")
        if _read_frame(self.replies) != _LOADED:
            raise EOFError("worker protocol out of step")
        if timeout is not None:
            self._wait(timeout, "")
        return _read_frame(self.replies)

    def _wait(self, seconds: float, what: str) -> None:
        ready, _, _ = select.select([self.replies], [], [], max(seconds, 0.0))
        if not ready:
            raise WorkerTimeout(f"timed out after {seconds:g}s" + (f" {what}" if what else ""))

    def wait_ready(self) -> None:
        """Block until the interpreter has started, so that start-up never counts against a call's timeout."""
        self.call(_PING, timeout=None)

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        for stream in (self.requests, self.replies):
            try:
                stream.close()
            except OSError:
                pass


class WorkerPool:
    """A bounded set of warm workers. `call` blocks until a worker is free; thread-safe."""

    def __init__(self, size: int | None = None, *, memory_mb: int | None = 4096) -> None:
        self.size = size or os.cpu_count() or 1
        self.memory_mb = memory_mb
        self._idle: list[_Worker] = []
        self._slots = threading.BoundedSemaphore(self.size)
        self._lock = threading.Lock()
        self._closed = False

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        """Run `fn(*args, **kwargs)` in a worker; exceptions from `fn` are re-raised here.

        `timeout` counts from when a worker picks the call up, not while waiting for a free one.
        """
        payload = pickle.dumps((fn, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        with self._slots:
            worker = self._checkout()
            try:
                reply = worker.call(payload, timeout)
            except WorkerTimeout:
                worker.kill()
                raise
            except (EOFError, OSError, struct.error):
                worker.kill()
                code = worker.process.returncode
                raise WorkerCrashed(f"worker died (exit code {code})") from None
            except BaseException:
                worker.kill()
                raise
            self._checkin(worker)
        ok, value = pickle.loads(reply)
        if ok:
            return value
        raise value

    def _checkout(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise RuntimeError("worker pool is closed")
            while self._idle:
                worker = self._idle.pop()
                if worker.alive() and worker.sys_path == tuple(sys.path):
                    return worker
                worker.kill()
        worker = _Worker(self.memory_mb)
        try:
            worker.wait_ready()
        except (EOFError, OSError, struct.error):
            worker.kill()
            raise WorkerCrashed(f"worker failed to start (exit code {worker.process.returncode})") from None
        return worker

    def _checkin(self, worker: _Worker) -> None:
        with self._lock:
            if self._closed:
                worker.kill()
            else:
                self._idle.append(worker)

    def warm(self, count: int | None = None) -> None:
        """Start workers ahead of time, and wait until they answer, so first calls pay no start-up."""
        started = [_Worker(self.memory_mb) for _ in range(min(count or self.size, self.size))]
        for worker in started:
            worker.wait_ready()
        with self._lock:
            self._idle.extend(started)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_shared: WorkerPool | None = None
_shared_pid: int | None = None
_shared_lock = threading.Lock()


def shared_pool() -> WorkerPool:
    """The process-wide pool; a forked child gets its own rather than its parent's pipes."""
    global _shared, _shared_pid
    with _shared_lock:
        if _shared is None or _shared_pid != os.getpid():
            # RF_WORKER_MEMORY_MB caps each worker's address space (0 lifts the cap, e.g. for rewards
            # that import CUDA libraries, which reserve far more address space than they use).
            _shared = WorkerPool(memory_mb=int(os.environ.get("RF_WORKER_MEMORY_MB", "4096")) or None)
            _shared_pid = os.getpid()
        return _shared


@atexit.register
def _close_shared_pool() -> None:
    if _shared is not None and _shared_pid == os.getpid():
        _shared.close()


def serve() -> None:
    """Worker main loop: read a call, run it, answer. Protocol pipes are kept away from user prints."""
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # prints from rewards go to stderr, never into the protocol stream
    parent_path = os.environ.get(_ENV_SYS_PATH)
    if parent_path:
        sys.path[:] = parent_path.split(os.pathsep)
    memory_mb = os.environ.get(_ENV_MEMORY_MB)
    if memory_mb:
        import resource

        limit = int(memory_mb) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    while True:
        try:
            payload = _read_frame(requests)
        except EOFError:
            return
        try:
            fn, args, kwargs = pickle.loads(payload)
        except BaseException as exc:
            _write_frame(replies, _LOADED)
            _write_frame(replies, pickle.dumps((False, _portable_exception(exc))))
            continue
        _write_frame(replies, _LOADED)
        try:
            reply = (True, fn(*args, **kwargs))
        except BaseException as exc:  # includes MemoryError and SystemExit from user code
            reply = (False, _portable_exception(exc))
        try:
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            data = pickle.dumps((False, _portable_exception(exc)))
        _write_frame(replies, data)


def _portable_exception(exc: BaseException) -> BaseException:
    """The exception itself if it survives pickling, else a RuntimeError carrying its text."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")

