"""Cancelling worker calls: a token a running call waits on, and a scope that hands it to every call.

`rf.score` opens a scope per scoring call; when the call is interrupted (Ctrl-C, a cancelled task, an
exception from a signal handler), cancelling the token kills every worker still busy for it, those
reached through an inline reward's thread (sympy workers of the math reward) included.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from collections.abc import Iterator


class CancelToken:
    """Cancels the pool calls that carry it: each one kills its worker and raises WorkerCancelled.

    A call that is running waits on the token's file descriptor, so it notices at once, without
    polling. The descriptor is made only when a running call first asks for it: thousands of calls
    queued for a worker hold none.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pipe: tuple[int, int] | None = None
        self.cancelled = False

    def cancel(self) -> None:
        with self._lock:
            if not self.cancelled:
                self.cancelled = True
                if self._pipe is not None:
                    os.write(self._pipe[1], b"x")

    def fileno(self) -> int:
        with self._lock:
            if self._pipe is None:
                self._pipe = os.pipe()
                if self.cancelled:
                    os.write(self._pipe[1], b"x")
            return self._pipe[0]

    def __del__(self) -> None:
        for fd in self._pipe or ():
            with contextlib.suppress(OSError):
                os.close(fd)


_scope: contextvars.ContextVar[CancelToken | None] = contextvars.ContextVar("rewardforge_cancel", default=None)


@contextlib.contextmanager
def cancel_scope() -> Iterator[CancelToken]:
    """Every pool call made in this context (threads started with its copy included) carries the token."""
    token = CancelToken()
    reset = _scope.set(token)
    try:
        yield token
    finally:
        _scope.reset(reset)


def current_token() -> CancelToken | None:
    """The token of the innermost `cancel_scope()` around this code, if any."""
    return _scope.get()
