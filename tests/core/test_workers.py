"""The worker pool on its own: recycling, reaping, cancelling, sizing, and dying with the caller."""

from __future__ import annotations

import contextvars
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from rf_fault_rewards import faulty, forks_without_waiting, hoards, leaky, whoami
from rf_test_support import RF, tagged_processes, wait_until_gone, zombie_children

import rewardforge as rf
from rewardforge.core.workers import (
    CancelToken,
    RecyclePolicy,
    WorkerCancelled,
    WorkerPool,
    cancel_scope,
    default_size,
)

NO_RECYCLING = RecyclePolicy(max_calls=None, max_new_files=None, max_new_children=None, max_rss_growth_mb=None)


def test_a_worker_that_leaks_files_is_recycled_before_it_runs_out() -> None:
    # 4 descriptors a call under a 64-file limit: without recycling, calls fail with EMFILE from the 15th.
    samples = [{"completion": str(i)} for i in range(40)]
    with WorkerPool(size=1) as pool:
        verdicts = rf.score(leaky, samples, pool=pool)
        assert [v.status for v in verdicts] == ["ok"] * 40, {v.reason for v in verdicts if not v.ok}
        assert pool.stats.recycled["open_files"] >= 2


def test_without_recycling_the_leak_would_have_failed() -> None:
    """The control for the test above: the same leak, recycling off, runs out of descriptors."""
    samples = [{"completion": str(i)} for i in range(40)]
    with WorkerPool(size=1, recycle=NO_RECYCLING) as pool:
        verdicts = rf.score(leaky, samples, pool=pool)
    assert any("Too many open files" in (v.reason or "") for v in verdicts)


def test_children_a_reward_forks_and_never_waits_for_are_reaped() -> None:
    with WorkerPool(size=1) as pool:
        verdicts = rf.score(forks_without_waiting, [{"completion": str(i)} for i in range(100)], pool=pool)
        workers = {v.info["worker"] for v in verdicts}
        assert [v.status for v in verdicts] == ["ok"] * 100
        assert sum(zombie_children(pid) for pid in workers) <= 1  # at most the last call's, until the next


def test_workers_are_recycled_after_max_calls() -> None:
    policy = RecyclePolicy(max_calls=3, max_new_files=None, max_new_children=None, max_rss_growth_mb=None)
    with WorkerPool(size=1, recycle=policy) as pool:
        pids = [rf.score(whoami, [{"completion": str(i)}], pool=pool)[0].info["pid"] for i in range(7)]
    assert pids[0] == pids[1] == pids[2] != pids[3]
    assert len(set(pids)) == 3 and pool.stats.recycled["calls"] == 2


def test_workers_are_recycled_when_their_memory_grows() -> None:
    policy = RecyclePolicy(max_calls=None, max_new_files=None, max_new_children=None, max_rss_growth_mb=100)
    with WorkerPool(size=1, recycle=policy) as pool:
        values = [rf.score(hoards.with_params(mb=40), [{"completion": str(i)}], pool=pool)[0].value
                  for i in range(12)]
    # A worker measures itself after its first call (the baseline), then every 8 calls: the one that
    # has grown by 280 MB by then is replaced, and the hoard starts over in a fresh worker.
    assert pool.stats.recycled["memory"] >= 1
    assert max(v or 0 for v in values) <= 8 and values[-1] is not None and values[-1] < 12


def test_workers_are_recycled_when_they_leave_processes_running(monkeypatch: pytest.MonkeyPatch) -> None:
    tag = uuid.uuid4().hex
    monkeypatch.setenv("RF_FAULT_TAG", tag)
    policy = RecyclePolicy(max_calls=None, max_new_files=None, max_new_children=2, max_rss_growth_mb=None)
    with WorkerPool(size=1, recycle=policy) as pool:
        for _ in range(10):
            assert rf.score(faulty, [{"completion": "setsid_child"}], pool=pool)[0].value == 1.0
        assert pool.stats.recycled["children"] >= 1
        assert len(tagged_processes(tag)) < 2 + 10  # keeper, worker, and only the daemons since recycling
    assert tagged_processes(tag) == []


def test_a_cancelled_call_kills_its_worker_at_once() -> None:
    token = CancelToken()
    errors: list[BaseException] = []
    with WorkerPool(size=1) as pool:
        pool.warm()
        [pid] = pool.worker_pids()
        thread = threading.Thread(target=lambda: _capture(errors, pool.call, time.sleep, 60, cancel=token))
        thread.start()
        time.sleep(0.3)
        start = time.monotonic()
        token.cancel()
        thread.join(10)
        elapsed = time.monotonic() - start
    assert isinstance(errors[0], WorkerCancelled) and elapsed < 3.0
    assert pool.stats.cancelled == 1 and not Path(f"/proc/{pid}").exists()


