"""pytest plugin (auto-loaded through the `pytest11` entry point once rewardforge is installed).

Gives reward authors a fixture that runs any reward's golden cases (registry name, dotted path,
stack file or object; its own cases or ones given) and fails with every broken case listed:

```python
def test_my_reward_golden(rewardforge_golden):
    rewardforge_golden("my_reward")                      # registry.yaml or @reward(cases=...)
    rewardforge_golden("my_pkg.rewards:keyword", "tests/cases.yaml")
```

The other helpers are plain functions: `from rewardforge.testing import assert_reward, ...`.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rewardforge.testing.assertions import CaseSource, assert_golden
from rewardforge.testing.golden import GoldenResult
from rewardforge.testing.targets import RewardSpec


@pytest.fixture
def rewardforge_golden() -> Callable[..., list[GoldenResult]]:
    def check(reward: RewardSpec, cases: CaseSource = None, *, timeout: float | None = 30.0) -> list[GoldenResult]:
        try:
            return assert_golden(reward, cases, timeout=timeout)
        except AssertionError as exc:
            pytest.fail(str(exc), pytrace=False)

    return check
