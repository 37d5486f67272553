"""Ctrl-C and SIGTERM for long commands (score, train): both become KeyboardInterrupt, so one `except`
keeps what is done and says how to resume; `received` tells which came, for the exit code (130 or 143).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


class Interrupts:
    """SIGINT and SIGTERM become KeyboardInterrupt, but never while a batch's rows are being written."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._writing = False
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.received = self.received or signum
        if not self._writing:
            raise KeyboardInterrupt

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Rows of a batch are written whole: a signal that arrives meanwhile acts right after."""
        self._writing = True
        try:
            yield
        finally:
            self._writing = False
        if self.received is not None:
            raise KeyboardInterrupt

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
