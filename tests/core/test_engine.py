from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from rf_test_rewards import boom, counting, crashy, sleepy
from rf_test_support import count_calls, worst_loop_stall

import rewardforge as rf
from rewardforge.core.engine import DEFAULT_TIMEOUT, _resolve_now
from rewardforge.core.workers import WorkerCrashed, WorkerPool, WorkerTimeout


def test_results_keep_input_order_and_duplicates_are_scored_once(call_log: Path) -> None:
    tracked = counting.with_params(log=str(call_log))
    samples = [{"completion": c, "reference": "b"} for c in ["a", "b", "a", "c", "b", "a"]]
    verdicts = rf.score(tracked, samples)
    assert [v.value for v in verdicts] == [0.0, 1.0, 0.0, 0.0, 1.0, 0.0]
    assert count_calls(call_log) == 3
    verdicts[0].info["mutated"] = True
    assert "mutated" not in verdicts[2].info  # duplicates are independent copies


def test_dedup_respects_the_fields_a_reward_reads(call_log: Path) -> None:
    tracked = counting.with_params(log=str(call_log))
    samples = [{"completion": "a", "reference": "a", "prompt": p} for p in ("p1", "p2")]
    rf.score(tracked, samples)
    assert count_calls(call_log) == 1  # prompt is not read by `counting`
    rf.score(tracked, [{"completion": "a", "reference": r} for r in ("a", "b")])
    assert count_calls(call_log) == 3  # reference is


def test_dedup_can_be_turned_off(call_log: Path) -> None:
    tracked = counting.with_params(log=str(call_log))
    rf.score(tracked, [{"completion": "a"}] * 3, dedup=False)
    assert count_calls(call_log) == 3


def test_disk_cache_survives_across_calls_and_skips_errors(tmp_path: Path, call_log: Path) -> None:
    tracked = counting.with_params(log=str(call_log))
    samples = [{"completion": "a", "reference": "a"}, {"completion": "b", "reference": "a"}]
    cache_path = tmp_path / "verdicts.sqlite"
    first = rf.score(tracked, samples, cache=rf.VerdictCache(cache_path))
    second_cache = rf.VerdictCache(cache_path)
    second = rf.score(tracked, samples, cache=second_cache)
    assert [v.value for v in first] == [v.value for v in second] == [1.0, 0.0]
    assert count_calls(call_log) == 2 and second_cache.hits == 2
    changed = counting.with_params(log=str(call_log) + ".other")
    rf.score(changed, samples, cache=second_cache)
    assert second_cache.hits == 2  # different params, different verdicts

    errors = rf.VerdictCache()
    rf.score(boom, [{"completion": "x"}], cache=errors)
    assert len(errors) == 0


def test_hung_reward_is_killed_and_the_rest_continue() -> None:
    samples = [{"completion": "hang"}, {"completion": "fine"}, {"completion": "hang"}, {"completion": "ok"}]
    start = time.perf_counter()
    verdicts = rf.score(sleepy, samples, timeout=1.0)
    elapsed = time.perf_counter() - start
    assert [v.status for v in verdicts] == ["error", "ok", "error", "ok"]
    assert verdicts[0].reason is not None and verdicts[0].reason.startswith("timeout")
    assert elapsed < 4.0
    # the pool replaced the killed workers and still works
    assert rf.score(sleepy, [{"completion": "again"}], timeout=1.0)[0].value == 1.0


def test_crashed_worker_is_an_error_not_a_zero() -> None:
    verdicts = rf.score(crashy, [{"completion": "crash"}, {"completion": "fine"}], timeout=5.0)
    assert verdicts[0].status == "error" and "crashed its worker" in (verdicts[0].reason or "")
    assert verdicts[1].value == 0.5


def test_exception_in_reward_is_error_with_message_also_in_a_worker() -> None:
    for timeout in (None, 5.0):
        [verdict] = rf.score(boom, [{"completion": "x"}], timeout=timeout)
        assert verdict.status == "error" and "ValueError: cannot judge 'x'" in (verdict.reason or "")


def test_process_isolated_rewards_run_in_parallel_workers() -> None:
    with WorkerPool(size=2) as pool:
        pool.warm()
        start = time.perf_counter()
        verdicts = rf.score(sleepy.with_params(seconds=0.6), [{"completion": "a"}, {"completion": "b"}],
                            timeout=5.0, pool=pool)
        elapsed = time.perf_counter() - start
    assert [v.value for v in verdicts] == [1.0, 1.0]
    assert elapsed < 1.1  # two 0.6 s samples on two workers