def test_a_cancel_scope_reaches_calls_made_in_its_context() -> None:
    errors: list[BaseException] = []
    with WorkerPool(size=2) as pool, cancel_scope() as token:
        # plain threads do not inherit a context; asyncio.to_thread (an inline reward's thread) does
        threads = [threading.Thread(target=_in_context(lambda: _capture(errors, pool.call, time.sleep, 60)))
                   for _ in range(3)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        token.cancel()
        for thread in threads:
            thread.join(10)
    assert len(errors) == 3 and all(isinstance(e, WorkerCancelled) for e in errors)


def _in_context(target: Callable[[], None]) -> Callable[[], None]:
    context = contextvars.copy_context()
    return lambda: context.run(target)


def _capture(errors: list[BaseException], fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    try:
        fn(*args, **kwargs)
    except BaseException as exc:
        errors.append(exc)


def test_exceptions_that_would_end_the_caller_come_back_as_runtime_errors() -> None:
    with WorkerPool(size=1) as pool:
        with pytest.raises(RuntimeError, match="SystemExit: 3"):
            pool.call(sys.exit, 3)
        assert pool.call(max, 1, 2) == 2


def test_rf_workers_sets_the_pool_size_and_the_default_follows_cpu_affinity() -> None:
    probe = "from rewardforge.core.workers import shared_pool; print(shared_pool().size)"
    sized = subprocess.run([sys.executable, "-c", probe], env={**os.environ, "RF_WORKERS": "3"},
                           capture_output=True, text=True, check=True)
    assert sized.stdout.strip() == "3"
    pinned = subprocess.run([sys.executable, "-c", "import os; os.sched_setaffinity(0, {0}); " + probe],
                            env={k: v for k, v in os.environ.items() if k != "RF_WORKERS"},
                            capture_output=True, text=True, check=True)
    assert pinned.stdout.strip() == "1"
    bad = subprocess.run([sys.executable, "-c", probe], env={**os.environ, "RF_WORKERS": "many"},
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "RF_WORKERS must be a whole number, got 'many'" in bad.stderr
    assert default_size() >= 1


def test_the_cli_workers_flag_sizes_the_pool(tmp_path: Path, cli_env: dict[str, str]) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(f'{{"completion": "{i}"}}\n' for i in range(8)))
    target = tmp_path / "out.jsonl"
    result = subprocess.run([*RF, "score", "-r", "rf_fault_rewards:whoami", "-i", str(source), "-o", str(target),
                             "--workers", "1"], env=cli_env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    pids = {orjson.loads(line)["info"]["pid"] for line in target.read_bytes().splitlines()}
    assert len(pids) == 1


FORKING_CALLER = """
import os, sys, time
from rewardforge.core.workers import WorkerPool
pool = WorkerPool(size=1)
pool.warm()
child = os.fork()
if child == 0:  # a forked child (a dataloader, a multiprocessing worker) that outlives the caller
    time.sleep(60)
    os._exit(0)
print(child, flush=True)
pool.call(time.sleep, 600)
"""


def test_workers_die_with_a_killed_caller_even_when_it_forked_children(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = uuid.uuid4().hex
    monkeypatch.setenv("RF_FAULT_TAG", tag)
    script = tmp_path / "caller.py"
    script.write_text(textwrap.dedent(FORKING_CALLER))
    caller = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    forked = int(caller.stdout.readline()) if caller.stdout else 0
    try:
        deadline = time.monotonic() + 30
        while len(tagged_processes(tag)) < 4 and time.monotonic() < deadline:  # caller, child, keeper, worker
            time.sleep(0.05)
        caller.send_signal(signal.SIGKILL)
        caller.wait(10)
        left = [pid for pid in wait_until_gone_except(tag, forked) if pid != forked]
        assert left == []  # the worker died although the forked child lives on
        assert Path(f"/proc/{forked}").exists()
    finally:
        os.kill(forked, signal.SIGKILL)
    assert wait_until_gone(tag) == []


def wait_until_gone_except(tag: str, keep: int, within: float = 5.0) -> list[int]:
    deadline = time.monotonic() + within
    while (left := [p for p in tagged_processes(tag) if p != keep]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left
