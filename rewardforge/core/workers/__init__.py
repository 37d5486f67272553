"""Warm, killable worker processes for work that may hang or blow up (sympy, user rewards).

The isolation model:
- Each worker is a fresh Python process whose parent is a *keeper* (`keeper.py`), the two in a
  session of their own, so a Ctrl-C at the terminal reaches the caller, never the workers directly.
  The keeper is a child subreaper and watches a control pipe only the caller holds: when the caller
  closes it (timeout, recycling, cancel) or dies in any way (SIGKILL included), the keeper kills the
  worker and everything it started, `setsid` daemons included. A watchdog on a pipe, unlike
  `PR_SET_PDEATHSIG`, is not tied to the caller's thread that started the worker.
- A timeout is enforced by the caller: it stops waiting and has the worker's tree killed; a new
  worker starts on the next call. That works from any thread, inside asyncio and inside another
  process pool (even daemonic `multiprocessing` workers), which `signal.alarm` cannot.
- The caller watches the keeper (a pidfd) as well as the reply pipe, so a worker that dies while a
  child it forked still holds the pipe is seen at once.
- Calls travel as pickles over private pipes; what a worker cannot import (functions and classes of
  `__main__`, `python -c`, a REPL, a spawn or forkserver child, or defined inside a function) goes
  by value with cloudpickle.
- Workers are replaced after `max_calls`, or when calls leave open files, running children or
  resident memory behind (`RecyclePolicy`); between calls a worker reaps its exited children.
- A reward's stdout and stderr reach the caller's stderr, at most `output_bytes` per call.
- Cancelling a call (its coroutine cancelled, its `CancelToken`, the token of the `cancel_scope()`
  around it, or a KeyboardInterrupt in the calling thread) kills its worker at once.

Limits, per pool or from the environment when a pool is made: `RF_WORKERS` (pool size; default: the
CPUs this process may run on), `RF_WORKER_MEMORY_MB` (address-space cap per worker, default 4096, 0
lifts it), `RF_WORKER_OUTPUT_BYTES` (default 4096), and the recycling knobs of `RecyclePolicy`.

Modules: `pool` (the caller's side), `process` (the worker's main loop), `keeper` (its parent),
`protocol` (frames and pickling), `limits`, `cancel`.
"""

from rewardforge.core.workers.cancel import CancelToken, cancel_scope
from rewardforge.core.workers.limits import (
    DEFAULT_MEMORY_MB,
    DEFAULT_OUTPUT_BYTES,
    RecyclePolicy,
    WorkerHealth,
    default_size,
    memory_cap_mb,
)
from rewardforge.core.workers.pool import (
    PoolStats,
    UnpicklableCall,
    WorkerCancelled,
    WorkerCrashed,
    WorkerPool,
    WorkerTimeout,
    configure_shared_pool,
    shared_pool,
)
from rewardforge.core.workers.protocol import dumps

__all__ = [
    "DEFAULT_MEMORY_MB",
    "DEFAULT_OUTPUT_BYTES",
    "CancelToken",
    "PoolStats",
    "RecyclePolicy",
    "UnpicklableCall",
    "WorkerCancelled",
    "WorkerCrashed",
    "WorkerHealth",
    "WorkerPool",
    "WorkerTimeout",
    "cancel_scope",
    "configure_shared_pool",
    "default_size",
    "dumps",
    "memory_cap_mb",
    "shared_pool",
]
