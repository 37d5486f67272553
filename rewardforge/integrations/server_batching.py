"""Dynamic batching: concurrent requests to the reward server become one engine call.

OpenRLHF and slime send one sample per request. Scoring each alone would pay the engine's per-call
cost every time and leave dedup and the verdict cache nothing to share. The `Batcher` holds a
request for at most `wait_s` (or until `max_batch` samples are waiting), merges whatever arrived
into one `ascore` call, and answers each request with its own slice as soon as that call returns.

- Requests are never split: a batch takes whole requests, in arrival order, while they fit in
  `max_batch`; a request larger than that runs alone.
- Requests at different training steps never share a call (scheduled weights depend on the step).
- A batch-relative reward (`reward.batched`, e.g. Kimi's length reward) sees exactly one request's
  samples per call, so other clients' samples never change its answer.
- At most `max_in_flight` calls run at once; while they do, new requests pile up and form the
  next, larger batch. One slow batch (a reward waiting out its timeout) does not stop the others.

Engine calls run on an `EngineThread`: an event loop of their own on a second thread, so that
scoring never stalls the loop that accepts and answers HTTP requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from rewardforge.core.cache import VerdictCache
from rewardforge.core.engine import ascore
from rewardforge.core.types import Reward, Sample, Score

T = TypeVar("T")


class EngineThread:
    """An event loop on a daemon thread where every engine call of the server runs."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="rewardforge-engine", daemon=True)

    def start(self) -> None:
        self._thread.start()

    async def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Await `coroutine` as it runs on the engine thread."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self.loop))

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join()
        self.loop.close()


class BatcherClosed(RuntimeError):
    """The batcher is draining for shutdown and takes no new requests."""


@dataclass
class _Request:
    samples: list[Sample]
    step: int
    answer: asyncio.Future[list[Score]]


BatchListener = Callable[[str, Iterable[Score], float], None]


class Batcher:
    """Merges concurrent requests for one reward into engine calls; see the module docstring."""

    def __init__(
        self,
        reward: Reward,
        engine: EngineThread,
        *,
        max_batch: int = 256,
        wait_s: float = 0.005,
        max_in_flight: int = 4,
        timeout: float | None = None,
        cache: VerdictCache | None = None,
        on_batch: BatchListener | None = None,
    ) -> None:
        if max_batch < 1 or max_in_flight < 1 or wait_s < 0:
            raise ValueError("max_batch and max_in_flight must be at least 1, wait_s at least 0")
        self.reward = reward
        self.engine = engine
        self.max_batch = max_batch
        self.wait_s = wait_s
        self.timeout = timeout
        self.cache = cache
        self.on_batch = on_batch
        self.merges = not getattr(reward, "batched", False)
        self.queued = 0  # samples waiting, for the queue-depth gauge
        self.in_flight = 0
        self._pending: deque[_Request] = deque()
        self._slots = asyncio.Semaphore(max_in_flight)
        self._arrived = asyncio.Event()
        self._full = asyncio.Event()
        self._closing = False
        self._calls: set[asyncio.Task[None]] = set()
        self._dispatcher: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch())

    async def score(self, samples: list[Sample], step: int = 0) -> list[Score]:
        """The verdicts for `samples`, in order, from whichever engine call they joined."""
        if self._closing:
            raise BatcherClosed("the server is shutting down")
        if not samples:
            return []
        answer: asyncio.Future[list[Score]] = asyncio.get_running_loop().create_future()
        self._pending.append(_Request(samples, step, answer))
        self.queued += len(samples)
        self._arrived.set()
        if self.queued >= self.max_batch:
            self._full.set()
        return await answer

    async def _dispatch(self) -> None:
        while True:
            await self._arrived.wait()
            if not self._pending:
                if self._closing:
                    return
                self._arrived.clear()
                continue
            if self.merges and self.queued < self.max_batch and self.wait_s > 0 and not self._closing:
                with contextlib.suppress(asyncio.TimeoutError):  # not the builtin before Python 3.11
                    await asyncio.wait_for(self._full.wait(), self.wait_s)
            await self._slots.acquire()
            batch = self._take()
            call = asyncio.create_task(self._run(batch))
            self._calls.add(call)
            call.add_done_callback(self._calls.discard)

    def _take(self) -> list[_Request]:
        """Whole requests from the front of the queue, at the first one's step, while they fit."""
        first = self._pending.popleft()
        batch, size, skipped = [first], len(first.samples), deque[_Request]()
        while self.merges and self._pending and size < self.max_batch:
            request = self._pending.popleft()
            if request.step != first.step:
                skipped.append(request)
            elif size + len(request.samples) <= self.max_batch:
                batch.append(request)
                size += len(request.samples)
            else:
                skipped.append(request)
                break
        self._pending.extendleft(reversed(skipped))
        self.queued -= size
        if self.queued < self.max_batch:
            self._full.clear()
        if not self._pending and not self._closing:
            self._arrived.clear()
        return batch

    async def _run(self, batch: list[_Request]) -> None:
        self.in_flight += 1
        started = time.perf_counter()
        try:
            samples = [sample for request in batch for sample in request.samples]
            call = ascore(self.reward, samples, timeout=self.timeout, step=batch[0].step, cache=self.cache)
            scores = await self.engine.run(call)
        except Exception as exc:  # the engine itself failed: every request of the batch learns it
            for request in batch:
                if not request.answer.done():
                    request.answer.set_exception(exc)
            return
        finally:
            self.in_flight -= 1
            self._slots.release()
        if self.on_batch is not None:
            self.on_batch(self.reward.name, scores, time.perf_counter() - started)
        start = 0
        for request in batch:
            end = start + len(request.samples)
            if not request.answer.done():  # a cancelled waiter (its client went away) needs no answer
                request.answer.set_result(scores[start:end])
            start = end

    async def drain(self) -> None:
        """Stop taking requests, finish every one already taken, then stop."""
        self._closing = True
        self._arrived.set()
        if self._dispatcher is not None:
            await self._dispatcher
        while self._calls:
            await asyncio.gather(*list(self._calls), return_exceptions=True)
