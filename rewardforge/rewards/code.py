"""`code_tests`: 1 when a generated program passes every test, run in a sandbox and judged by the parent.

All or nothing by default, as HumanEval's own harness and the DeepCoder recipe: with partial credit a
program that does nothing earns the share of asserts that its non-answer happens to meet (`return None`
earns 1/3 on HumanEval/12, whose third assert expects None), and GRPO finds such programs fast.
`partial_credit=True` pays the fraction of tests passed instead.

A thin wrapper over `rewardforge.verifiers.code.verify`: it extracts the program from the completion, parses
the tests from `reference`, runs one sandbox job per distinct (program, tests) pair of the batch
concurrently, and turns verdicts into Scores. The sandbox enforces the limits, so the reward runs
inline (no engine worker). A sandbox failure is an error Score, never a 0.
"""

from __future__ import annotations

import threading
from typing import Any

import orjson

from rewardforge.core.types import Sample, Score, reward
from rewardforge.sandbox import SandboxBackend, SandboxError, get_backend
from rewardforge.verifiers.code.cases import StdioCase, TestCase, TestSpecError, parse_tests_cached
from rewardforge.verifiers.code.compare import CompareOptions
from rewardforge.verifiers.code.extract import extract_code
from rewardforge.verifiers.code.languages import get_language
from rewardforge.verifiers.code.verify import CodeVerdict, JudgeOptions, verify_many

_backends: dict[str, SandboxBackend] = {}
_backends_lock = threading.Lock()


def shared_backend(name: str) -> SandboxBackend:
    """One backend per name for the process, so warm pools and worker slots are reused across batches."""
    with _backends_lock:
        if name not in _backends:
            _backends[name] = get_backend(name)
        return _backends[name]


def close_shared_backends() -> None:
    """Close the backends `code_tests` opened (warm Docker containers, worker slots)."""
    with _backends_lock:
        backends = list(_backends.values())
        _backends.clear()
    for backend in backends:
        backend.close()


def _score(verdict: CodeVerdict, partial_credit: bool, source: str) -> Score:
    info: dict[str, Any] = {"backend": verdict.backend, "wall_s": round(verdict.wall_s, 4), "code_from": source}
    if verdict.status == "error":
        return Score.error(verdict.reason or "sandbox error", info=info)
    if verdict.status != "ok":
        return Score.of(0.0, reason=f"{verdict.status.replace('_', ' ')}: {verdict.reason}", info=info)
    info.update(passed=verdict.passed, total=verdict.total, tests=[t.as_info() for t in verdict.tests])
    value = verdict.fraction if partial_credit else float(verdict.passed == verdict.total)
    reason = verdict.reason or f"{verdict.passed}/{verdict.total} tests passed"
    return Score.of(value, reason=reason, info=info)


@reward(name="code_tests", batched=True, isolation="inline")
def code_tests(
    samples: list[Sample],
    *,
    language: str = "python",
    backend: str = "auto",
    timeout_s: float = 3.0,
    memory_mb: int = 512,
    total_timeout_s: float | None = None,
    partial_credit: bool = False,
    float_tol: float | None = None,
    strict_types: bool = True,
    tuple_list_equal: bool = False,
    fail_fast: bool = False,
    entry_point: str | None = None,
    prompt_helpers: bool = True,
    max_workers: int | None = None,
) -> list[Score]:
    """1.0 when the completion's program passes every test of the reference, else 0.0 (`partial_credit`:
    the fraction passed). Per-test verdicts are in `info["tests"]` either way.

    `reference`: stdin/stdout cases, call cases `{fn, args, expected}`, or HumanEval/MBPP assert code
    (see `rewardforge.verifiers.code.cases`). The program is the last fenced block in `language`, or the
    whole completion. `backend`: "auto" (Docker when an engine answers, else bubblewrap), "local",
    "docker" or "insecure". `strict_types`: True is not 1, an int is not a float; `tuple_list_equal`
    lets a tuple match a list; `float_tol` applies to returned floats and to numbers on stdout.

    Args:
        language: the program's language: python or cpp.
        backend: the sandbox: auto (Docker when an engine answers, else bubblewrap), local, docker, insecure.
        timeout_s: wall-clock seconds per test.
        memory_mb: memory limit of the program.
        total_timeout_s: wall-clock seconds for all tests of one program.
        partial_credit: score the fraction of tests passed instead of all or nothing.
        float_tol: tolerance for floats returned or printed.
        strict_types: True is not 1, an int is not a float.
        tuple_list_equal: a tuple may equal a list.
        fail_fast: stop a program's tests at the first failure.
        entry_point: the function HumanEval-style tests call (default: metadata.entry_point).
        prompt_helpers: take helpers a check calls (HumanEval's poly) from the prompt, never from the program.
        max_workers: programs run at once (default: the sandbox's slots).
    """
    spec = get_language(language)
    options = JudgeOptions(
        timeout_s=timeout_s, memory_mb=memory_mb, total_timeout_s=total_timeout_s, fail_fast=fail_fast,
        float_tol=float_tol,
        compare=CompareOptions(strict_types=strict_types, tuple_list_equal=tuple_list_equal, float_tol=float_tol),
    )
    scores: list[Score | None] = [None] * len(samples)
    jobs: dict[bytes, tuple[str, list[TestCase], list[int], str]] = {}
    for index, sample in enumerate(samples):
        try:
            tests = parse_tests_cached(sample.reference, entry_point=entry_point or sample.metadata.get("entry_point"),
                                       prompt=sample.prompt_text if prompt_helpers else None)
        except TestSpecError as exc:
            scores[index] = Score.skipped(f"unusable tests in reference: {exc}")
            continue
        extracted = extract_code(sample.completion_text, spec)
        if not extracted.code:
            scores[index] = Score.of(0.0, reason=f"no code: {extracted.reason}", info={"code_from": "none"})
            continue
        if not spec.supports_calls and any(not isinstance(t, StdioCase) for t in tests):
            scores[index] = Score.skipped(f"{spec.name} supports stdin/stdout tests only")
            continue
        key = orjson.dumps([extracted.code, repr(tests)])
        jobs.setdefault(key, (extracted.code, tests, [], extracted.source))[2].append(index)
    if jobs:
        _run_jobs(list(jobs.values()), scores, spec, options, backend, partial_credit, max_workers)
    return [score if score is not None else Score.error("internal: sample not scored") for score in scores]


def _run_jobs(jobs: list[tuple[str, list[TestCase], list[int], str]], scores: list[Score | None], spec: Any,
              options: JudgeOptions, backend: str, partial_credit: bool, max_workers: int | None) -> None:
    try:
        sandbox = shared_backend(backend)
        verdicts = verify_many([(code, tests) for code, tests, _, _ in jobs], sandbox, spec, options, max_workers)
    except (SandboxError, ValueError, OSError) as exc:
        for _, _, indices, _ in jobs:
            for index in indices:
                scores[index] = Score.error(f"sandbox unavailable: {exc}")
        return
    for (_, _, indices, source), verdict in zip(jobs, verdicts, strict=True):
        for index in indices:
            scores[index] = _score(verdict, partial_credit, source)
