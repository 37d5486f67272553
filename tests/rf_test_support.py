"""Helpers shared by the foundation tests (fixtures live in conftest.py)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
RF = [sys.executable, "-m", "rewardforge.cli"]


def count_calls(log: Path) -> int:
    """How many evaluations a counting reward logged."""
    return len(log.read_text().splitlines()) if log.exists() else 0
