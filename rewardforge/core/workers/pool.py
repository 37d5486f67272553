"""The caller's side: a pool of warm workers, each under its keeper, with timeouts, cancelling,
crash detection and recycling; the process-wide pool."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import json
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rewardforge.core.errors import RewardforgeError
from rewardforge.core.workers.cancel import CancelToken, current_token
from rewardforge.core.workers.limits import (
    DEFAULT_MEMORY_MB,
    DEFAULT_OUTPUT_BYTES,
    RecyclePolicy,
    WorkerHealth,
    default_size,
    env_int,
)
from rewardforge.core.workers.protocol import (
    ENV_MEMORY_MB,
    ENV_OUTPUT_BYTES,
    ENV_SYS_PATH,
    LOADED,
    describe_exit,
    dumps,
    read_frame,
    write_frame,
)

_KEEPER = str(Path(__file__).with_name("keeper.py"))
_SERVE = "from rewardforge.core.workers.process import serve; serve()"
_LOAD_TIMEOUT_S = 120.0  # unpickling imports the reward's modules (sympy, transformers...): be patient
_KEEPER_GRACE_S = 5.0  # the keeper kills a tree in milliseconds; past this, kill its groups directly
_CRASH_REPORT_S = 1.0  # how long a crashed worker's keeper may take to exit with the worker's status
_SLOT_POLL_S = 0.05  # how often a call queued for a free worker looks at its cancel tokens


class WorkerTimeout(RewardforgeError, TimeoutError):
    """The call ran past its deadline; its worker was killed and will be replaced."""


class WorkerCrashed(RewardforgeError, RuntimeError):
    """The worker died mid-call (segfault, out of memory, killed)."""


class WorkerCancelled(RewardforgeError, RuntimeError):
    """The call was cancelled (its caller was interrupted); its worker was killed."""


class UnpicklableCall(RewardforgeError, TypeError):
    """The function or an argument of a call cannot be pickled, so it cannot be sent to a worker."""


def _worker_sys_path() -> str:
    """The caller's sys.path for a worker; '' (the current directory in `python -c`, `python -`, the
    REPL) becomes the directory it names now, so a worker imports the user's modules from there."""
    cwd = os.getcwd()
    return json.dumps([path or cwd for path in sys.path])


_live_controls: set[int] = set()  # control pipes of every worker of this process (closed in forked children)


class _Worker:
    """One worker under its keeper; used by one call at a time."""

    def __init__(self, memory_mb: int | None, output_bytes: int) -> None:
        self.sys_path = tuple(sys.path)  # what it can import: a worker is retired when the caller's path changes
        env = {**os.environ, ENV_SYS_PATH: _worker_sys_path(), ENV_OUTPUT_BYTES: str(output_bytes)}
        env.pop(ENV_MEMORY_MB, None)
        if memory_mb:
            env[ENV_MEMORY_MB] = str(memory_mb)
        control_read, self.control = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-S", _KEEPER, str(control_read), sys.executable, "-c", _SERVE],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
                pass_fds=(control_read,),
                start_new_session=True,  # out of the caller's process group: terminal signals go to the caller
                bufsize=0,  # unbuffered: `select` on the pipe must see every byte not yet read
            )
        except BaseException:
            os.close(self.control)
            raise
        finally:
            os.close(control_read)
        _live_controls.add(self.control)
        assert self.process.stdin is not None and self.process.stdout is not None
        self.requests: IO[bytes] = self.process.stdin
        self.replies: IO[bytes] = self.process.stdout
        try:
            self.pidfd: int | None = os.pidfd_open(self.process.pid)
        except (AttributeError, OSError):  # not Linux >= 5.3: poll the keeper instead
            self.pidfd = None
        self.pid: int | None = None  # the worker's own pid, once it has answered
        self.calls = 0
        self.baseline: WorkerHealth | None = None

    def call(self, payload: bytes, timeout: float | None, cancels: Sequence[CancelToken]) -> bytes:
        """Send a call; the clock starts once the worker has loaded it (imports are not the call's time)."""
        write_frame(self.requests, payload)
        self._wait(_LOAD_TIMEOUT_S, "loading the call", cancels)
        if read_frame(self.replies) != LOADED:
            raise EOFError("worker protocol out of step")
        self._wait(timeout, "", cancels)
        return read_frame(self.replies)

    def _wait(self, seconds: float | None, what: str, cancels: Sequence[CancelToken]) -> None:
        """Until a reply can be read; raises on the deadline, a cancel, or the keeper's exit."""
        poller = select.poll()  # not select(): descriptors past 1024 are common in a busy trainer
        poller.register(self.replies, select.POLLIN)
        for token in cancels:
            poller.register(token.fileno(), select.POLLIN)
        if self.pidfd is not None:
            poller.register(self.pidfd, select.POLLIN)
        step = None if self.pidfd is not None else 0.2  # without a pidfd, look at the keeper now and then
        deadline = None if seconds is None else time.monotonic() + seconds
        while True:
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            wait = left if step is None else (step if left is None else min(step, left))
            ready = {fd for fd, _ in poller.poll(None if wait is None else wait * 1000)}
            if self.replies.fileno() in ready:
                return
            if any(token.cancelled for token in cancels):
                raise WorkerCancelled("cancelled")
            if (self.pidfd is not None and self.pidfd in ready) or self.process.poll() is not None:
                raise EOFError("worker exited")
            if deadline is not None and time.monotonic() >= deadline:
                raise WorkerTimeout(f"timed out after {seconds:g}s" + (f" {what}" if what else ""))

    def exit_description(self) -> str:
        return describe_exit(self.process.returncode)

    def kill(self) -> None:
        """Have the keeper kill the worker's whole tree, and wait for it; idempotent."""
        if self.control >= 0:
            _live_controls.discard(self.control)
            os.close(self.control)
            self.control = -1
        try:
            self.process.wait(_KEEPER_GRACE_S)
        except subprocess.TimeoutExpired:  # a keeper that does not answer: kill both groups outright
            for group in (self.process.pid, self.pid):
                if group is not None:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(group, signal.SIGKILL)
            self.process.wait()
        self.close_fds()

    def close_fds(self) -> None:
        for stream in (self.requests, self.replies):
            with contextlib.suppress(OSError):
                stream.close()
        if self.pidfd is not None:
            with contextlib.suppress(OSError):
                os.close(self.pidfd)
            self.pidfd = None


