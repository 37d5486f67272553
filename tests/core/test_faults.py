"""Fault injection: every way a reward can fail, run against the engine from the API and from the CLI.

Each fault sits between good neighbours, and each run checks three things:
- the neighbours' verdicts are right (one bad sample costs only itself);
- the next batch is fine;
- no process is left behind: every process the run's workers start (keepers, workers, the rewards'
  children, `setsid` daemons) inherits RF_FAULT_TAG, and they are counted before, during (so the count
  is known to see them) and after.

Interruptions of the caller (Ctrl-C, SIGTERM, SIGKILL) run in a child process, for the API and the CLI.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from rf_fault_rewards import faulty
from rf_test_support import RF, tagged_processes, wait_until_gone

import rewardforge as rf
from rewardforge.core.workers import WorkerPool


@dataclass(frozen=True)
class Fault:
    name: str
    status: str  # of the faulty sample
    reason: str | None = None  # a part of its reason
    sample: dict[str, Any] = field(default_factory=dict)  # the faulty sample; default: completion = name
    timeout: float | None = None
    within: float | None = None  # seconds the whole batch may take, where the failure mode is a long wait
    value: float | None = None
    cli: bool = True  # expressible as a JSONL row

    def row(self) -> dict[str, Any]:
        return self.sample or {"completion": self.name}


FAULTS = [
    Fault("raise", "error", "KeyError: 'missing_key'"),
    Fault("sys_exit", "error", "SystemExit: 3"),
    Fault("keyboard_interrupt", "error", "KeyboardInterrupt"),
    Fault("os_exit", "error", "faulty crashed its worker: worker died (exit code 9)"),
    Fault("segfault", "error", "faulty crashed its worker: worker died (killed by SIGSEGV)"),
    Fault("hang", "error", "timeout: faulty ran past", timeout=1.0, within=15.0),
    # the child holds the worker's reply pipe: the crash must be seen at once, not after the timeout
    Fault("crash_leaving_child", "error", "faulty crashed its worker: worker died (exit code 1)",
          timeout=30.0, within=15.0),
    Fault("hang_with_setsid_child", "error", "timeout", timeout=1.0, within=15.0),
    Fault("setsid_child", "ok", value=1.0),  # its daemon must die with the worker
    Fault("memory", "error", "MemoryError: out of memory (this worker's memory is capped at 4096 MB"),
    Fault("nan", "error", "faulty returned a non-finite value (nan)"),
    Fault("not_a_number", "error", "faulty returned str, expected a number, a bool or a Score"),
    Fault("print_flood", "ok", value=1.0),
    Fault("huge_info", "ok", value=1.0),
    Fault("lone_surrogate", "ok", sample={"completion": "bad \ud800 text"}, value=10.0, cli=False),
    Fault("unpicklable_metadata", "error", "this sample cannot be sent to a worker process",
          sample={"completion": "abc", "metadata": {"lock": threading.Lock()}}, cli=False),
]
NEIGHBOURS = ["ab", "abcd"]


def check_fault(fault: Fault, verdict: dict[str, Any]) -> None:
    assert verdict["status"] == fault.status, verdict
    if fault.reason is not None:
        assert fault.reason in (verdict["reason"] or ""), verdict["reason"]
    if fault.value is not None:
        assert verdict["value"] == fault.value
    if fault.name == "huge_info":  # the 50 MB answer is cut at the engine, once, for every reward
        assert "chars cut" in verdict["info"]["answer"]
        assert len(orjson.dumps(verdict)) < 100_000
    if fault.name == "unpicklable_metadata":
        assert "metadata" in verdict["reason"] and "module level" not in verdict["reason"]


@pytest.fixture
def tag(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh RF_FAULT_TAG, inherited by every process started from here on."""
    value = uuid.uuid4().hex
    monkeypatch.setenv("RF_FAULT_TAG", value)
    assert tagged_processes(value) == []
    return value


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_api_fault_costs_only_its_sample(fault: Fault, tag: str, capfd: pytest.CaptureFixture[str]) -> None:
    batch = [{"completion": NEIGHBOURS[0]}, fault.row(), {"completion": NEIGHBOURS[1]}]
    with WorkerPool(size=2) as pool:
        start = time.monotonic()
        verdicts = rf.score(faulty, batch, timeout=fault.timeout, pool=pool)
        elapsed = time.monotonic() - start
        assert [verdicts[0].value, verdicts[2].value] == [2.0, 4.0]
        check_fault(fault, verdicts[1].model_dump())
        if fault.within is not None:
            assert elapsed < fault.within
        assert len(tagged_processes(tag)) >= 2  # a keeper and its worker at least: the count sees them
        following = rf.score(faulty, [{"completion": "abc"}, {"completion": "abcde"}], pool=pool)
        assert [v.value for v in following] == [3.0, 5.0]
    assert tagged_processes(tag) == []
    if fault.name == "print_flood":  # 2 MiB printed, at most 4 KiB per call reaches the caller
        err = capfd.readouterr().err
        assert len(err) < 20_000 and "more bytes of reward output dropped" in err


