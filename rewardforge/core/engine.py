"""The scoring engine: every path that scores samples (API, CLI, adapters, server) goes through here.

Per reward it
1. dedups samples that are identical over the fields the reward reads (GRPO groups repeat answers),
2. answers what it can from the verdict cache (keyed as core/fingerprint.py describes),
3. runs the rest: `isolation="process"` rewards in warm worker processes (core/workers/), one
   sample per call, in parallel across cores, under the caller's timeout or DEFAULT_TIMEOUT; a call
   that runs past it is killed and its sample becomes `error: timeout ...`. Everything else runs
   through the reward's own `ascore`, concurrently with the other components of a composite,
4. cuts huge strings in each verdict's `info` (types.bounded) and fans the verdicts back out in input
   order.

One bad sample costs only itself: an exception (SystemExit and KeyboardInterrupt raised by a reward
included), a crash, a hang or an unpicklable value becomes that sample's error. An interrupted caller
(Ctrl-C, a cancelled task, an exception from a signal handler) kills every worker still busy for it
before the interruption propagates.

Composite rewards call `run_reward` for each component, so every leaf gets the same treatment.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import os
import pickle
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardforge.core.cache import VerdictCache, shared_cache
from rewardforge.core.errors import UsageError
from rewardforge.core.fingerprint import fingerprint
from rewardforge.core.samples import to_samples
from rewardforge.core.types import (
    SAMPLE_FIELDS,
    Reward,
    RewardContext,
    Sample,
    Score,
    bounded,
    exception_score,
    run_sync,
)
from rewardforge.core.workers import (
    UnpicklableCall,
    WorkerCancelled,
    WorkerCrashed,
    WorkerPool,
    WorkerTimeout,
    cancel_scope,
    dumps,
    memory_cap_mb,
    shared_pool,
)

#: Seconds a process-isolated reward may take per sample when the caller sets no timeout.
#: `RF_DEFAULT_TIMEOUT` changes it (`inf` turns it off); `timeout=math.inf` turns it off for one call.
DEFAULT_TIMEOUT = 60.0


@dataclass(frozen=True)
class EngineOptions:
    """How `run_reward` treats every reward of one scoring call, nested ones included."""

    cache: VerdictCache | None = None
    pool: WorkerPool | None = None
    dedup: bool = True
    worker_timeout: float | None = DEFAULT_TIMEOUT  # per sample, for process-isolated rewards; None: none
    isolate: bool = True  # False inside a worker, which is isolation enough for the rewards it runs


_options: contextvars.ContextVar[EngineOptions] = contextvars.ContextVar("rewardforge_engine")
#: The caller's `progress` callback, seen only by the outermost `run_reward` of a call: the
#: components of a composite finish a sample only when their parent does.
_progress: contextvars.ContextVar[Callable[[int], None] | None] = contextvars.ContextVar(
    "rewardforge_progress", default=None)


async def run_reward(reward: Reward, samples: Sequence[Sample], context: RewardContext) -> list[Score]:
    """Score `samples` with one reward under the current call's options; one Score per sample, in order."""
    if not samples:
        return []
    options = _options.get(EngineOptions())
    report = _progress.get()
    if report is not None:
        _progress.set(None)
    if getattr(reward, "batched", False):
        scores = [bounded(score) for score in await _run_batch(reward, list(samples), context, options)]
        if report is not None:
            report(len(samples))
        return scores

    fields = getattr(reward, "fields", SAMPLE_FIELDS)
    # The first fingerprint of a reward reads source files (and may scan the installed distributions).
    reward_key = await asyncio.to_thread(_verdict_identity, reward, context) if options.cache is not None else None
    sample_keys = ([sample.key(fields) for sample in samples] if options.dedup or reward_key is not None
                   else [None] * len(samples))
    # A sample with no stable key (see Sample.key) is its own group and is never cached.
    groups: list[Any] = [key if options.dedup and key is not None else index
                         for index, key in enumerate(sample_keys)]
    first_index: dict[Any, int] = {}
    for index, group in enumerate(groups):
        first_index.setdefault(group, index)

    verdicts: dict[Any, Score] = {}
    if reward_key is not None and options.cache is not None:
        for group, index in first_index.items():
            sample_key = sample_keys[index]
            cached = options.cache.get(VerdictCache.key(reward_key, sample_key)) if sample_key is not None else None
            if cached is not None:
                verdicts[group] = cached

    pending = [group for group in first_index if group not in verdicts]
    done = None
    if report is not None:  # a verdict finishes every input sample of its group
        copies = Counter(groups)
        if verdicts:
            report(sum(copies[group] for group in verdicts))
        done = lambda position: report(copies[pending[position]])  # noqa: E731
    fresh = await _run_unique(reward, [samples[first_index[group]] for group in pending], context, options, done)
    for group, score in zip(pending, fresh, strict=True):
        verdicts[group] = score = bounded(score)
        sample_key = sample_keys[first_index[group]]
        if reward_key is not None and options.cache is not None and sample_key is not None:
            options.cache.put(VerdictCache.key(reward_key, sample_key), score)

    results = []
    for index, group in enumerate(groups):
        score = verdicts[group]
        results.append(score if first_index[group] == index else score.model_copy(deep=True))
    return results


