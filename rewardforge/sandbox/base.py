"""The sandbox contract: what to run (`ExecRequest`), under which limits (`Limits`), what came back
(`ExecResult`), and the interface every backend implements (`SandboxBackend`).

Backends only run things. Deciding whether a program passed is the trusted parent's job
(`rewardforge.verifiers.code.verify`), never the sandboxed program's.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from rewardforge.core.errors import RewardforgeError

ExecStatus: TypeAlias = Literal["ok", "runtime_error", "timeout", "memory", "output_limit", "sandbox_error"]


class Limits(BaseModel):
    """Resource limits for one sandboxed run. Every limit is enforced; none is advisory."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    wall_s: float = Field(default=10.0, gt=0, description="wall-clock limit, enforced by the parent")
    cpu_s: float = Field(default=10.0, gt=0, description="CPU-time limit (RLIMIT_CPU / CPU quota)")
    memory_mb: int = Field(default=512, gt=0, description="address-space / cgroup memory limit")
    pids: int = Field(default=64, gt=0, description="processes and threads the job may have at once")
    file_size_mb: int = Field(default=16, gt=0, description="largest file the job may write")
    tmp_mb: int = Field(default=64, gt=0, description="size of the writable tmpfs mounts")
    output_bytes: int = Field(default=1 << 20, gt=0, description="bytes kept of stdout and of stderr each")


class ExecRequest(BaseModel):
    """A program to run: files placed in the working directory, a command, and its stdin."""

    model_config = ConfigDict(extra="forbid")

    files: dict[str, str | bytes] = Field(default_factory=dict, description="relative path -> content")
    argv: list[str]
    stdin: str | bytes = b""
    limits: Limits = Field(default_factory=Limits)
    env: dict[str, str] = Field(default_factory=dict, description="the job's whole environment")
    trusted_init: bool = Field(
        default=False,
        description="the program is trusted and runs untrusted code only in its child processes (a test "
                    "harness): a backend may run it as the sandbox's process 1 instead of starting a separate "
                    "init for it",
    )


class ExecResult(BaseModel):
    """What a run produced. `status` classifies how it ended; it never says whether tests passed."""

    model_config = ConfigDict(extra="forbid")

    status: ExecStatus
    exit_code: int | None = None
    signal: int | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    truncated: bool = False
    wall_s: float = 0.0
    backend: str = ""
    reason: str | None = None

    @property
    def stdout_text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", errors="replace")


class SandboxError(RewardforgeError, RuntimeError):
    """The sandbox itself could not be set up (missing tool, engine down, image missing)."""


class SandboxBackend(ABC):
    """A way to run untrusted programs. Implementations must be safe to call from many threads."""

    name: str = "backend"

    @abstractmethod
    def available(self) -> bool:
        """Whether this backend can run jobs on this machine right now."""

    @abstractmethod
    def run(self, request: ExecRequest) -> ExecResult:
        """Run one job. Failures of the sandbox itself come back as status 'sandbox_error'."""

    @property
    def concurrency(self) -> int:
        """How many jobs this backend runs at once (its slots or containers): more threads only wait."""
        return 4

    def run_many(self, requests: Sequence[ExecRequest], max_workers: int | None = None) -> list[ExecResult]:
        """Run jobs concurrently (`max_workers`, default `concurrency`); results keep the order of `requests`."""
        if not requests:
            return []
        workers = max(1, min(max_workers or self.concurrency, len(requests)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(self.run, requests))

    def preload_python(self, name: str, source: str) -> bool:
        """Ask the backend to have Python module `name` (trusted `source`) already imported in every job's
        interpreter. True when jobs run from now on will find it in sys.modules; the default is False,
        and callers then ship the module as a file."""
        return False

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release held resources (warm containers, worker slots)."""

    def __enter__(self) -> SandboxBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
