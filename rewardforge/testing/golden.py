"""Golden cases and orderings, run through the real engine exactly as users and trainers call a reward.

Cases that share params are scored as one batch (a batch-relative reward sees them together, as it
would in training). A case whose reward cannot even be built with its params fails with that reason.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import orjson

from rewardforge.core.cases import GoldenCase, Ordering, holds
from rewardforge.core.engine import score
from rewardforge.core.registry import Registry
from rewardforge.core.types import RewardError, Sample, Score
from rewardforge.testing.targets import RewardSpec, TestTarget, load_target, registry_target


@dataclass(frozen=True)
class GoldenResult:
    reward: str
    index: int
    case: GoldenCase
    params: dict[str, Any]  # in force: the target's defaults, then the case's own
    score: Score
    problem: str | None  # None when the case passed

    @property
    def passed(self) -> bool:
        return self.problem is None

    @property
    def label(self) -> str:
        return self.case.label(self.index)


@dataclass(frozen=True)
class OrderingResult:
    reward: str
    ordering: Ordering
    values: dict[str, float | None]  # case name -> its score's value
    problem: str | None

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


def case_sample(case: GoldenCase, completion: Any = None) -> Sample:
    """The case as a Sample, optionally with another completion (a probe's)."""
    return Sample(prompt=case.prompt, completion=case.completion if completion is None else completion,
                  reference=case.reference, metadata=case.metadata)


def params_key(params: dict[str, Any]) -> bytes:
    return orjson.dumps(params, option=orjson.OPT_SORT_KEYS, default=repr)


def run_cases(target: TestTarget, *, timeout: float | None = 30.0) -> list[GoldenResult]:
    """Every golden case of the target, in order."""
    cases = target.cases.cases
    by_params: dict[bytes, list[int]] = defaultdict(list)
    for index, case in enumerate(cases):
        by_params[params_key(case.params)].append(index)
    results: dict[int, GoldenResult] = {}
    for indices in by_params.values():
        params = cases[indices[0]].params
        in_force = target.params_in_force(params)
        try:
            reward = target.build(params)
            verdicts = score(reward, [case_sample(cases[i]) for i in indices], timeout=timeout)
        except RewardError as exc:
            verdicts = [Score.error(f"cannot build the reward with these params: {exc}") for _ in indices]
            for i, verdict in zip(indices, verdicts, strict=True):
                results[i] = GoldenResult(target.name, i, cases[i], in_force, verdict, verdict.reason)
            continue
        for i, verdict in zip(indices, verdicts, strict=True):
            results[i] = GoldenResult(target.name, i, cases[i], in_force, verdict, check_case(cases[i], verdict))
    return [results[i] for i in sorted(results)]


def check_orderings(target: TestTarget, results: list[GoldenResult]) -> list[OrderingResult]:
    """Each `order:` of the target against the scores its cases got."""
    by_name = {r.case.name: r for r in results if r.case.name is not None}
    checked = []
    for ordering in target.cases.orderings:
        values = {name: by_name[name].score.value for name in ordering.names()}
        problem = None
        for left, relation, right in ordering.links():
            a, b = values[left], values[right]
            if a is None or b is None:
                missing = left if a is None else right
                problem = f"{missing} was {by_name[missing].score.status} ({by_name[missing].score.reason})"
                break
            if not holds(a, relation, b, ordering.tolerance):
                problem = f"expected {left} {relation} {right}, got {left}={a:g}, {right}={b:g}"
                break
        checked.append(OrderingResult(target.name, ordering, values, problem))
    return checked


def run_golden(reward: RewardSpec | TestTarget | Registry, name: str | None = None, *,
               timeout: float | None = 30.0) -> list[GoldenResult]:
    """Run the golden cases of any reward: a registry name, a dotted path, a stack file, an object;
    or `run_golden(registry, name)` for a name in a given registry."""
    if isinstance(reward, Registry):
        if name is None:
            raise RewardError("run_golden(registry, name): name the reward")
        target = registry_target(reward, name)
    else:
        target = reward if isinstance(reward, TestTarget) else load_target(reward)
    return run_cases(target, timeout=timeout)
