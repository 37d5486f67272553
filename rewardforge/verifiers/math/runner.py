"""Parent side of the symbolic layer: send sympy work to the shared killable worker pool.

The deadline is enforced by the parent (the worker is killed on timeout), so this works from any
thread, inside asyncio and inside process pools, where `signal.alarm` does not. Importing sympy and
the LaTeX parser takes about a second: the workers are warmed once per process, and every call carries
`symbolic.PRELOAD`, which imports them while the worker loads the call, a phase the pool does not count
against the timeout, so the replacement of a killed worker is not starved on its first call.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from rewardforge.core.errors import install_hint
from rewardforge.core.workers import WorkerCrashed, WorkerTimeout, shared_pool
from rewardforge.verifiers.math import symbolic

WARM_TIMEOUT = 120.0
KILL_MARGIN = 0.03  # seconds kept back from sympy's budget for killing and replacing a hung worker
MIN_BUDGET = 0.05

_warm_lock = threading.Lock()
_warm_pid: int | None = None


def parallelism() -> int:
    return shared_pool().size


def ensure_warm() -> None:
    """Warm the shared pool once per process (fork-aware); a killed worker's replacement starts on
    demand, its imports in the untimed load phase (`symbolic.PRELOAD`)."""
    global _warm_pid
    with _warm_lock:
        if _warm_pid == os.getpid():
            return
        warm_workers()
        _warm_pid = os.getpid()


def warm_workers() -> None:
    """Bring every worker of the shared pool up with sympy loaded (replaces killed ones); one
    concurrent call per worker, so each call lands on a different worker."""
    pool = shared_pool()
    with ThreadPoolExecutor(max_workers=pool.size) as executor:
        list(executor.map(lambda _: pool.call(symbolic.warm, timeout=WARM_TIMEOUT), range(pool.size)))


def clear_worker_caches() -> None:
    """Clear the parse cache of every warm worker (one concurrent call per worker reaches each)."""
    pool = shared_pool()
    with ThreadPoolExecutor(max_workers=pool.size) as executor:
        list(executor.map(lambda _: pool.call(symbolic.clear_cache, timeout=WARM_TIMEOUT), range(pool.size)))


def run_symbolic(gold: str, answer: str, rel_tol: float, timeout: float) -> tuple[str, bool | None, str]:
    """(status, equal, detail) with status "ok", "gold_unparseable" or "error" (timeout, crash, ...)."""
    try:
        ensure_warm()
    except Exception as exc:  # sympy / latex2sympy2_extended missing (the [math] extra), or no workers
        return "error", None, f"symbolic layer unavailable: {type(exc).__name__}: {str(exc)[:200]}{install_hint(exc)}"
    budget = max(timeout - KILL_MARGIN, MIN_BUDGET)  # so that killing a hung worker still ends in time
    try:
        return shared_pool().call(symbolic.compare_symbolic, gold, answer, rel_tol, symbolic.PRELOAD, timeout=budget)
    except WorkerTimeout:
        return "error", None, f"symbolic comparison timed out after {timeout:g}s"
    except WorkerCrashed as exc:
        return "error", None, f"symbolic worker crashed: {exc}"
    except Exception as exc:  # raised inside sympy: MemoryError, RecursionError, undefined values
        return "error", None, f"symbolic comparison failed: {type(exc).__name__}: {str(exc)[:200]}"
