"""Limiters measured by the clock: concurrency, requests/min, tokens/min, backoff."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from rewardforge.verifiers.judge.limits import (
    AsyncGate,
    EndpointLimits,
    RateBucket,
    RetryPolicy,
    retryable_status,
)


def test_gate_caps_concurrency_and_serves_everyone() -> None:
    gate = AsyncGate(2)
    active = peak = 0

    async def job() -> None:
        nonlocal active, peak
        await gate.acquire()
        try:
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0.02)
            active -= 1
        finally:
            gate.release()

    async def main() -> None:
        await asyncio.gather(*(job() for _ in range(10)))

    asyncio.run(main())
    assert peak == 2
    assert gate.in_use == 0


def test_gate_is_shared_across_event_loops_in_threads() -> None:
    gate = AsyncGate(1)
    lock = threading.Lock()
    active = peak = 0

    async def job() -> None:
        nonlocal active, peak
        await gate.acquire()
        try:
            with lock:
                active += 1
                peak = max(peak, active)
            await asyncio.sleep(0.03)
            with lock:
                active -= 1
        finally:
            gate.release()

    threads = [threading.Thread(target=lambda: asyncio.run(job())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert peak == 1
    assert gate.in_use == 0


def test_cancelled_waiter_does_not_leak_a_slot() -> None:
    gate = AsyncGate(1)

    async def main() -> None:
        await gate.acquire()
        waiter = asyncio.create_task(gate.acquire())
        await asyncio.sleep(0.01)
        waiter.cancel()
        gate.release()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await asyncio.sleep(0.01)
        await asyncio.wait_for(gate.acquire(), 1.0)  # the slot is free again
        gate.release()

    asyncio.run(main())
    assert gate.in_use == 0


def test_requests_per_minute_spaces_requests_evenly() -> None:
    bucket = RateBucket(per_minute=1200, burst=1)  # one request per 50 ms

    start = time.monotonic()

    async def main() -> list[float]:
        times: list[float] = []

        async def one() -> None:
            await bucket.take(1)
            times.append(time.monotonic())

        await asyncio.gather(*(one() for _ in range(6)))
        return sorted(times)

    times = asyncio.run(main())
    # Nobody is served early: the k-th request waits at least k intervals (a late wake-up is allowed).
    assert all(t - start >= k * 0.05 * 0.95 for k, t in enumerate(times))


def test_tokens_per_minute_blocks_once_the_burst_is_spent() -> None:
    limits = EndpointLimits(max_concurrency=100, requests_per_minute=None, tokens_per_minute=60_000)  # 1000/s

    async def main() -> float:
        start = time.monotonic()

        async def one() -> None:
            async with limits.hold():
                await limits.admit(300)

        await asyncio.gather(*(one() for _ in range(6)))  # 1800 tokens against a burst of 1000
        return time.monotonic() - start

    assert asyncio.run(main()) >= 0.8 * 0.9


def test_settling_refunds_unused_tokens() -> None:
    bucket = RateBucket(per_minute=60, burst=10)  # 1 token/s: a wait would be obvious

    async def main() -> float:
        await bucket.take(10)
        bucket.adjust(-10)  # the request really cost nothing
        start = time.monotonic()
        await bucket.take(5)
        return time.monotonic() - start

    assert asyncio.run(main()) < 0.5


def test_backoff_grows_exponentially_with_full_jitter_and_honours_retry_after() -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=1.0)
    for attempt, cap in [(0, 0.1), (1, 0.2), (3, 0.8), (6, 1.0)]:
        delays = [policy.delay(attempt) for _ in range(200)]
        assert all(0.0 <= d <= cap for d in delays)
        assert max(delays) > cap * 0.5, "jitter should spread over the whole window"
        assert len(set(delays)) > 100
    assert policy.delay(0, retry_after=0.7) == 0.7
    assert policy.delay(0, retry_after=60) == 60, "Retry-After is obeyed, not capped"


def test_retryable_statuses() -> None:
    assert all(retryable_status(s) for s in (408, 429, 500, 502, 503, 504))
    assert not any(retryable_status(s) for s in (400, 401, 403, 404, 422))
