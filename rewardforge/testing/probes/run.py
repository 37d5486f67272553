"""Running probes: per full-credit golden case, with that case's params, judged against its own score.

For each case that earns the reward's top value, the correct completion, every probe's completions
and their baselines are scored in one batch with the case's params. A probe attempt **fails** when it
breaks its probe's property (see `base.py`); a failure that the reward, the case or the caller allows
(`allow`, `--allow`) is reported as allowed, with the reason, and does not fail the run.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rewardforge.core.cases import GoldenCase
from rewardforge.core.engine import score
from rewardforge.core.types import RewardError, Score, Text, message_text
from rewardforge.testing.golden import case_sample, params_key
from rewardforge.testing.probes.base import Attempt, Probe, ProbeCase
from rewardforge.testing.probes.code import CODE_PROBES
from rewardforge.testing.probes.judge import JUDGE_PROBES
from rewardforge.testing.probes.text import TEXT_PROBES
from rewardforge.testing.targets import TestTarget

ENTRY_POINT_PROBES = "rewardforge.probes"
BUILTIN_PROBES: tuple[Probe, ...] = (*TEXT_PROBES, *JUDGE_PROBES, *CODE_PROBES)
_MARGIN = 1e-9


@dataclass(frozen=True)
class ProbeLibrary:
    """The probes in use, and the plugins whose probes failed to load."""

    probes: tuple[Probe, ...]
    failures: tuple[str, ...] = ()

    def names(self) -> list[str]:
        return [p.name for p in self.probes]


def load_probes(*, plugins: bool = True) -> ProbeLibrary:
    """The built-in probes plus those of installed plugins (`rewardforge.probes` entry points, each a
    Probe or an iterable of Probes). A plugin that fails to load is recorded, never fatal here."""
    probes = list(BUILTIN_PROBES)
    failures: list[str] = []
    if plugins:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_PROBES):
            source = f"plugin {getattr(ep.dist, 'name', '?')} ({ENTRY_POINT_PROBES}: {ep.name} = {ep.value})"
            try:
                loaded = ep.load()
                found = [loaded] if isinstance(loaded, Probe) else list(loaded)
                if not found or not all(isinstance(p, Probe) for p in found):
                    raise TypeError(f"{ep.value} is not a Probe or a list of Probes")
                taken = {p.name for p in probes}
                clash = [p.name for p in found if p.name in taken]
                if clash:
                    raise ValueError(f"probe name(s) {clash} already taken")
            except Exception as exc:
                failures.append(f"{source}: {type(exc).__name__}: {exc}")
                continue
            probes.extend(found)
    return ProbeLibrary(tuple(probes), tuple(failures))


@dataclass(frozen=True)
class ProbeResult:
    reward: str
    probe: str
    family: str
    variant: str
    case_index: int
    case_label: str
    params: dict[str, Any]  # in force for this case
    completion: Text
    score: Score
    bound: str  # "correct" or "baseline"
    bound_score: Score
    failed: bool  # the property is broken
    allowed: str | None = None  # why this failure is accepted, when it is

    @property
    def exploited(self) -> bool:
        """A failure nobody allowed: the reward is hackable this way."""
        return self.failed and self.allowed is None


@dataclass
class ProbeRun:
    """All attempts on one target, and the cases that could not be probed, with why."""

    results: list[ProbeResult] = field(default_factory=list)
    skipped_cases: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[ProbeResult]:
        return [r for r in self.results if r.exploited]

    @property
    def allowed(self) -> list[ProbeResult]:
        return [r for r in self.results if r.failed and r.allowed is not None]


def _floor(case: GoldenCase) -> float | None:
    """The least an ok case is expected to earn, when it says."""
    if case.status != "ok":
        return None
    return case.expected if case.expected is not None else case.min


def full_credit_cases(cases: Sequence[GoldenCase]) -> list[int]:
    """Indices of the cases that earn the reward's top value: the ones a hack would want to match."""
    floors = [(i, f) for i, f in ((i, _floor(c)) for i, c in enumerate(cases)) if f is not None]
    if not floors:
        return []
    top = max(f for _, f in floors)
    return [i for i, f in floors if f >= top - cases[i].tolerance]


