"""Math rewards: `math_equivalence` (is the final answer right?) and `numeric_closeness` (how close?).

Both are thin policies over `verifiers.math`: the gold parser, the extraction rules with the final-
answer policy, and the comparison layers. They are `isolation="inline"`: cheap layers run in the
caller's process with hard size limits, and only sympy work goes to the shared killable worker pool
with a per-comparison deadline (`context.timeout`, else the `timeout` param), so the engine need not
wrap them in a worker of their own. One sample that cannot be compared (too large, undefined, a
timeout) is an `error` for that sample only.

How several answers in the final statement are judged (`on_conflict`, for a single-valued gold):
`all` (default) needs every one of them to equal the gold, so one value restated ("1/2, i.e. 0.5")
passes and a spray or a hedge ("2 or 3", `\\boxed{1} \\boxed{2}`, "maybe 10, 20, 72") fails; `last`
judges only the last; `refuse` scores any two different answers `incorrect`. A gold with several
values ("1, 2", `\\{1, 2\\}`, a union of intervals) is compared with all of them together, so
"x = 1 or x = 2" answers the gold "1, 2".

They score a whole list of samples at once: distinct (gold, answer) pairs are compared once, and
verdicts are cached across calls, because GRPO groups repeat the same final answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from rewardforge.core.types import BaseReward, RewardContext, Sample, Score, validate_params
from rewardforge.verifiers.math import (
    DEFAULT_RULES,
    DEFAULT_TIMEOUT,
    Extraction,
    Gold,
    MathSettings,
    Verdict,
    check_rules,
    extract_answer,
    parse_gold,
    verify_many,
)
from rewardforge.verifiers.math.normalize import canonical
from rewardforge.verifiers.math.numeric import NumericError
from rewardforge.verifiers.math.quantities import numbers_equal, read_number, readings, relative_error
from rewardforge.verifiers.math.relations import has_relation


class _CommonParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: tuple[str, ...] = Field(DEFAULT_RULES, description="extraction rules, highest priority first")
    think: Literal["skip", "include"] = Field(
        "skip", description="`skip`: answers inside <think>...</think> are working, not commitments")
    rel_tol: float = Field(1e-6, ge=0.0, lt=1.0, description="relative tolerance for rounded values")

    @field_validator("rules", mode="before")
    @classmethod
    def _known_rules(cls, value: Any) -> tuple[str, ...]:
        return check_rules(list(value))


class MathEquivalenceParams(_CommonParams):
    correct: float = Field(1.0, description="score of an answer equal to the gold")
    incorrect: float = Field(0.0, description="score of any other answer")
    on_conflict: Literal["all", "last", "refuse"] = Field(
        "all",
        description=(
            "several distinct answers in the final statement: `all` must each equal the gold (one value in two "
            "spellings passes, a spray or hedge does not), `last` judges only the last, `refuse` scores `incorrect`"
        ),
    )
    symbolic: bool = Field(True, description="use the sympy layer for what cheaper layers cannot decide")
    timeout: float = Field(DEFAULT_TIMEOUT, gt=0.0, description="sympy seconds per comparison (context wins)")


class NumericClosenessParams(_CommonParams):
    exact: float = Field(1.0, description="score when equal (within rel_tol)")
    near: float = Field(0.5, description="score just off the gold; falls linearly to 0 at near_rel")
    near_rel: float = Field(0.1, gt=0.0, description="relative error where partial credit ends")
    far: float = Field(-0.5, description="score beyond near_rel, or for a non-numeric answer")
    missing: float = Field(-1.0, description="score when no answer can be extracted")


class _ParamsReward(BaseReward):
    """Params validated by a pydantic model; `with_params` gives a configured copy."""

    params_model: type[_CommonParams] = _CommonParams
    isolation: Literal["inline", "process"] = "inline"
    fields = frozenset({"completion", "reference"})

    def __init__(self, **params: Any) -> None:
        self.config = validate_params(self.params_model, params, reward_name=self.name)
        self.params = self.config.model_dump()

    def with_params(self, **params: Any) -> _ParamsReward:
        return type(self)(**{**self.params, **params})

    def cache_key(self, context: RewardContext) -> str | None:
        params = orjson.dumps(self.params, option=orjson.OPT_SORT_KEYS).decode()
        return f"{type(self).__module__}:{type(self).__qualname__}:{params}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.params))


def _rebuild(cls: type[_ParamsReward], params: dict[str, Any]) -> _ParamsReward:
    return cls(**params)


def _extraction_info(found: Extraction) -> dict[str, Any]:
    return {"extracted": found.text, "rule": found.rule, "candidates": list(found.candidates)}


def _join(parts: Sequence[str]) -> str:
    """Several answers as one: conditions are alternatives (a union), values a list."""
    if all(has_relation(canonical(p)) for p in parts):
        return " \\lor ".join(parts)
    return ", ".join(parts)


def answers_to_check(found: Extraction, gold: Gold, on_conflict: str) -> tuple[str, ...] | None:
    """What must equal the gold: one answer, or each of several (`on_conflict=all`); None: refused."""
    if gold.arity > 1:
        parts = found.parts
        if len(parts) < gold.arity <= len(found.linked):
            parts = found.linked[-gold.arity :]
        return (_join(parts),) if len(parts) > 1 else (found.text,)
    if not found.conflicting:
        return (found.parts[0],) if found.parts else (found.text,)
    if on_conflict == "refuse":
        return None
    if on_conflict == "last":
        return (found.parts[-1],)
    return found.candidates


class MathEquivalence(_ParamsReward):
    """`correct` when the completion's final answer equals the gold answer mathematically, else `incorrect`.

    Gold-first: the gold (the reference, or its last `\\boxed{}` / `####` answer) decides how the
    answer is read. A gold that cannot be parsed gives `skipped`; an answer that cannot be
    compared safely (too large, undefined, sympy timeout) gives `error`, never a silent 0; a
    completion with no committed answer (none found, empty, cut off, retracted) scores `incorrect`
    with the reason. `Score.info` has the extracted answer, the rule that found it, the parsed gold
    and the layer that decided.
    """

    name = "math_equivalence"
    params_model = MathEquivalenceParams
    config: MathEquivalenceParams

    def score(self, samples: Sequence[Sample], context: RewardContext | None = None) -> list[Score]:
        context = context or RewardContext()
        settings = MathSettings(
            rel_tol=self.config.rel_tol,
            symbolic=self.config.symbolic,
            timeout=context.timeout if context.timeout is not None else self.config.timeout,
        )
        scores: list[Score | None] = [None] * len(samples)
        # (sample index, gold, the answers that must all equal it, info)
        to_verify: list[tuple[int, str, tuple[str, ...], dict[str, Any]]] = []
        for index, sample in enumerate(samples):
            planned = self._plan(sample)
            if isinstance(planned, Score):
                scores[index] = planned
            else:
                to_verify.append((index, *planned))
        pairs = [(gold, answer) for _, gold, answers, _ in to_verify for answer in answers]
        verdicts = iter(verify_many(pairs, settings))
        for index, _, answers, info in to_verify:
            own = [next(verdicts) for _ in answers]
            decided = _all_of(own)
            if len(answers) > 1 and decided.status == "ok" and not decided.equal:
                decided = replace(decided, reason=f"one of several final answers ({decided.answer}) is wrong")
            scores[index] = self._score_of(decided, info)
        return [s for s in scores if s is not None]

    def _plan(self, sample: Sample) -> Score | tuple[str, tuple[str, ...], dict[str, Any]]:
        """Gold and extraction for one sample: a finished Score, or what to compare."""
        try:
            gold = parse_gold(sample.reference)
            if gold is None:
                return Score.skipped("no usable reference answer (need a string or a number)")
            found = extract_answer(sample.completion_text, self.config.rules, think=self.config.think,
                                   choice=gold.choice is not None, truth=gold.truth is not None)
        except Exception as exc:  # one unreadable sample is an error for itself only, never for its batch
            return Score.error(f"cannot read this sample: {type(exc).__name__}: {str(exc)[:200]}")
        info: dict[str, Any] = {"gold": gold.text}
        if found is None:
            return Score.of(self.config.incorrect, reason="no final answer found", info={**info, "extracted": None})
        info.update(_extraction_info(found))
        if found.problem:
            return Score.of(self.config.incorrect, reason=found.problem, info=info)
        answers = answers_to_check(found, gold, self.config.on_conflict)
        if answers is None:
            return Score.of(self.config.incorrect, reason="conflicting final answers", info=info)
        return gold.text, answers, info

    def _score_of(self, verdict: Verdict, info: dict[str, Any]) -> Score:
        info = {**info, **verdict.to_info()}
        if verdict.status == "skipped":
            return Score.skipped(verdict.reason or "gold answer cannot be parsed", info=info)
        if verdict.status == "error":
            return Score.error(verdict.reason or "comparison failed", info=info)
        value = self.config.correct if verdict.equal else self.config.incorrect
        return Score.of(value, info=info, reason=verdict.reason)


def _all_of(verdicts: list[Verdict]) -> Verdict:
    """One verdict for several answers to one gold: the first that is not a plain match decides."""
    for verdict in verdicts:
        if verdict.status != "ok" or not verdict.equal:
            return verdict
    return verdicts[-1]


class NumericCloseness(_ParamsReward):
    """Partial credit for numeric answers (as in the Unsloth GRPO notebooks).

    `exact` when equal within `rel_tol`; otherwise `near * (1 - err / near_rel)` while the relative
    error `err` is below `near_rel`; `far` beyond that, for a non-numeric answer, or for several
    different final answers (a spray of guesses); `missing` when no answer is found. A gold that is
    not a number gives `skipped`; an answer too large or undefined gives `error`. No sympy: this
    reward never leaves the caller's process.
    """

    name = "numeric_closeness"
    params_model = NumericClosenessParams
    config: NumericClosenessParams

    def score(self, samples: Sequence[Sample], context: RewardContext | None = None) -> list[Score]:
        return [self._one(sample) for sample in samples]

    def _one(self, sample: Sample) -> Score:
        gold = parse_gold(sample.reference)
        if gold is None:
            return Score.skipped("no usable reference answer (need a string or a number)")
        try:
            gold_value = read_number(canonical(gold.text))
        except NumericError as exc:
            return Score.skipped(f"gold is not a usable number: {exc}")
        if gold_value is None:
            return Score.skipped(f"gold {gold.text!r} is not a number")
        found = extract_answer(sample.completion_text, self.config.rules, think=self.config.think)
        if found is None or found.problem:
            reason = found.problem if found is not None and found.problem else "no final answer found"
            return Score.of(self.config.missing, reason=reason, info={"extracted": None})
        info = {**_extraction_info(found), "gold": gold.text}
        try:
            values = [read_number(canonical(part)) for part in found.candidates or (found.text,)]
        except NumericError as exc:
            return Score.error(f"answer {exc}", info=info)
        if any(v is None for v in values):
            return Score.of(self.config.far, reason="answer is not a number", info=info)
        answer_value = values[-1]
        assert answer_value is not None
        if any(not numbers_equal(answer_value, v, self.config.rel_tol) for v in values if v is not None):
            return Score.of(self.config.far, reason="several different final answers", info=info)
        error = min(relative_error(g, a) for g in readings(gold_value) for a in readings(answer_value))
        info["relative_error"] = error
        if numbers_equal(gold_value, answer_value, self.config.rel_tol):
            return Score.of(self.config.exact, info=info)
        if error < self.config.near_rel:
            return Score.of(self.config.near * (1.0 - error / self.config.near_rel), info=info)
        return Score.of(self.config.far, info=info)


math_equivalence = MathEquivalence()
numeric_closeness = NumericCloseness()
