"""The scoring engine: every path that scores samples (API, CLI, adapters, server) goes through here.

Per reward it
1. dedups samples that are identical over the fields the reward reads (GRPO groups repeat answers),
2. answers what it can from the verdict cache,
3. runs the rest: `isolation="process"` rewards in warm worker processes, in parallel across
   cores; under a timeout a hung call is killed, its worker replaced, and the sample becomes
   `error: timeout ...`. Everything else runs through the reward's own `ascore`, concurrently
   with the other components of a composite,
4. fans the verdicts back out in input order.

Composite rewards call `run_reward` for each component, so every leaf gets the same treatment.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import pickle
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardforge.core.cache import VerdictCache, shared_cache
from rewardforge.core.errors import UsageError
from rewardforge.core.samples import to_samples
from rewardforge.core.types import (
    SAMPLE_FIELDS,
    FunctionReward,
    Reward,
    RewardContext,
    Sample,
    Score,
    exception_score,
    run_sync,
)
from rewardforge.core.workers import WorkerCrashed, WorkerPool, WorkerTimeout, shared_pool


@dataclass(frozen=True)
class EngineOptions:
    """How `run_reward` treats every reward of one scoring call, nested ones included."""

    cache: VerdictCache | None = None
    pool: WorkerPool | None = None
    dedup: bool = True


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
        scores = await _run_batch(reward, list(samples), context, options)
        if report is not None:
            report(len(samples))
        return scores

    fields = getattr(reward, "fields", SAMPLE_FIELDS)
    keys = [sample.key(fields) for sample in samples] if options.dedup else list(range(len(samples)))
    first_index: dict[Any, int] = {}
    for index, key in enumerate(keys):
        first_index.setdefault(key, index)

    reward_key = _cache_key(reward, context) if options.cache is not None else None
    verdicts: dict[Any, Score] = {}
    if reward_key is not None and options.cache is not None:
        for key, index in first_index.items():
            cached = options.cache.get(VerdictCache.key(reward_key, _as_bytes(key, samples[index], fields)))
            if cached is not None:
                verdicts[key] = cached

    pending = [key for key in first_index if key not in verdicts]
    done = None
    if report is not None:  # a verdict finishes every input sample that shares its key
        copies = Counter(keys)
        if verdicts:
            report(sum(copies[key] for key in verdicts))
        done = lambda position: report(copies[pending[position]])  # noqa: E731
    fresh = await _run_unique(reward, [samples[first_index[key]] for key in pending], context, options, done)
    for key, score in zip(pending, fresh, strict=True):
        verdicts[key] = score
        if reward_key is not None and options.cache is not None:
            sample_key = _as_bytes(key, samples[first_index[key]], fields)
            options.cache.put(VerdictCache.key(reward_key, sample_key), score)

    results = []
    for index, key in enumerate(keys):
        score = verdicts[key]
        results.append(score if first_index[key] == index else score.model_copy(deep=True))
    return results


def _as_bytes(key: Any, sample: Sample, fields: frozenset[str]) -> bytes:
    return key if isinstance(key, bytes) else sample.key(fields)


def _cache_key(reward: Reward, context: RewardContext) -> str | None:
    method = getattr(reward, "cache_key", None)
    return method(context) if method is not None else None


async def _run_unique(
    reward: Reward, samples: list[Sample], context: RewardContext, options: EngineOptions,
    done: Callable[[int], None] | None = None,
) -> list[Score]:
    """Score distinct samples; `done(i)` is called as the verdict for `samples[i]` is known."""
    if not samples:
        return []
    if _use_workers(reward, context):
        pool = options.pool or shared_pool()

        async def one(position: int, sample: Sample) -> Score:
            [score] = await _call_in_worker(pool, reward, [sample], context, context.timeout)
            if done is not None:
                done(position)
            return score

        return list(await asyncio.gather(*(one(i, sample) for i, sample in enumerate(samples))))
    scores = _checked(reward, samples, await _ascore_safely(reward, samples, context))
    if done is not None:
        for position in range(len(samples)):
            done(position)
    return scores


def _use_workers(reward: Reward, context: RewardContext) -> bool:
    """Process-isolated rewards run in workers: killable under a timeout, and parallel across cores.

    Without a timeout, a reward that cannot travel to a worker (defined inside a function or in
    `__main__`) runs inline instead; with one, it must travel, and gets a clear error if it cannot.
    """
    if getattr(reward, "isolation", "inline") != "process":
        return False
    return context.timeout is not None or _portable(reward)


def _portable(reward: Reward) -> bool:
    if isinstance(reward, FunctionReward):
        return "<locals>" not in reward.fn.__qualname__ and reward.fn.__module__ != "__main__"
    try:
        pickle.dumps(reward)
    except Exception:
        return False
    return True


async def _run_batch(
    reward: Reward, samples: list[Sample], context: RewardContext, options: EngineOptions
) -> list[Score]:
    """Batched rewards see the whole batch; in a worker the limit is the per-sample timeout times its size."""
    if _use_workers(reward, context):
        pool = options.pool or shared_pool()
        limit = context.timeout * len(samples) if context.timeout is not None else None
        return await _call_in_worker(pool, reward, samples, context, limit)
    return _checked(reward, samples, await _ascore_safely(reward, samples, context))


async def _ascore_safely(reward: Reward, samples: list[Sample], context: RewardContext) -> list[Score]:
    try:
        return await reward.ascore(samples, context)
    except Exception as exc:
        return [exception_score(exc) for _ in samples]


def _checked(reward: Reward, samples: list[Sample], scores: list[Score]) -> list[Score]:
    if len(scores) != len(samples):
        reason = f"{reward.name} returned {len(scores)} scores for {len(samples)} samples"
        return [Score.error(reason) for _ in samples]
    return scores


async def _call_in_worker(
    pool: WorkerPool, reward: Reward, samples: list[Sample], context: RewardContext, limit: float | None
) -> list[Score]:
    try:
        scores = await asyncio.to_thread(pool.call, _score_in_worker, reward, samples, context, timeout=limit)
    except WorkerTimeout:
        return [Score.error(f"timeout: {reward.name} ran past {limit}s and was killed") for _ in samples]
    except WorkerCrashed as exc:
        return [Score.error(f"{reward.name} crashed its worker: {exc}") for _ in samples]
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        reason = (f"{reward.name} cannot be sent to a worker process ({exc}); define it at module level "
                  "or use isolation='inline'")
        return [Score.error(reason) for _ in samples]
    except Exception as exc:
        return [exception_score(exc) for _ in samples]
    return _checked(reward, samples, scores)


def _score_in_worker(reward: Reward, samples: list[Sample], context: RewardContext) -> list[Score]:
    """Runs inside a worker: the reward's own isolation is already provided, so run it inline there."""
    token = _options.set(EngineOptions())
    try:
        return reward.score(samples, context.model_copy(update={"timeout": None}))
    finally:
        _options.reset(token)


CacheSetting = VerdictCache | str | Path | bool | None


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
    """Async form of `score`, for callers that already run an event loop."""
    from rewardforge.core.registry import resolve

    if timeout is not None and not (timeout > 0 and math.isfinite(timeout)):
        raise UsageError(f"timeout must be a positive number of seconds, got {timeout}")
    resolved = resolve(reward, params)
    items = to_samples(samples, field_map)
    options = EngineOptions(cache=_make_cache(cache), pool=pool, dedup=dedup)
    token = _options.set(options)
    progress_token = _progress.set(progress)
    try:
        return await run_reward(resolved, items, RewardContext(step=step, timeout=timeout))
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
    - `timeout`: per-sample wall-clock limit in seconds. Rewards that may hang run in killable
      workers; one that runs past it is killed and its sample becomes `error: timeout ...`.
    - `step`: the training step, for scheduled weights.
    - `cache`: True for the process-wide in-memory cache, a path for an on-disk SQLite cache,
      or a `VerdictCache`.
    - `progress`: called with a count each time that many samples have their final verdict (for a
      progress bar); process-isolated rewards report sample by sample, others per call.

    Safe to call from any thread, and from inside a running event loop (it then runs the work on
    a helper thread; prefer `await ascore(...)` there).

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