def test_cli_faults_cost_only_their_rows(tmp_path: Path, tag: str, cli_env: dict[str, str]) -> None:
    faults = [f for f in FAULTS if f.cli]
    rows: list[dict[str, Any]] = []
    for fault in faults:
        rows += [{"completion": NEIGHBOURS[0]}, fault.row(), {"completion": NEIGHBOURS[1]}]
    rows += [{"completion": "abc"}, {"completion": "abcde"}]  # the batch after the last fault
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    target = tmp_path / "out.jsonl"
    env = {**cli_env, "RF_FAULT_TAG": tag}
    result = subprocess.run([*RF, "score", "-r", "rf_fault_rewards:faulty", "-i", str(source), "-o", str(target),
                             "--timeout", "2", "--batch-size", "3", "--workers", "2"],
                            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    out = [orjson.loads(line) for line in target.read_bytes().splitlines()]
    assert len(out) == len(rows)
    for index, fault in enumerate(faults):
        before, verdict, after = out[3 * index: 3 * index + 3]
        assert (before["reward"], after["reward"]) == (2.0, 4.0), fault.name
        check_fault(fault, {**verdict, "value": verdict["reward"]})
    assert [r["reward"] for r in out[-2:]] == [3.0, 5.0]
    assert len(result.stderr) < 200_000  # the print flood did not reach the terminal
    assert wait_until_gone(tag) == []


# -- interrupting the caller ---------------------------------------------------------------------------

API_CALLER = """
import asyncio, sys, rewardforge as rf
from rf_fault_rewards import faulty
batch = [{"completion": "ab"}, {"completion": "hang"}, {"completion": "hang_with_setsid_child"}]
mode = sys.argv[1]
if mode == "handler":  # a SIGTERM handler that raises, as CLIs and trainers install
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
if mode == "async":
    asyncio.run(rf.ascore(faulty, batch, timeout=30))
elif mode == "in_loop":  # the sync API called from inside a running event loop
    async def main():
        rf.score(faulty, batch, timeout=30)
    asyncio.run(main())
else:
    rf.score(faulty, batch, timeout=30)
"""


@dataclass(frozen=True)
class Interruption:
    name: str
    signal: signal.Signals
    argv: tuple[str, ...]
    returncodes: tuple[int, ...]


INTERRUPTIONS = [
    Interruption("api_ctrl_c", signal.SIGINT, ("sync",), (-signal.SIGINT, 130, 1)),
    Interruption("api_ctrl_c_async", signal.SIGINT, ("async",), (-signal.SIGINT, 130, 1)),
    Interruption("api_ctrl_c_inside_a_loop", signal.SIGINT, ("in_loop",), (-signal.SIGINT, 130, 1)),
    Interruption("api_sigterm", signal.SIGTERM, ("sync",), (-signal.SIGTERM,)),
    Interruption("api_sigterm_handler", signal.SIGTERM, ("handler",), (143,)),
    Interruption("api_sigkill", signal.SIGKILL, ("sync",), (-signal.SIGKILL,)),
    Interruption("cli_ctrl_c", signal.SIGINT, ("cli",), (-signal.SIGINT, 1, 130)),
    Interruption("cli_sigterm", signal.SIGTERM, ("cli",), (-signal.SIGTERM, 143)),
    Interruption("cli_sigkill", signal.SIGKILL, ("cli",), (-signal.SIGKILL,)),
]


@pytest.mark.parametrize("case", INTERRUPTIONS, ids=lambda c: c.name)
def test_an_interrupted_caller_stops_at_once_and_leaves_no_process(
    case: Interruption, tmp_path: Path, tag: str, cli_env: dict[str, str]
) -> None:
    env = {**cli_env, "RF_FAULT_TAG": tag, "RF_WORKERS": "2"}
    if case.argv == ("cli",):
        source = tmp_path / "in.jsonl"
        source.write_text('{"completion": "ab"}\n{"completion": "hang"}\n{"completion": "hang_with_setsid_child"}\n')
        argv = [*RF, "score", "-r", "rf_fault_rewards:faulty", "-i", str(source), "-o", str(tmp_path / "out.jsonl"),
                "--timeout", "30"]
    else:
        script = tmp_path / "caller.py"
        script.write_text(textwrap.dedent(API_CALLER))
        argv = [sys.executable, str(script), *case.argv]
    caller = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # in flight: the caller, two keepers, two busy workers and the setsid daemon
        deadline = time.monotonic() + 60
        while len(tagged_processes(tag)) < 6 and caller.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(tagged_processes(tag)) >= 6, caller.stderr.read() if caller.poll() is not None else "slow"
        time.sleep(0.3)
        sent = time.monotonic()
        caller.send_signal(case.signal)
        returncode = caller.wait(30)
        elapsed = time.monotonic() - sent
    finally:
        if caller.poll() is None:
            caller.kill()
    stderr = caller.stderr.read().decode() if caller.stderr else ""
    assert returncode in case.returncodes, stderr
    assert elapsed < 5.0, f"took {elapsed:.1f}s to stop (the failure mode is ~28 s or forever)"
    assert wait_until_gone(tag, within=5.0) == []