def test_a_reward_that_cannot_be_pickled_gets_an_error_that_names_the_fix() -> None:
    lock = threading.Lock()

    @rf.reward
    def guarded(completion: str) -> float:
        with lock:
            return 1.0

    [verdict] = rf.score(guarded, [{"completion": "x"}], timeout=2.0)
    assert verdict.status == "error"
    assert "guarded cannot be sent to a worker process" in (verdict.reason or "")
    assert "isolation='inline'" in (verdict.reason or "")


def test_works_from_a_thread() -> None:
    results: list[float | None] = []
    thread = threading.Thread(target=lambda: results.extend(
        v.value for v in rf.score(sleepy, [{"completion": "x"}], timeout=5.0)))
    thread.start()
    thread.join(30)
    assert results == [1.0]


def test_works_inside_a_running_event_loop() -> None:
    async def main() -> tuple[list[rf.Score], list[rf.Score]]:
        sync_inside_loop = rf.score(sleepy, [{"completion": "x"}], timeout=5.0)
        native = await rf.ascore("exact_match", [{"completion": "a", "reference": "a"}])
        return sync_inside_loop, native

    sync_inside_loop, native = asyncio.run(main())
    assert sync_inside_loop[0].value == 1.0 and native[0].value == 1.0


def _score_in_child(completion: str) -> str:
    [verdict] = rf.score(sleepy, [{"completion": completion}], timeout=1.0)
    return verdict.status


def test_works_inside_a_process_pool_and_a_daemonic_multiprocessing_pool() -> None:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as executor:
        assert list(executor.map(_score_in_child, ["x", "hang"])) == ["ok", "error"]
    with context.Pool(1) as daemonic:
        assert daemonic.map(_score_in_child, ["x"]) == ["ok"]


def test_worker_pool_direct_api() -> None:
    with WorkerPool(size=1) as pool:
        assert pool.call(sum, [1, 2, 3]) == 6
        with pytest.raises(ValueError, match="invalid literal"):
            pool.call(int, "nope")
        with pytest.raises(WorkerTimeout):
            pool.call(time.sleep, 30, timeout=0.3)
        with pytest.raises(WorkerCrashed):
            pool.call(os._exit, 1, timeout=5)
        assert pool.call(max, 1, 2) == 2


def test_bad_timeout_is_rejected() -> None:
    with pytest.raises(ValueError, match="positive"):
        rf.score("exact_match", [{"completion": "a"}], timeout=0)


def test_a_reward_defined_inside_a_function_runs_isolated_in_a_worker() -> None:
    @rf.reward
    def where(completion: str) -> rf.Score:
        return rf.Score.of(1.0, info={"pid": os.getpid()})

    for timeout in (None, 5.0):
        [verdict] = rf.score(where, [{"completion": "x"}], timeout=timeout)
        assert verdict.value == 1.0 and verdict.info["pid"] != os.getpid()


def test_process_rewards_use_workers_even_without_a_timeout() -> None:
    with WorkerPool(size=2) as pool:
        pool.warm()
        start = time.perf_counter()
        verdicts = rf.score(sleepy.with_params(seconds=0.6), [{"completion": "a"}, {"completion": "b"}], pool=pool)
        elapsed = time.perf_counter() - start
    assert [v.value for v in verdicts] == [1.0, 1.0]
    assert elapsed < 1.1


def test_import_time_of_a_reward_module_does_not_count_against_the_timeout() -> None:
    with WorkerPool(size=1) as pool:
        [verdict] = rf.score("rf_slow_import:quick_after_import", [{"completion": "x"}], timeout=1.0, pool=pool)
    assert verdict.value == 1.0, verdict.reason


def test_a_cache_path_opens_one_shared_cache(tmp_path: Path, call_log: Path) -> None:
    tracked = counting.with_params(log=str(call_log))
    path = tmp_path / "verdicts.sqlite"
    rf.score(tracked, [{"completion": "a", "reference": "a"}], cache=path)
    rf.score(tracked, [{"completion": "a", "reference": "a"}], cache=str(path))
    assert count_calls(call_log) == 1