def _verdict_identity(reward: Reward, context: RewardContext) -> str | None:
    """The reward's own cache key (params, and step where read) plus its code fingerprint and versions."""
    method = getattr(reward, "cache_key", None)
    own = method(context) if method is not None else None
    if own is None:
        return None
    code = fingerprint(reward)
    return None if code is None else f"{own}|{code}"


async def _run_unique(
    reward: Reward, samples: list[Sample], context: RewardContext, options: EngineOptions,
    done: Callable[[int], None] | None = None,
) -> list[Score]:
    """Score distinct samples; `done(i)` is called as the verdict for `samples[i]` is known."""
    if not samples:
        return []
    if _in_worker(reward, options):
        shipped = _ship(reward)
        pool = options.pool or shared_pool()

        async def one(position: int, sample: Sample) -> Score:
            if isinstance(shipped, Score):
                score = shipped.model_copy(deep=True)
            else:
                [score] = await _call_in_worker(pool, reward, shipped, [sample], context, options.worker_timeout)
            if done is not None:
                done(position)
            return score

        return list(await asyncio.gather(*(one(i, sample) for i, sample in enumerate(samples))))
    scores = _checked(reward, samples, await _ascore_safely(reward, samples, context))
    if done is not None:
        for position in range(len(samples)):
            done(position)
    return scores


def _in_worker(reward: Reward, options: EngineOptions) -> bool:
    """Process-isolated rewards run in workers wherever they were defined (cloudpickle carries rewards
    from `__main__`, a REPL or a function by value)."""
    return options.isolate and getattr(reward, "isolation", "inline") == "process"


class _Shipped:
    """A reward pickled once per scoring call. The worker unpickles it while loading the call (so its
    imports never count against the timeout) and keeps it for the call's next samples."""

    def __init__(self, blob: bytes) -> None:
        self.blob = blob

    def __reduce__(self) -> tuple[Any, ...]:
        return (_unship, (self.blob,))


_unshipped: OrderedDict[bytes, Reward] = OrderedDict()  # in a worker: rewards already unpickled


def _unship(blob: bytes) -> Reward:
    reward = _unshipped.get(blob)
    if reward is None:
        reward = pickle.loads(blob)
        _unshipped[blob] = reward
        while len(_unshipped) > 16:
            _unshipped.popitem(last=False)
    else:
        _unshipped.move_to_end(blob)
    return reward


def _ship(reward: Reward) -> _Shipped | Score:
    """The reward ready to send, or the error that says why it cannot travel and what to do."""
    try:
        return _Shipped(dumps(reward))
    except Exception as exc:
        return Score.error(
            f"{reward.name} cannot be sent to a worker process ({type(exc).__name__}: {exc}); it holds "
            "something that cannot be pickled (a lock, a connection, an open file): create that inside "
            "the reward, or declare it isolation='inline'"
        )


async def _run_batch(
    reward: Reward, samples: list[Sample], context: RewardContext, options: EngineOptions
) -> list[Score]:
    """Batched rewards see the whole batch; in a worker the limit is the per-sample timeout times its size."""
    if _in_worker(reward, options):
        shipped = _ship(reward)
        if isinstance(shipped, Score):
            return [shipped.model_copy(deep=True) for _ in samples]
        pool = options.pool or shared_pool()
        limit = options.worker_timeout * len(samples) if options.worker_timeout is not None else None
        return await _call_in_worker(pool, reward, shipped, samples, context, limit)
    return _checked(reward, samples, await _ascore_safely(reward, samples, context))


async def _ascore_safely(reward: Reward, samples: list[Sample], context: RewardContext) -> list[Score]:
    try:
        return await reward.ascore(samples, context)
    except (Exception, SystemExit) as exc:
        return [exception_score(exc) for _ in samples]


