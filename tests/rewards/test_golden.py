"""Every reward in the catalog meets its golden cases, through the real engine."""

from __future__ import annotations

import pytest

from rewardforge.core.registry import Registry
from rewardforge.testing.golden import run_golden

REGISTRY = Registry.load(plugins=False)


def test_every_builtin_has_golden_cases_including_low_ones() -> None:
    for name, entry in REGISTRY.entries.items():
        assert entry.golden, f"{name} has no golden cases"
        low = [c for c in entry.golden if c.status != "ok" or (c.expected is not None and c.expected <= 0.0)
               or (c.max is not None and c.max <= 0.5)]
        assert low, f"{name} has no golden case that must score low or not apply"


@pytest.mark.parametrize("name", REGISTRY.names())
def test_golden_cases(name: str) -> None:
    failures = [f"case {r.index}: {r.problem}" for r in run_golden(REGISTRY, name) if not r.passed]
    assert not failures, f"{name}: " + "; ".join(failures)


def test_pytest_plugin_fixture(rewardforge_golden) -> None:  # type: ignore[no-untyped-def]
    results = rewardforge_golden("exact_match")
    assert len(results) == 5 and all(r.passed for r in results)