def _allowance(probe: Probe, case: GoldenCase, allow: dict[str, str]) -> str | None:
    for table in (case.allow, allow):
        for key in (probe.name, probe.family):
            if key in table:
                return table[key] or "allowed"
    return None


def run_probes(
    target: TestTarget,
    *,
    library: ProbeLibrary | None = None,
    only: Iterable[str] | None = None,
    allow: dict[str, str] | None = None,
    timeout: float | None = 30.0,
) -> ProbeRun:
    """Run the probes (all, or `only` these names) on every full-credit case of `target`."""
    library = library or load_probes()
    wanted = None if only is None else set(only)
    probes = [p for p in library.probes if wanted is None or p.name in wanted]
    allowed = {**target.allow, **(allow or {})}
    run = ProbeRun()
    cases = target.cases.cases
    done: set[tuple[bytes, str]] = set()  # (params, probe) already run, for probes that ignore the case
    for index in full_credit_cases(cases):
        case = cases[index]
        params = params_key(case.params)
        chosen = [p for p in probes if p.per_case or (params, p.name) not in done]
        done.update((params, p.name) for p in chosen)
        planned = [(probe, attempt) for probe in chosen
                   for attempt in probe.attempts(ProbeCase(case, target.tags))]
        if not planned:
            continue
        baselines = list(dict.fromkeys(a.baseline for _, a in planned if a.baseline is not None))
        texts: list[Text] = [case.completion, *baselines, *(a.completion for _, a in planned)]
        try:
            verdicts = score(target.build(case.params), [case_sample(case, t) for t in texts], timeout=timeout)
        except RewardError as exc:
            run.skipped_cases.append(f"{case.label(index)}: cannot build the reward: {exc}")
            continue
        correct = verdicts[0]
        if not correct.ok or correct.value is None:
            run.skipped_cases.append(f"{case.label(index)}: the correct completion was {correct.status} "
                                     f"({correct.reason}), so there is nothing to compare with")
            continue
        baseline_scores = dict(zip(baselines, verdicts[1:1 + len(baselines)], strict=True))
        in_force = target.params_in_force(case.params)
        for (probe, attempt), verdict in zip(planned, verdicts[1 + len(baselines):], strict=True):
            bound, bound_score = ("correct", correct) if attempt.baseline is None else (
                "baseline", baseline_scores[attempt.baseline])
            failed = _breaks(verdict, bound, bound_score)
            run.results.append(ProbeResult(
                target.name, probe.name, probe.family, attempt.variant, index, case.label(index), in_force,
                attempt.completion, verdict, bound, bound_score, failed,
                _allowance(probe, case, allowed) if failed else None,
            ))
    return run


def _breaks(verdict: Score, bound: str, bound_score: Score) -> bool:
    """Whether an attempt's score breaks its property. Only a value is credit: skipped and error are not."""
    if not verdict.ok or verdict.value is None:
        return False
    if bound_score.value is None:  # a baseline that could not be scored: any credit beats it
        return True
    if bound == "correct":
        return verdict.value >= bound_score.value - _MARGIN
    return verdict.value > bound_score.value + _MARGIN


def shorten(text: Text, limit: int = 100) -> str:
    """A probing completion as reports show it: one line, the middle elided when long."""
    flat = message_text(text).replace("\n", "\\n").replace("\t", "\\t")
    if len(flat) <= limit:
        return flat
    half = (limit - 5) // 2
    return f"{flat[:half]} … {flat[-half:]} ({len(message_text(text))} chars)"


def attempts_for(probe: Probe, case: GoldenCase, tags: frozenset[str] = frozenset()) -> list[Attempt]:
    """A probe's completions for one case (for authors exploring a probe)."""
    return probe.attempts(ProbeCase(case, tags))
