from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Triton reads TRITON_INTERPRET when it is first imported, by whichever test gets there first: without
# a GPU, its kernels can only run in the interpreter.
if not Path("/dev/nvidia0").exists():
    os.environ.setdefault("TRITON_INTERPRET", "1")

TESTS = Path(__file__).resolve().parent
# Test helper modules (e.g. rf_test_rewards) must be importable by name, also in worker processes,
# which inherit this sys.path.
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))


@pytest.fixture
def call_log(tmp_path: Path) -> Path:
    """A file that counting rewards append to, one line per real evaluation."""
    return tmp_path / "calls.log"


@pytest.fixture
def cli_env() -> dict[str, str]:
    """Environment for running the `rewardforge` command as a user would, from another directory."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    env["COLUMNS"] = "200"
    return env

