"""The test kit for reward authors and plugin writers.

- `assert_reward`, `assert_ordering`, `assert_golden`, `assert_case`, `assert_no_hacks`: assertions on
  any reward (an object, a `@reward` function, a registry name, `pkg.module:attr`, a stack YAML file);
- `parametrize_cases("cases.yaml")`: one pytest test per golden case;
- `rewardforge.testing.strategies`: Hypothesis strategies and the "never raises" / "stays in range"
  properties;
- `rewardforge.testing.probes`: the reward-hacking probes, pluggable through an entry point;
- `run_golden`, `load_target`: what `rewardforge test` runs.

The pytest plugin (loaded automatically through `pytest11`) adds the `rewardforge_golden` fixture.
"""

from rewardforge.testing.assertions import (
    assert_case,
    assert_golden,
    assert_no_hacks,
    assert_ordering,
    assert_reward,
    cases_of,
    parametrize_cases,
)
from rewardforge.testing.golden import GoldenResult, run_golden
from rewardforge.testing.targets import TestTarget, load_cases_file, load_target

__all__ = [
    "GoldenResult",
    "TestTarget",
    "assert_case",
    "assert_golden",
    "assert_no_hacks",
    "assert_ordering",
    "assert_reward",
    "cases_of",
    "load_cases_file",
    "load_target",
    "parametrize_cases",
    "run_golden",
]