def _checked(reward: Reward, samples: list[Sample], scores: list[Score]) -> list[Score]:
    if len(scores) != len(samples):
        reason = f"{reward.name} returned {len(scores)} scores for {len(samples)} samples"
        return [Score.error(reason) for _ in samples]
    return scores


async def _call_in_worker(
    pool: WorkerPool, reward: Reward, shipped: _Shipped, samples: list[Sample], context: RewardContext,
    limit: float | None,
) -> list[Score]:
    try:
        scores = await pool.acall(_score_in_worker, shipped, samples, context, timeout=limit)
    except WorkerTimeout:
        return [Score.error(f"timeout: {reward.name} ran past {limit}s and was killed") for _ in samples]
    except WorkerCrashed as exc:
        return [Score.error(f"{reward.name} crashed its worker: {exc}") for _ in samples]
    except WorkerCancelled:
        return [Score.error(f"{reward.name}: cancelled") for _ in samples]
    except UnpicklableCall as exc:
        reason = (f"this sample cannot be sent to a worker process ({exc}): its reference or metadata "
                  f"holds an object that cannot be pickled; pass plain data, or declare {reward.name} "
                  "isolation='inline'")
        return [Score.error(reason) for _ in samples]
    except Exception as exc:
        return [exception_score(exc) for _ in samples]
    return _checked(reward, samples, scores)


def _score_in_worker(reward: Reward, samples: list[Sample], context: RewardContext) -> list[Score]:
    """Runs inside a worker: the worker is the reward's isolation, so everything runs inline here, and
    whatever the reward raises (SystemExit, KeyboardInterrupt included) is its samples' error."""
    token = _options.set(EngineOptions(isolate=False))
    try:
        scores = reward.score(samples, context)
    except BaseException as exc:
        scores = [exception_score(exc) for _ in samples]
    finally:
        _options.reset(token)
    cap = memory_cap_mb()
    return [bounded(_note_memory_cap(score, cap)) for score in scores]


def _note_memory_cap(score: Score, cap: int | None) -> Score:
    if cap is None or score.status != "error" or score.info.get("exception") != "MemoryError":
        return score
    note = f" (this worker's memory is capped at {cap} MB: raise RF_WORKER_MEMORY_MB, or 0 for no cap)"
    return score.model_copy(update={"reason": f"{score.reason}{note}"})


CacheSetting = VerdictCache | str | Path | bool | None


def default_timeout() -> float | None:
    """DEFAULT_TIMEOUT, or `RF_DEFAULT_TIMEOUT` when set (`inf`, `none` or 0: no limit)."""
    raw = os.environ.get("RF_DEFAULT_TIMEOUT", "").strip().lower()
    if not raw:
        return DEFAULT_TIMEOUT
    if raw in ("inf", "none", "0"):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"RF_DEFAULT_TIMEOUT must be a number of seconds or 'inf', got {raw!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise UsageError(f"RF_DEFAULT_TIMEOUT must be a positive number of seconds or 'inf', got {raw!r}")
    return value


def _limits(timeout: float | None) -> tuple[float | None, float | None]:
    """(the timeout rewards see in their context, the limit for process-isolated calls)."""
    if timeout is None:
        return None, default_timeout()
    if timeout == math.inf:
        return None, None
    if not (timeout > 0 and math.isfinite(timeout)):
        raise UsageError(f"timeout must be a positive number of seconds (math.inf for none), got {timeout}")
    return timeout, timeout


_stacks: OrderedDict[tuple[str, int, int], Reward] = OrderedDict()  # YAML stacks by (path, mtime, size)


def _resolve_now(spec: Reward | str | Path, params: dict[str, Any] | None) -> Reward:
    """`resolve`, with YAML stacks parsed once per version of their file."""
    from rewardforge.core.registry import resolve

    if params or not (isinstance(spec, Path) or (isinstance(spec, str) and spec.endswith((".yaml", ".yml")))):
        return resolve(spec, params)
    try:
        stat = os.stat(spec)
    except OSError:
        return resolve(spec, params)  # resolve names the missing file
    key = (os.path.realpath(spec), stat.st_mtime_ns, stat.st_size)
    stack = _stacks.get(key)
    if stack is None:
        stack = _stacks[key] = resolve(spec, params)
        while len(_stacks) > 64:
            _stacks.popitem(last=False)
    return stack


