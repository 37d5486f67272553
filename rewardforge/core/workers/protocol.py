"""What the caller and a worker process share: the frames on their pipes, the payload pickling, the
environment a worker starts with, and how a worker's exit status reads."""

from __future__ import annotations

import pickle
import signal
import struct
from typing import IO, Any

import cloudpickle

HEADER = struct.Struct("!Q")
ENV_SYS_PATH = "_RF_WORKER_SYS_PATH"
ENV_MEMORY_MB = "_RF_WORKER_AS_LIMIT_MB"
ENV_OUTPUT_BYTES = "_RF_WORKER_OUTPUT_BYTES"
LOADED = b"L"  # sent once the worker has unpickled a call: the call's clock starts then
_SCRIPT_MODULES = (b"__main__", b"__mp_main__")  # modules a worker cannot import by name


def write_frame(stream: IO[bytes], payload: bytes) -> None:
    view = memoryview(HEADER.pack(len(payload)) + payload)
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


def read_frame(stream: IO[bytes]) -> bytes:
    (size,) = HEADER.unpack(_read_exact(stream, HEADER.size))
    return _read_exact(stream, size)


def dumps(obj: Any) -> bytes:
    """Pickle for a worker: plain pickle (three times faster) unless `obj` refers to something a
    worker cannot import (the caller's script, a function defined inside a function), which
    cloudpickle then carries by value."""
    try:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    if any(module in data for module in _SCRIPT_MODULES):
        return cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return data


def describe_exit(code: int | None) -> str:
    """A keeper's exit status, which is its worker's: an exit code or 128 + the signal."""
    if code is None:
        return "still running"
    if code < 0:
        return f"its keeper was killed by {signal_name(-code)}"
    if code > 128:
        name = signal_name(code - 128)
        return f"killed by {name}" + (" (out of memory, or killed from outside)" if name == "SIGKILL" else "")
    return f"exit code {code}"


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