def test_an_exception_keeps_the_last_frames_of_its_traceback_in_info() -> None:
    from rf_fault_rewards import faulty

    @rf.reward(isolation="inline")
    def inline_lookup(completion: str) -> float:
        return float({}[completion])

    [isolated] = rf.score(faulty, [{"completion": "raise"}])
    [inline] = rf.score(inline_lookup, [{"completion": "missing_key"}])
    for verdict, function in ((isolated, "_lookup"), (inline, "inline_lookup")):
        assert verdict.reason == "KeyError: 'missing_key'"
        assert verdict.info["exception"] == "KeyError"
        last = verdict.info["traceback"][-1]
        assert last["function"] == function and isinstance(last["line"], int)
    assert isolated.info["traceback"][-1]["file"].endswith("rf_fault_rewards.py")
    assert isolated.info["traceback"][-2]["function"] == "faulty"


def test_huge_strings_in_info_are_cut_for_inline_rewards_too() -> None:
    @rf.reward(isolation="inline")
    def echo(completion: str) -> rf.Score:
        return rf.Score.of(1.0, info={"answer": completion, "candidates": [completion[:3]] * 3000})

    [verdict] = rf.score(echo, [{"completion": "a" * 5_000_000}])
    assert verdict.value == 1.0
    assert len(verdict.info["answer"]) < 20_000 and "chars cut" in verdict.info["answer"]
    assert len(verdict.info["candidates"]) == 1001 and verdict.info["candidates"][-1] == "… 2000 more items cut"
    [small] = rf.score(echo, [{"completion": "short"}])
    assert small.info["answer"] == "short"


def test_process_rewards_get_a_default_timeout_that_can_be_changed_or_turned_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RF_DEFAULT_TIMEOUT", "1")
    start = time.perf_counter()
    [hung] = rf.score(sleepy, [{"completion": "hang"}])  # no timeout given: the default applies
    assert hung.status == "error" and (hung.reason or "").startswith("timeout: sleepy ran past 1.0s")
    assert time.perf_counter() - start < 10
    [slow] = rf.score(sleepy.with_params(seconds=1.5), [{"completion": "x"}], timeout=math.inf)
    assert slow.value == 1.0
    monkeypatch.setenv("RF_DEFAULT_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="RF_DEFAULT_TIMEOUT must be a number of seconds or 'inf'"):
        rf.score(sleepy, [{"completion": "x"}])
    assert DEFAULT_TIMEOUT == 60.0


def test_samples_with_a_lone_surrogate_are_scored_deduped_and_cached() -> None:
    calls: list[str] = []

    @rf.reward(isolation="inline")
    def same(completion: str, reference: str | None) -> float:
        calls.append(completion)
        return float(completion == reference)

    broken = "half a pair \ud83d"
    samples = [{"completion": broken, "reference": broken}] * 3 + [{"completion": "a"}]
    cache = rf.VerdictCache()
    verdicts = rf.score(same, samples, cache=cache)
    assert [v.value for v in verdicts] == [1.0, 1.0, 1.0, 0.0]
    assert len(calls) == 2
    assert [v.value for v in rf.score(same, samples, cache=cache)] == [1.0, 1.0, 1.0, 0.0]
    assert len(calls) == 2 and cache.hits == 2


SLOW_STACK_MODULE = """
import time
import rewardforge as rf

time.sleep(1.5)  # as slow to import as a module pulling in sympy or transformers


@rf.reward(isolation="inline")
def fine(completion: str) -> float:
    return 1.0
"""


def test_ascore_never_blocks_the_event_loop_and_parses_a_stack_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = f"slow_stack_{os.getpid()}_{time.monotonic_ns()}"
    (tmp_path / f"{module}.py").write_text(SLOW_STACK_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    stack = tmp_path / "stack.yaml"
    stack.write_text(f"type: weighted_sum\ncomponents:\n  - reward: {module}:fine\n")

    worst_gap, verdicts = asyncio.run(worst_loop_stall(rf.ascore(stack, [{"completion": "x"}])))
    assert verdicts[0].value == 1.0
    assert worst_gap < 0.75  # the import sleeps 1.5 s, on a helper thread
    assert _resolve_now(stack, None) is _resolve_now(str(stack), None)
    stack.write_text(stack.read_text() + "name: renamed\n")
    assert _resolve_now(stack, None).name == "renamed"
