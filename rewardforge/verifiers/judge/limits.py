"""Client-side limits for judge endpoints: concurrency, requests/min, tokens/min, and backoff.

The limiters are shared by every scoring call to the same endpoint in this process, including
calls made from different threads with their own event loops (the engine, the HTTP server and
`Reward.score` each may run one). So they keep their state under a `threading.Lock` and wake
waiters through their own loop, instead of using loop-bound `asyncio` primitives.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass


class AsyncGate:
    """A counting semaphore usable from any event loop in any thread, first come first served."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"concurrency limit must be at least 1, got {limit}")
        self.limit = limit
        self._used = 0
        self._lock = threading.Lock()
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()

    @property
    def in_use(self) -> int:
        return self._used

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._used < self.limit and not self._waiters:
                self._used += 1
                return
            waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] = (loop, loop.create_future())
            self._waiters.append(waiter)
        try:
            await waiter[1]
        except asyncio.CancelledError:
            with self._lock:
                queued = waiter in self._waiters
                if queued:
                    self._waiters.remove(waiter)
            if not queued and waiter[1].done() and not waiter[1].cancelled():
                self.release()  # the slot was handed over just before the cancellation: pass it on
            raise  # otherwise `_hand_over` sees the cancelled future and passes the slot on

    def release(self) -> None:
        with self._lock:
            while self._waiters:
                loop, future = self._waiters.popleft()
                if loop.is_closed():
                    continue
                loop.call_soon_threadsafe(self._hand_over, future)
                return  # the slot moves to the waiter; `_used` is unchanged
            self._used -= 1

    def _hand_over(self, future: asyncio.Future[None]) -> None:
        if future.done():  # cancelled while the hand-over was in flight
            self.release()
        else:
            future.set_result(None)


class RateBucket:
    """A token bucket refilled at `per_minute / 60` per second, holding at most `burst`.

    `take(n)` reserves n at once (the level may go negative) and sleeps until the reservation is
    covered, so callers are served in arrival order and a large request waits instead of starving.
    """

    def __init__(self, per_minute: float, burst: float) -> None:
        if per_minute <= 0:
            raise ValueError(f"rate must be positive, got {per_minute}/min")
        self.rate = per_minute / 60.0
        self.burst = max(burst, 1.0)
        self._level = self.burst
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        self._level = min(self.burst, self._level + (now - self._updated) * self.rate)
        self._updated = now

    async def take(self, amount: float) -> None:
        with self._lock:
            self._refill(time.monotonic())
            self._level -= amount
            wait = -self._level / self.rate if self._level < 0 else 0.0
        if wait > 0:
            await asyncio.sleep(wait)

    def adjust(self, amount: float) -> None:
        """Charge (positive) or refund (negative) the difference once the real cost is known."""
        with self._lock:
            self._refill(time.monotonic())
            self._level = min(self.burst, self._level - amount)


class EndpointLimits:
    """The limits one endpoint lives under: concurrent requests, requests/min and tokens/min."""

    def __init__(
        self, max_concurrency: int, requests_per_minute: float | None, tokens_per_minute: float | None
    ) -> None:
        self.gate = AsyncGate(max_concurrency)
        # One request of burst: requests are spaced evenly, which is what per-minute quotas and
        # small self-hosted servers both tolerate best.
        self.requests = RateBucket(requests_per_minute, 1.0) if requests_per_minute else None
        self.tokens = RateBucket(tokens_per_minute, tokens_per_minute / 60.0) if tokens_per_minute else None

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """Hold one concurrency slot for a whole request, retries included, so retries cannot storm."""
        await self.gate.acquire()
        try:
            yield
        finally:
            self.gate.release()

    async def admit(self, estimated_tokens: int) -> None:
        """Wait for one request's allowance of requests/min and tokens/min (each attempt pays)."""
        if self.requests is not None:
            await self.requests.take(1)
        if self.tokens is not None:
            await self.tokens.take(estimated_tokens)

    def settle_tokens(self, estimated: int, actual: int | None) -> None:
        if self.tokens is not None and actual is not None:
            self.tokens.adjust(actual - estimated)


_shared: dict[tuple[object, ...], EndpointLimits] = {}
_shared_lock = threading.Lock()


def shared_limits(
    endpoint: str, max_concurrency: int, requests_per_minute: float | None, tokens_per_minute: float | None
) -> EndpointLimits:
    """The process-wide limits for an endpoint with these settings, created on first use."""
    key = (endpoint, max_concurrency, requests_per_minute, tokens_per_minute)
    with _shared_lock:
        limits = _shared.get(key)
        if limits is None:
            limits = _shared[key] = EndpointLimits(max_concurrency, requests_per_minute, tokens_per_minute)
        return limits


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded by a per-request deadline."""

    max_retries: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    attempt_timeout: float = 60.0
    deadline: float = 300.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt` (0-based).

        A server's Retry-After is obeyed as given, not capped: retrying sooner only earns another 429.
        The caller's deadline still bounds it.
        """
        if retry_after is not None and retry_after >= 0:
            return retry_after
        return random.uniform(0.0, min(self.max_delay, self.base_delay * (2.0**attempt)))


def retryable_status(status: int) -> bool:
    """HTTP statuses worth retrying: timeouts, conflicts, rate limits and server errors."""
    return status in (408, 409, 425, 429) or status >= 500