async def ascore(
    reward: Reward | str | Path,
    samples: Iterable[Sample | Mapping[str, Any]] | Any,
    *,
    params: dict[str, Any] | None = None,
    field_map: Mapping[str, str] | None = None,
    timeout: float | None = None,
    step: int = 0,
    cache: CacheSetting = None,
    pool: WorkerPool | None = None,
    dedup: bool = True,
    progress: Callable[[int], None] | None = None,
) -> list[Score]:
    """Async form of `score`, for callers that already run an event loop.

    Names and YAML stacks are resolved on a helper thread, so the loop never waits on imports or
    parsing. Cancelling the task kills the workers busy for it.
    """
    explicit_timeout, worker_timeout = _limits(timeout)
    if isinstance(reward, Reward) and not params:
        resolved = reward
    else:
        resolved = await asyncio.to_thread(_resolve_now, reward, params)
    items = to_samples(samples, field_map)
    options = EngineOptions(cache=_make_cache(cache), pool=pool, dedup=dedup, worker_timeout=worker_timeout)
    token = _options.set(options)
    progress_token = _progress.set(progress)
    try:
        with cancel_scope() as cancel:
            try:
                return await run_reward(resolved, items, RewardContext(step=step, timeout=explicit_timeout))
            except BaseException:
                cancel.cancel()  # interrupted: kill every worker still busy for this call
                raise
    finally:
        _progress.reset(progress_token)
        _options.reset(token)


def score(
    reward: Reward | str | Path,
    samples: Iterable[Sample | Mapping[str, Any]] | Any,
    *,
    params: dict[str, Any] | None = None,
    field_map: Mapping[str, str] | None = None,
    timeout: float | None = None,
    step: int = 0,
    cache: CacheSetting = None,
    pool: WorkerPool | None = None,
    dedup: bool = True,
    progress: Callable[[int], None] | None = None,
) -> list[Score]:
    """Score samples with a reward; one Score per sample, in input order.

    - `reward`: a registry name, a dotted path `pkg.module:attr`, a YAML stack file, or a Reward.
    - `params`: the reward's params, for a name or a dotted path (a built reward object is
      configured with its own `with_params`).
    - `samples`: Samples or dicts, a Hugging Face `Dataset`, a pandas `DataFrame`, or any iterable
      of dicts. Columns that are not Sample fields go into `metadata` (see `core/samples.py`).
    - `field_map`: which column holds a Sample field, e.g. `{"reference": "answer"}`.
    - `timeout`: per-sample wall-clock limit in seconds. Process-isolated rewards (`@reward` functions)
      run in killable workers; one that runs past it is killed and its sample becomes
      `error: timeout ...`. Without one they get DEFAULT_TIMEOUT (60 s, `RF_DEFAULT_TIMEOUT`);
      `math.inf` means no limit. Inline rewards see it as `context.timeout`.
    - `step`: the training step, for scheduled weights and rewards that read it.
    - `cache`: True for the process-wide in-memory cache, a path for an on-disk SQLite cache, or a
      `VerdictCache`. A verdict is keyed on the reward's name and params, the step when the reward
      reads it, the sample's fields the reward reads, a fingerprint of the reward's code and the
      versions of rewardforge and of the plugin it comes from. Errors are never cached.
    - `pool`: the workers to use (default: the process-wide pool, `RF_WORKERS` in size).
    - `progress`: called with a count each time that many samples have their final verdict (for a
      progress bar); process-isolated rewards report sample by sample, others per call.

    Safe to call from any thread, and from inside a running event loop (it then runs the work on
    a helper thread; prefer `await ascore(...)` there). A Ctrl-C kills the busy workers at once.

    Raises:
        RewardError: the reward cannot be resolved or configured (unknown name, bad params).
        SampleError: a sample is malformed; the message names the sample and the column.
        UsageError: the timeout is not a positive number.

    >>> import rewardforge as rf
    >>> rows = [{"completion": "Paris", "answer": "Paris", "id": 1}, {"completion": "Lyon", "answer": "Paris", "id": 2}]
    >>> [verdict.value for verdict in rf.score("exact_match", rows, field_map={"reference": "answer"})]
    [1.0, 0.0]
    """
    result: list[Score] = run_sync(ascore(
        reward, samples, params=params, field_map=field_map, timeout=timeout, step=step, cache=cache,
        pool=pool, dedup=dedup, progress=progress,
    ))
    return result


def _make_cache(setting: CacheSetting) -> VerdictCache | None:
    if setting is None or setting is False:
        return None
    if isinstance(setting, VerdictCache):
        return setting
    return shared_cache(None if setting is True else setting)