@dataclass
class PoolStats:
    """What a pool did to its workers, for logs and tests."""

    started: int = 0
    timed_out: int = 0
    crashed: int = 0
    cancelled: int = 0
    recycled: Counter[str] = field(default_factory=Counter)


_pools: weakref.WeakSet[WorkerPool] = weakref.WeakSet()


class WorkerPool:
    """A bounded set of warm workers. `call` blocks until a worker is free; thread-safe.

    - `size`: workers at most (default `default_size()`); they start on demand or with `warm()`.
    - `memory_mb`: address-space cap per worker (RLIMIT_AS); None lifts it.
    - `recycle`: when to replace a worker (default `RecyclePolicy.from_env()`).
    - `output_bytes`: how much of a reward's stdout/stderr reaches the caller's stderr per call.
    """

    def __init__(
        self,
        size: int | None = None,
        *,
        memory_mb: int | None = DEFAULT_MEMORY_MB,
        recycle: RecyclePolicy | None = None,
        output_bytes: int | None = None,
    ) -> None:
        self.size = size or default_size()
        self.memory_mb = memory_mb
        self.recycle = recycle or RecyclePolicy.from_env()
        self.output_bytes = (env_int("RF_WORKER_OUTPUT_BYTES", DEFAULT_OUTPUT_BYTES)
                             if output_bytes is None else output_bytes)
        self.stats = PoolStats()
        self._reset_state()
        _pools.add(self)

    def _reset_state(self) -> None:
        self._idle: list[_Worker] = []
        self._workers: set[_Worker] = set()  # idle and busy
        self._slots = threading.BoundedSemaphore(self.size)
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False

    def call(
        self,
        fn: Callable[..., Any],
        *args: Any,
        timeout: float | None = None,
        cancel: CancelToken | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run `fn(*args, **kwargs)` in a worker; exceptions from `fn` are re-raised here.

        `timeout` counts from when a worker has loaded the call, not while waiting for a free one.
        The call is cancelled by `cancel` and by the token of the enclosing `cancel_scope()`.
        """
        return self._call(fn, args, kwargs, timeout, [t for t in (cancel, current_token()) if t is not None])

    async def acall(self, fn: Callable[..., Any], *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        """`call` from a coroutine, on the pool's own threads; cancelling the coroutine kills the worker."""
        token = CancelToken()
        cancels = [t for t in (token, current_token()) if t is not None]
        job = functools.partial(self._call, fn, args, kwargs, timeout, cancels)
        future = asyncio.get_running_loop().run_in_executor(self._threads(), job)
        try:
            return await future
        except asyncio.CancelledError:
            token.cancel()
            raise

    def _threads(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.size, thread_name_prefix="rewardforge-worker-call")
            return self._executor

    def _call(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], timeout: float | None,
        cancels: list[CancelToken],
    ) -> Any:
        try:
            payload = dumps((fn, args, kwargs))
        except Exception as exc:
            raise UnpicklableCall(f"{type(exc).__name__}: {exc}") from exc
        self._acquire_slot(cancels)
        try:
            worker = self._checkout(cancels)
            try:
                reply = worker.call(payload, timeout, cancels)
            except WorkerTimeout:
                self._discard(worker, "timed_out")
                raise
            except WorkerCancelled:
                self._discard(worker, "cancelled")
                raise
            except (EOFError, OSError, struct.error):
                with contextlib.suppress(subprocess.TimeoutExpired):  # its keeper exits with its status
                    worker.process.wait(_CRASH_REPORT_S)
                self._discard(worker, "crashed")
                raise WorkerCrashed(f"worker died ({worker.exit_description()})") from None
            except BaseException:  # KeyboardInterrupt in this thread: the worker must not run on
                self._discard(worker, "cancelled")
                raise
            ok, value, health = pickle.loads(reply)
            self._checkin(worker, health)
        finally:
            self._slots.release()
        if ok:
            return value
        raise value

    def _acquire_slot(self, cancels: list[CancelToken]) -> None:
        while not self._slots.acquire(timeout=_SLOT_POLL_S if cancels else None):
            if any(token.cancelled for token in cancels):
                raise WorkerCancelled("cancelled while waiting for a free worker")

    def _checkout(self, cancels: list[CancelToken]) -> _Worker:
        with self._lock:
            if self._closed:
                raise RuntimeError("worker pool is closed")
            while self._idle:
                worker = self._idle.pop()
                if worker.process.poll() is None and worker.sys_path == tuple(sys.path):
                    return worker
                self._workers.discard(worker)
                worker.kill()
        return self._start(cancels)

    def _start(self, cancels: Sequence[CancelToken] = ()) -> _Worker:
        """A new worker that has answered a first call (so start-up never counts against a call's timeout)."""
        worker = _Worker(self.memory_mb, self.output_bytes)
        with self._lock:
            self._workers.add(worker)
            self.stats.started += 1
        try:
            reply = worker.call(dumps((os.getpid, (), {})), None, cancels)
            _, worker.pid, _ = pickle.loads(reply)
        except (EOFError, OSError, struct.error):
            self._discard(worker, None)
            raise WorkerCrashed(f"worker failed to start ({worker.exit_description()})") from None
        except BaseException:
            self._discard(worker, None)
            raise
        return worker

    def _checkin(self, worker: _Worker, health: WorkerHealth | None) -> None:
        worker.calls += 1
        if worker.baseline is None:
            worker.baseline = health
        reason = self.recycle.reason(worker.calls, worker.baseline, health)
        with self._lock:
            keep = not self._closed and reason is None
            if keep:
                self._idle.append(worker)
            else:
                self._workers.discard(worker)
                if reason is not None:
                    self.stats.recycled[reason] += 1
        if not keep:
            worker.kill()

    def _discard(self, worker: _Worker, why: str | None) -> None:
        worker.kill()
        with self._lock:
            self._workers.discard(worker)
            if why is not None:
                setattr(self.stats, why, getattr(self.stats, why) + 1)

    def warm(self, count: int | None = None) -> None:
        """Start workers ahead of time, and wait until they answer, so first calls pay no start-up."""
        with self._lock:
            missing = min(count or self.size, self.size) - len(self._workers)
        started = [self._start() for _ in range(max(missing, 0))]
        with self._lock:
            self._idle.extend(started)

    def worker_pids(self) -> list[int]:
        """The pids of this pool's live workers (idle and busy), e.g. to watch them from outside."""
        with self._lock:
            return [w.pid for w in self._workers if w.pid is not None]

    def close(self) -> None:
        """Kill the idle workers now; busy ones are killed when their call returns."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            self._workers.difference_update(idle)
            executor, self._executor = self._executor, None
        for worker in idle:
            worker.kill()
        if executor is not None:
            executor.shutdown(wait=False)

    def _forget_after_fork(self) -> None:
        """In a forked child: the workers are the parent's; let go of them without touching locks."""
        for worker in list(self._workers):
            if worker.control >= 0:
                with contextlib.suppress(OSError):
                    os.close(worker.control)
                worker.control = -1
            worker.close_fds()
        self._reset_state()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _after_fork_in_child() -> None:
    """A forked child must not hold its parent's control pipes, or the parent's death would go unseen."""
    for pool in list(_pools):
        pool._forget_after_fork()
    for fd in list(_live_controls):
        with contextlib.suppress(OSError):
            os.close(fd)
    _live_controls.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)

_shared: WorkerPool | None = None
_shared_pid: int | None = None
_shared_lock = threading.Lock()


def shared_pool() -> WorkerPool:
    """The process-wide pool; a forked child gets its own rather than its parent's pipes."""
    global _shared, _shared_pid
    with _shared_lock:
        if _shared is None or _shared_pid != os.getpid():
            _shared = WorkerPool(memory_mb=env_int("RF_WORKER_MEMORY_MB", DEFAULT_MEMORY_MB) or None)
            _shared_pid = os.getpid()
        return _shared


def configure_shared_pool(size: int) -> None:
    """Set the size of the process-wide pool (what `RF_WORKERS` sets), replacing a pool already made."""
    global _shared, _shared_pid
    if size < 1:
        raise ValueError(f"the pool needs at least one worker, got {size}")
    with _shared_lock:
        old = _shared if _shared_pid == os.getpid() else None
        _shared = WorkerPool(size, memory_mb=env_int("RF_WORKER_MEMORY_MB", DEFAULT_MEMORY_MB) or None)
        _shared_pid = os.getpid()
    if old is not None:
        old.close()


@atexit.register
def _close_shared_pool() -> None:
    if _shared is not None and _shared_pid == os.getpid():
        _shared.close()
