"""Reward-hacking probes: a pluggable library of adversarial completions, each with the property a
sound reward keeps against it. `rewardforge test --probes` and `assert_no_hacks` run them.

```python
from rewardforge.testing.probes import Attempt, Probe

def _shouting(case):          # a plugin probe: the answer in capitals, with nothing else
    return [Attempt(case.completion.upper(), "upper-cased")] if case.completion else None

PROBES = [Probe("shouting", "answer", "shouting the answer earns less than writing it", _shouting)]
# pyproject.toml:  [project.entry-points."rewardforge.probes"]  my_probes = "my_pkg.probes:PROBES"
```
"""

from rewardforge.testing.probes.base import FAMILIES, Attempt, Probe, ProbeCase, scalar_answer, wrong_answers
from rewardforge.testing.probes.run import (
    BUILTIN_PROBES,
    ENTRY_POINT_PROBES,
    ProbeLibrary,
    ProbeResult,
    ProbeRun,
    attempts_for,
    full_credit_cases,
    load_probes,
    run_probes,
    shorten,
)

__all__ = [
    "BUILTIN_PROBES",
    "ENTRY_POINT_PROBES",
    "FAMILIES",
    "Attempt",
    "Probe",
    "ProbeCase",
    "ProbeLibrary",
    "ProbeResult",
    "ProbeRun",
    "attempts_for",
    "full_credit_cases",
    "load_probes",
    "run_probes",
    "scalar_answer",
    "shorten",
    "wrong_answers",
]
