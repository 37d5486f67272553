"""What every backend does the same way with a job: its environment and interpreter, where its files may
go, the rlimits it runs under, and how the way it ended is classified.

Shared by the local, insecure and Docker backends, so that a job means the same thing on each.
"""

from __future__ import annotations

import math
import os
import signal
import sys
from pathlib import PurePosixPath

from rewardforge.sandbox.base import ExecResult, ExecStatus, Limits
from rewardforge.sandbox.process import ProcessOutcome

WORKDIR = "/work"
# MALLOC_ARENA_MAX: glibc reserves 64 MiB of address space per thread arena, which would make RLIMIT_AS
# fail threaded programs that use little real memory.
DEFAULT_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "MALLOC_ARENA_MAX": "2",
}
# argv[0] values that mean "the sandbox's Python interpreter".
PYTHON_NAMES = frozenset({"python", "python3"})
_MEMORY_MARKERS = (b"MemoryError", b"std::bad_alloc", b"Cannot allocate memory", b"out of memory")
_SIGNALS = {s.value for s in signal.Signals}


def default_python() -> str:
    """The interpreter jobs get for `python`/`python3`: the system one under /usr when present (nothing
    extra to mount), else the interpreter running rewardforge."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.access(candidate, os.X_OK):
            return candidate
    return os.path.realpath(sys.executable)


def job_path(path: str) -> PurePosixPath:
    """`path` as a path inside the job's working directory; ValueError when it is absolute or escapes."""
    rel = PurePosixPath(path)
    if not path or rel.is_absolute() or any(part in ("..", "") for part in rel.parts) or rel == PurePosixPath("."):
        raise ValueError(f"job file paths must be relative and stay inside the working directory: {path!r}")
    return rel


def as_bytes(content: str | bytes) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else content


def prlimit_args(limits: Limits, nproc: int | None) -> list[str]:
    """prlimit(1) options for `limits`. CPU gets a soft limit (SIGXCPU) and a hard one a second later."""
    cpu = max(1, math.ceil(limits.cpu_s))
    args = [
        f"--as={limits.memory_mb << 20}",
        f"--cpu={cpu}:{cpu + 1}",
        f"--fsize={limits.file_size_mb << 20}",
        "--nofile=256",
        "--core=0",
    ]
    if nproc is not None:
        args.append(f"--nproc={nproc}")
    return args


def classify(
    outcome: ProcessOutcome, exit_code: int | None, sig: int | None, limits: Limits, *, oom_killed: bool = False
) -> tuple[ExecStatus, str | None]:
    """How a run ended. Never a verdict on correctness: only the trusted parent judges that.
    `oom_killed`: the job's memory cgroup killed one of its processes during the run."""
    if outcome.output_exceeded:
        return "output_limit", f"output exceeded {limits.output_bytes} bytes on stdout or stderr"
    if outcome.timed_out:
        return "timeout", f"wall-clock limit of {limits.wall_s:g}s reached"
    if sig == signal.SIGXCPU:
        return "timeout", f"CPU limit of {limits.cpu_s:g}s reached"
    if sig is None and exit_code == 0:
        return "ok", None
    if oom_killed:
        return "memory", f"memory limit of {limits.memory_mb} MB reached (OOM kill)"
    if any(marker in outcome.stderr[-4096:] for marker in _MEMORY_MARKERS):
        return "memory", f"memory limit of {limits.memory_mb} MB reached"
    if sig == signal.SIGXFSZ:
        return "runtime_error", f"file size limit of {limits.file_size_mb} MB reached"
    if sig is not None:
        return "runtime_error", f"killed by signal {signal.Signals(sig).name if sig in _SIGNALS else sig}"
    return "runtime_error", f"exit code {exit_code}"


def result_from(
    outcome: ProcessOutcome,
    backend: str,
    status: ExecStatus,
    reason: str | None,
    exit_code: int | None = None,
    sig: int | None = None,
) -> ExecResult:
    return ExecResult(status=status, exit_code=exit_code, signal=sig, stdout=outcome.stdout,
                      stderr=outcome.stderr, truncated=outcome.truncated, wall_s=outcome.wall_s,
                      backend=backend, reason=reason)
