"""How many workers, how much each may use, and when one is replaced; defaults from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import NamedTuple

from rewardforge.core.workers.protocol import ENV_MEMORY_MB

DEFAULT_MEMORY_MB = 4096
DEFAULT_OUTPUT_BYTES = 4096


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must be 0 or more, got {value}")
    return value


def default_size() -> int:
    """`RF_WORKERS`, else the number of CPUs this process may run on (its affinity, not the machine's)."""
    configured = env_int("RF_WORKERS", 0)
    if configured:
        return configured
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class WorkerHealth(NamedTuple):
    """What a worker reports after each call, to decide whether to recycle it."""

    open_files: int
    open_files_limit: int
    children: int
    rss_mb: float


@dataclass(frozen=True)
class RecyclePolicy:
    """When to replace a worker. Growth is measured from the worker's state after its first call, so
    what a reward loads once (a model, sympy) is not a leak. None (or 0 in the environment) turns a
    rule off. The open-files rule also replaces a worker whose open files pass half its file limit."""

    max_calls: int | None = 20_000
    max_new_files: int | None = 64
    max_new_children: int | None = 16
    max_rss_growth_mb: int | None = 1024

    @classmethod
    def from_env(cls) -> RecyclePolicy:
        """`RF_WORKER_MAX_CALLS`, `RF_WORKER_MAX_NEW_FILES`, `RF_WORKER_MAX_NEW_CHILDREN`,
        `RF_WORKER_MAX_RSS_GROWTH_MB`, each over the class default."""
        defaults = cls()
        values = {
            name: env_int(f"RF_WORKER_{name.upper()}", getattr(defaults, name) or 0) or None
            for name in ("max_calls", "max_new_files", "max_new_children", "max_rss_growth_mb")
        }
        return cls(**values)

    def reason(self, calls: int, baseline: WorkerHealth | None, now: WorkerHealth | None) -> str | None:
        """Why a worker in state `now` (None: not measured this call) after `calls` calls must go."""
        if self.max_calls and calls >= self.max_calls:
            return "calls"
        if baseline is None or now is None:
            return None
        if self.max_new_files and (now.open_files - baseline.open_files > self.max_new_files
                                   or now.open_files > now.open_files_limit // 2):
            return "open_files"
        if self.max_new_children and now.children - baseline.children > self.max_new_children:
            return "children"
        if self.max_rss_growth_mb and now.rss_mb - baseline.rss_mb > self.max_rss_growth_mb:
            return "memory"
        return None




def memory_cap_mb() -> int | None:
    """Inside a worker: its address-space cap in MB, if it has one."""
    raw = os.environ.get(ENV_MEMORY_MB)
    return int(raw) if raw else None
