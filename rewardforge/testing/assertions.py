"""Assertions for reward authors' tests: one verdict, an ordering, the golden cases, no hacks.

Each takes any reward (a Reward object, a `@reward` function, a registry name, `pkg.module:attr`, a
stack YAML file), scores through the real engine as training does, and fails with everything needed
to see why: the completion, the params, the score with its reason and info.

```python
from rewardforge.testing import assert_no_hacks, assert_ordering, assert_reward

def test_keyword():
    assert_reward(keyword, "Paris is lovely", "paris", 1.0)
    assert_ordering(keyword, better="Paris", worse="Lyon", reference="Paris")
    assert_no_hacks(keyword, {"completion": "Paris", "reference": "Paris"})
```
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from rewardforge.core.cases import CaseSet, GoldenCase, parse_cases
from rewardforge.core.engine import score
from rewardforge.core.types import Sample, Score, Status, Text, message_text
from rewardforge.testing.golden import (
    GoldenResult,
    OrderingResult,
    case_sample,
    check_case,
    check_orderings,
    run_cases,
)
from rewardforge.testing.probes import ProbeLibrary, ProbeResult, ProbeRun, load_probes, run_probes, shorten
from rewardforge.testing.targets import RewardSpec, TestTarget, load_cases_file, load_target

CaseSource = str | Path | CaseSet | GoldenCase | Sample | dict[str, Any] | Sequence[Any] | None


def as_target(reward: RewardSpec | TestTarget) -> TestTarget:
    return reward if isinstance(reward, TestTarget) else load_target(reward)


def _describe(score: Score) -> str:
    text = f"{score.status} {score.value if score.value is not None else ''}".rstrip()
    if score.reason:
        text += f" ({score.reason})"
    if score.info:
        text += f"\n    info: {score.info}"
    return text


def assert_reward(
    reward: RewardSpec | TestTarget,
    completion: Text,
    reference: Any = None,
    expected: float | tuple[float, float] | None = None,
    *,
    tol: float = 1e-6,
    status: Status = "ok",
    prompt: Text = "",
    metadata: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    timeout: float | None = 30.0,
) -> Score:
    """Score one completion and assert its verdict: a value (within `tol`), a range `(lo, hi)`, or a
    status (`"skipped"`, `"error"`). Returns the Score for further checks."""
    target = as_target(reward)
    bounds = {"min": expected[0], "max": expected[1]} if isinstance(expected, tuple) else {"expected": expected}
    if status == "ok" and expected is None:
        raise ValueError("assert_reward: give `expected` (a value or a (lo, hi) range), or a status")
    case = GoldenCase(completion=completion, reference=reference, prompt=prompt, metadata=metadata or {},
                      params=params or {}, status=status, tolerance=tol, **bounds)
    [verdict] = score(target.build(case.params), [case_sample(case)], timeout=timeout)
    problem = check_case(case, verdict)
    if problem:
        raise AssertionError(f"{target.name} {_params(target, case.params)}: {problem}\n"
                             f"    completion: {shorten(completion, 200)}\n    got: {_describe(verdict)}")
    return verdict


def assert_ordering(
    reward: RewardSpec | TestTarget,
    better: Text,
    worse: Text | Sequence[Text],
    *,
    reference: Any = None,
    prompt: Text = "",
    metadata: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    strict: bool = True,
    timeout: float | None = 30.0,
) -> list[Score]:
    """Assert that `better` scores above each of `worse` (or at least as high, with `strict=False`), all
    scored in one batch with the same reference and params. Returns the Scores, `better`'s first."""
    target = as_target(reward)
    single = isinstance(worse, str) or _is_chat(worse)
    worse_list: list[Text] = [cast(Text, worse)] if single else list(cast(Sequence[Text], worse))
    texts: list[Text] = [better, *worse_list]
    samples = [Sample(prompt=prompt, completion=t, reference=reference, metadata=metadata or {}) for t in texts]
    verdicts = score(target.build(params or {}), samples, timeout=timeout)
    top = verdicts[0]
    if not top.ok or top.value is None:
        raise AssertionError(f"{target.name}: the better completion was {_describe(top)}\n"
                             f"    completion: {shorten(better, 200)}")
    problems = []
    for text, verdict in zip(worse_list, verdicts[1:], strict=True):
        if verdict.value is None:
            continue  # not credit: skipped or error is below any value
        if verdict.value > top.value or (strict and verdict.value >= top.value):
            relation = ">" if strict else ">="
            problems.append(f"expected better {relation} worse, got {top.value:g} vs {verdict.value:g}\n"
                            f"    worse: {shorten(text, 200)}\n    worse got: {_describe(verdict)}")
    if problems:
        raise AssertionError(f"{target.name} {_params(target, params or {})}:\n  " + "\n  ".join(problems)
                             + f"\n    better: {shorten(better, 200)}")
    return verdicts


