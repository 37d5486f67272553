"""One test run over several targets: golden cases, orderings, probes, and the plugins that failed to load.

`rewardforge test` renders a `SuiteReport` as tables and as JSON; the pytest helpers read the same
results. A run fails when a golden case or ordering fails, when a probe breaks its property without an
allowance, when a target cannot be tested at all, or when an installed plugin failed to load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rewardforge.core.types import RewardError, Score, message_text
from rewardforge.testing.golden import GoldenResult, OrderingResult, check_orderings, run_cases
from rewardforge.testing.probes import ProbeLibrary, ProbeResult, ProbeRun, run_probes, shorten
from rewardforge.testing.targets import TestTarget


@dataclass
class TargetReport:
    target: TestTarget
    golden: list[GoldenResult] = field(default_factory=list)
    orderings: list[OrderingResult] = field(default_factory=list)
    probes: ProbeRun | None = None  # None: probes were not asked for
    error: str | None = None  # the target could not be tested at all

    @property
    def golden_failures(self) -> list[GoldenResult]:
        return [r for r in self.golden if not r.passed]

    @property
    def ordering_failures(self) -> list[OrderingResult]:
        return [r for r in self.orderings if not r.passed]

    @property
    def probe_failures(self) -> list[ProbeResult]:
        return self.probes.failures if self.probes else []

    @property
    def passed(self) -> bool:
        return (self.error is None and not self.golden_failures and not self.ordering_failures
                and not self.probe_failures)


@dataclass
class SuiteReport:
    targets: list[TargetReport] = field(default_factory=list)
    plugin_failures: list[str] = field(default_factory=list)
    probes_run: bool = False

    @property
    def passed(self) -> bool:
        return not self.plugin_failures and all(t.passed for t in self.targets)

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "probes_run": self.probes_run,
            "plugin_failures": self.plugin_failures,
            "targets": [_target_json(t) for t in self.targets],
        }


def run_target(target: TestTarget, *, probes: ProbeLibrary | None = None, only: list[str] | None = None,
                allow: dict[str, str] | None = None, timeout: float | None = 30.0) -> TargetReport:
    """Run one target's cases, its orderings and (with a probe library) its probes."""
    report = TargetReport(target)
    if not target.cases:
        report.error = "no golden cases: add them to its registry.yaml entry, to @reward(cases=[...]), or pass --cases"
        return report
    try:
        report.golden = run_cases(target, timeout=timeout)
        report.orderings = check_orderings(target, report.golden)
        if probes is not None:
            report.probes = run_probes(target, library=probes, only=only, allow=allow, timeout=timeout)
    except RewardError as exc:
        report.error = str(exc)
    return report


def _score_json(score: Score) -> dict[str, Any]:
    return {"status": score.status, "value": score.value, "reason": score.reason}


def _target_json(report: TargetReport) -> dict[str, Any]:
    target = report.target
    data: dict[str, Any] = {
        "name": target.name, "source": target.source, "passed": report.passed, "error": report.error,
        "golden": [{"index": r.index, "name": r.case.name, "passed": r.passed, "problem": r.problem,
                    "params": r.params, "completion": message_text(r.case.completion), **_score_json(r.score)}
                   for r in report.golden],
        "orderings": [{"order": r.ordering.order, "passed": r.passed, "problem": r.problem, "values": r.values}
                      for r in report.orderings],
    }
    if report.probes is not None:
        data["probes"] = {
            "attempts": len(report.probes.results),
            "not_scored": sum(not r.score.ok for r in report.probes.results),
            "skipped_cases": report.probes.skipped_cases,
            "failures": [_probe_json(r) for r in report.probes.failures],
            "allowed": [_probe_json(r) for r in report.probes.allowed],
        }
    return data


def _probe_json(result: ProbeResult) -> dict[str, Any]:
    return {
        "probe": result.probe, "family": result.family, "variant": result.variant, "case": result.case_index,
        "case_label": result.case_label, "params": result.params, "completion": message_text(result.completion),
        "completion_short": shorten(result.completion), "score": _score_json(result.score),
        "bound": result.bound, "bound_score": _score_json(result.bound_score), "allowed": result.allowed,
    }
