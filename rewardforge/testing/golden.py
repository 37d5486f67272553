"""Golden cases: the examples in `registry.yaml` that pin down what each reward must say.

`rewardforge test` and the test suite run them through the real engine, so a golden case checks
the reward exactly as users and trainers will call it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import orjson

from rewardforge.core.engine import score
from rewardforge.core.registry import GoldenCase, Registry
from rewardforge.core.types import Sample, Score


@dataclass(frozen=True)
class GoldenResult:
    reward: str
    index: int
    case: GoldenCase
    score: Score
    problem: str | None  # None when the case passed

    @property
    def passed(self) -> bool:
        return self.problem is None


def check_case(case: GoldenCase, result: Score) -> str | None:
    """What is wrong with `result` for this case, or None."""
    if result.status != case.status:
        return f"expected status {case.status}, got {result.status} ({result.reason})"
    if result.value is None:
        return None
    if case.expected is not None and abs(result.value - case.expected) > case.tolerance:
        return f"expected {case.expected}, got {result.value}"
    if case.min is not None and result.value < case.min - case.tolerance:
        return f"expected >= {case.min}, got {result.value}"
    if case.max is not None and result.value > case.max + case.tolerance:
        return f"expected <= {case.max}, got {result.value}"
    return None


def run_golden(registry: Registry, name: str, *, timeout: float | None = 30.0) -> list[GoldenResult]:
    """Run every golden case of one reward; cases sharing params are scored as one batch."""
    entry = registry.entry(name)
    by_params: dict[bytes, list[int]] = defaultdict(list)
    for index, case in enumerate(entry.golden):
        by_params[orjson.dumps(case.params, option=orjson.OPT_SORT_KEYS)].append(index)
    results: dict[int, GoldenResult] = {}
    for indices in by_params.values():
        params = entry.golden[indices[0]].params
        reward = registry.get(name, params)
        cases = [entry.golden[i] for i in indices]
        samples = [
            Sample(prompt=c.prompt, completion=c.completion, reference=c.reference, metadata=c.metadata)
            for c in cases
        ]
        for index, case, verdict in zip(indices, cases, score(reward, samples, timeout=timeout), strict=True):
            results[index] = GoldenResult(name, index, case, verdict, check_case(case, verdict))
    return [results[i] for i in sorted(results)]
