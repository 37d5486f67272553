"""The batcher alone, in-process: what it merges, what it never merges, and how it drains."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence

import pytest

from rewardforge.core.types import BaseReward, RewardContext, Sample, Score
from rewardforge.integrations.server_batching import Batcher, BatcherClosed, EngineThread


class Recorder(BaseReward):
    """Scores len(completion) and records each engine call's (step, completions)."""

    name = "recorder"

    def __init__(self, batched: bool = False, delay_s: float = 0.0) -> None:
        self.batched = batched
        self.delay_s = delay_s
        self.calls: list[tuple[int, list[str]]] = []
        self._lock = threading.Lock()

    def score(self, samples: Sequence[Sample], context: RewardContext | None = None) -> list[Score]:
        context = context or RewardContext()
        with self._lock:
            self.calls.append((context.step, [s.completion_text for s in samples]))
        if self.delay_s:
            threading.Event().wait(self.delay_s)
        return [Score.of(len(s.completion_text)) for s in samples]


@pytest.fixture
def engine() -> Iterator[EngineThread]:
    thread = EngineThread()
    thread.start()
    yield thread
    thread.stop()


def samples(*texts: str) -> list[Sample]:
    return [Sample(completion=t) for t in texts]


def test_concurrent_requests_share_calls_and_each_gets_its_own_answers(engine: EngineThread) -> None:
    reward = Recorder(delay_s=0.05)

    async def main() -> list[list[Score]]:
        batcher = Batcher(reward, engine, max_batch=64, wait_s=0.05, max_in_flight=1)
        batcher.start()
        answers = await asyncio.gather(*(batcher.score(samples("x" * n)) for n in range(1, 31)))
        await batcher.drain()
        return answers

    answers = asyncio.run(main())
    assert [a[0].value for a in answers] == [float(n) for n in range(1, 31)]
    assert sum(len(texts) for _, texts in reward.calls) == 30
    assert len(reward.calls) <= 3, f"{len(reward.calls)} engine calls for 30 concurrent requests"


def test_max_batch_bounds_a_call_and_requests_are_never_split(engine: EngineThread) -> None:
    reward = Recorder()

    async def main() -> list[list[Score]]:
        batcher = Batcher(reward, engine, max_batch=5, wait_s=0.05, max_in_flight=1)
        batcher.start()
        sizes = [2, 2, 2, 7, 1, 3]
        answers = await asyncio.gather(*(batcher.score(samples(*[f"r{r}s{j}" for j in range(k)]))
                                         for r, k in enumerate(sizes)))
        await batcher.drain()
        return answers

    answers = asyncio.run(main())
    assert [len(a) for a in answers] == [2, 2, 2, 7, 1, 3]
    sizes = [len(texts) for _, texts in reward.calls]
    assert all(size <= 5 for size in sizes if size != 7) and 7 in sizes, sizes


def test_requests_at_different_steps_never_share_a_call(engine: EngineThread) -> None:
    reward = Recorder()

    async def main() -> None:
        batcher = Batcher(reward, engine, max_batch=64, wait_s=0.05)
        batcher.start()
        await asyncio.gather(*(batcher.score(samples(f"s{step}-{i}"), step) for i in range(4) for step in (0, 7)))
        await batcher.drain()

    asyncio.run(main())
    for step, texts in reward.calls:
        assert all(text.startswith(f"s{step}-") for text in texts), reward.calls
    assert {step for step, _ in reward.calls} == {0, 7}


def test_a_batch_relative_reward_sees_one_request_per_call(engine: EngineThread) -> None:
    reward = Recorder(batched=True)

    async def main() -> None:
        batcher = Batcher(reward, engine, max_batch=64, wait_s=0.05)
        assert not batcher.merges
        batcher.start()
        await asyncio.gather(*(batcher.score(samples(f"r{i}a", f"r{i}b")) for i in range(6)))
        await batcher.drain()

    asyncio.run(main())
    assert sorted(texts for _, texts in reward.calls) == [[f"r{i}a", f"r{i}b"] for i in range(6)]


def test_drain_finishes_what_was_taken_and_refuses_the_rest(engine: EngineThread) -> None:
    reward = Recorder(delay_s=0.2)

    async def main() -> tuple[list[list[Score]], BaseException | None]:
        batcher = Batcher(reward, engine, max_batch=2, wait_s=0.0, max_in_flight=1)
        batcher.start()
        pending = [asyncio.ensure_future(batcher.score(samples(str(i)))) for i in range(5)]
        await asyncio.sleep(0.05)
        drained = asyncio.ensure_future(batcher.drain())
        await asyncio.sleep(0)  # let the drain begin
        refused = None
        try:
            await batcher.score(samples("late"))
        except BatcherClosed as exc:
            refused = exc
        answers = await asyncio.gather(*pending)
        await drained
        assert batcher.queued == 0 and batcher.in_flight == 0
        return answers, refused

    answers, refused = asyncio.run(main())
    assert [a[0].value for a in answers] == [1.0] * 5
    assert isinstance(refused, BatcherClosed)
