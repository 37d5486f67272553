"""pytest plugin (auto-loaded through the `pytest11` entry point).

Gives reward authors a fixture that runs a reward's golden cases from the registry, built-in or
plugin, and fails with every broken case listed:

```python
def test_my_reward_golden(rewardforge_golden):
    rewardforge_golden("my_reward")
```
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rewardforge.core.registry import default_registry
from rewardforge.testing.golden import GoldenResult, run_golden


@pytest.fixture
def rewardforge_golden() -> Callable[[str], list[GoldenResult]]:
    def check(name: str) -> list[GoldenResult]:
        results = run_golden(default_registry(), name)
        if not results:
            pytest.fail(f"reward {name!r} has no golden cases in its registry.yaml")
        failures = [f"  case {r.index} ({r.case.completion!r:.60}): {r.problem}" for r in results if not r.passed]
        if failures:
            pytest.fail(f"{name}: {len(failures)} golden case(s) failed:\n" + "\n".join(failures))
        return results

    return check