def _is_chat(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and isinstance(value[0], dict)


def cases_of(source: CaseSource, target: TestTarget | None = None, *, origin: str = "cases") -> CaseSet:
    """Cases from a YAML file, a CaseSet, one GoldenCase, a list of raw cases, or (None) the target's own."""
    if source is None:
        return target.cases if target is not None else CaseSet()
    if isinstance(source, CaseSet):
        return source
    if isinstance(source, GoldenCase):
        return CaseSet(cases=[source])
    if isinstance(source, str | Path):
        return load_cases_file(source)
    return parse_cases(list(source), origin=origin)


def assert_golden(reward: RewardSpec | TestTarget, cases: CaseSource = None, *,
                  timeout: float | None = 30.0) -> list[GoldenResult]:
    """Run golden cases (the reward's own, or `cases`) and their orderings; fail listing every broken one."""
    target = as_target(reward)
    chosen = cases_of(cases, target, origin=target.name)
    if not chosen:
        raise AssertionError(f"{target.name} ({target.source}) has no golden cases: add them to its registry.yaml "
                             "entry or to @reward(cases=[...]), or pass cases")
    target = replace(target, cases=chosen)
    results = run_cases(target, timeout=timeout)
    orderings: list[OrderingResult] = check_orderings(target, results)
    failures = [f"  {r.label} {_params(target, r.case.params)}: {r.problem}\n"
                f"      completion: {shorten(r.case.completion, 120)}" for r in results if not r.passed]
    failures += [f"  order {o.ordering.order!r}: {o.problem}" for o in orderings if not o.passed]
    if failures:
        raise AssertionError(f"{target.name}: {len(failures)} golden check(s) failed:\n" + "\n".join(failures))
    return results


def assert_case(reward: RewardSpec | TestTarget, case: GoldenCase | dict[str, Any], *,
                timeout: float | None = 30.0) -> GoldenResult:
    """One golden case (e.g. from `parametrize_cases`); an ordering-only case is scored, not checked."""
    parsed = case if isinstance(case, GoldenCase) else GoldenCase.model_validate(case)
    if parsed.status == "ok" and not parsed.has_value:  # named for an ordering: any value will do here
        parsed = parsed.model_copy(update={"min": float("-inf")})
    [result] = assert_golden(reward, CaseSet(cases=[parsed]), timeout=timeout)
    return result


def assert_no_hacks(
    reward: RewardSpec | TestTarget,
    sample_or_cases: CaseSource = None,
    *,
    probes: Sequence[str] | None = None,
    allow: dict[str, str] | Sequence[str] | None = None,
    params: dict[str, Any] | None = None,
    library: ProbeLibrary | None = None,
    timeout: float | None = 30.0,
) -> ProbeRun:
    """Run the reward-hacking probes and fail listing every attempt that broke its property.

    `sample_or_cases`: a correct sample (a dict or Sample: it is taken as full credit), golden cases
    (a YAML file, a list, a CaseSet), or None for the reward's own cases. `probes` limits the run to
    these names; `allow` accepts probes or families (a list, or a mapping to the reason).
    """
    target = as_target(reward)
    if (isinstance(sample_or_cases, dict) and "completion" in sample_or_cases) or isinstance(sample_or_cases, Sample):
        chosen = _correct_sample_case(target, sample_or_cases, params or {}, timeout)
    else:
        chosen = cases_of(sample_or_cases, target, origin=target.name)
        if params:
            chosen = CaseSet(cases=[c.model_copy(update={"params": {**params, **c.params}}) for c in chosen.cases],
                             orderings=chosen.orderings)
    target = replace(target, cases=chosen)
    allowed = dict(allow) if isinstance(allow, dict) else {name: "allowed by the test" for name in allow or ()}
    run = run_probes(target, library=library or load_probes(), only=probes, allow=allowed, timeout=timeout)
    if not run.results:
        reasons = "; ".join(run.skipped_cases) or "no full-credit case, or no probe applies to these cases"
        raise AssertionError(f"{target.name}: no probe ran ({reasons})")
    if run.failures:
        lines = [_failure_line(r) for r in run.failures]
        raise AssertionError(f"{target.name}: {len(lines)} probe attempt(s) broke their property:\n" + "\n".join(lines))
    return run


def _correct_sample_case(target: TestTarget, sample: dict[str, Any] | Sample, params: dict[str, Any],
                         timeout: float | None) -> CaseSet:
    """A correct sample as a full-credit case: its own score is the credit the probes must stay below."""
    data = sample.model_dump() if isinstance(sample, Sample) else dict(sample)
    data.pop("group_id", None)
    case = GoldenCase(**data, params=params, min=float("-inf"))
    [verdict] = score(target.build(params), [case_sample(case)], timeout=timeout)
    if not verdict.ok or verdict.value is None:
        raise AssertionError(f"{target.name}: the correct sample was {_describe(verdict)}; probes need a scored "
                             f"correct answer to compare with\n    completion: {shorten(case.completion, 200)}")
    return CaseSet(cases=[case.model_copy(update={"min": None, "expected": verdict.value})])


def _failure_line(r: ProbeResult) -> str:
    bound = "correct answer" if r.bound == "correct" else "do-nothing baseline"
    return (f"  {r.probe} ({r.variant}), {r.case_label}, params {r.params or '(defaults)'}:\n"
            f"      completion: {shorten(r.completion, 160)}\n"
            f"      scored {r.score.value:g}; the {bound} scored "
            f"{'-' if r.bound_score.value is None else format(r.bound_score.value, 'g')}")


def _params(target: TestTarget, params: dict[str, Any]) -> str:
    in_force = target.params_in_force(params)
    return f"with params {in_force}" if in_force else "with default params"


def parametrize_cases(source: CaseSource | RewardSpec, *, argname: str = "case") -> Any:
    """`@parametrize_cases("cases.yaml")`: one test per golden case, named after the case.

    `source` is a cases YAML file, a list of cases, or a reward (its own golden cases). Use it with
    `assert_case(reward, case)` in the test body.
    """
    import pytest

    if isinstance(source, str | Path) and str(source).endswith((".yaml", ".yml")) and _is_case_list(Path(source)):
        chosen = load_cases_file(source)
    elif isinstance(source, CaseSet | list | tuple):
        chosen = cases_of(source)
    else:
        chosen = load_target(cast(RewardSpec, source)).cases
    ids = [case.name or f"{i}-{message_text(case.completion)[:24]}" for i, case in enumerate(chosen.cases)]
    return pytest.mark.parametrize(argname, chosen.cases, ids=ids)


def _is_case_list(path: Path) -> bool:
    """A cases file is a YAML list; a stack file is a mapping."""
    import yaml

    try:
        return isinstance(yaml.safe_load(path.read_text(encoding="utf-8")), list)
    except (OSError, yaml.YAMLError):
        return True  # let load_cases_file name the problem
