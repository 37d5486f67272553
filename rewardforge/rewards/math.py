"""Math rewards: `math_equivalence` (is the final answer right?) and `numeric_closeness` (how close?).

Both are thin policies over `verifiers.math` (extraction, then equivalence). They are `isolation="inline"`:
cheap layers run in the caller's process with hard size limits, and only sympy work goes to the
shared killable worker pool with a per-comparison deadline (`context.timeout`, else the `timeout`
param), so the engine need not wrap them in a worker of their own.

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
from rewardforge.verifiers.math.equivalence import (
    DEFAULT_TIMEOUT,
    MathSettings,
    Verdict,
    gold_answer,
    numbers_equal,
    read_number,
    readings,
    verify_many,
)
from rewardforge.verifiers.math.extract import DEFAULT_RULES, Extraction, check_rules, extract_answer
from rewardforge.verifiers.math.normalize import normalize
from rewardforge.verifiers.math.numeric import TooLarge, Undefined
from rewardforge.verifiers.math.structural import parse_structure


class _CommonParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: tuple[str, ...] = Field(DEFAULT_RULES, description="extraction rules, highest priority first")
    rel_tol: float = Field(1e-6, ge=0.0, lt=1.0, description="relative tolerance for rounded values")

    @field_validator("rules", mode="before")
    @classmethod
    def _known_rules(cls, value: Any) -> tuple[str, ...]:
        return check_rules(list(value))


class MathEquivalenceParams(_CommonParams):
    correct: float = 1.0
    incorrect: float = 0.0
    on_conflict: Literal["all", "last", "refuse"] = Field(
        "all",
        description=(
            "several distinct final answers: `all` must each equal the gold (one value in two spellings "
            "passes, a spray of candidates does not), `last` judges only the last, `refuse` scores `incorrect`"
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


def _gold_of(sample: Sample) -> str | None:
    reference = sample.reference
    if reference is None or isinstance(reference, bool) or not isinstance(reference, str | int | float):
        return None
    text = gold_answer(str(reference))
    return text or None


def _extraction_info(found: Extraction) -> dict[str, Any]:
    return {"extracted": found.text, "rule": found.rule, "candidates": list(found.candidates)}


def _multi_valued(gold: str) -> bool:
    """A gold with several values (`2, 3`, `x=2 or x=3`) makes several answers legitimate."""
    normalised = normalize(gold)
    return parse_structure(normalised) is not None or " or " in gold or "\\text{or}" in normalised


class MathEquivalence(_ParamsReward):
    """`correct` when the completion's final answer equals the gold answer mathematically, else `incorrect`.

    Gold-first: the gold (the reference, or its last `\\boxed{}` / `####` answer) decides how the
    answer is read. A gold that cannot be parsed gives `skipped`; an answer that cannot be
    compared safely (too large, undefined, sympy timeout) gives `error`, never a silent 0.
    `Score.info` has the extracted answer, the rule that found it, the parsed gold and the layer
    that decided.
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
            gold = _gold_of(sample)
            if gold is None:
                scores[index] = Score.skipped("no usable reference answer (need a string or a number)")
                continue
            found = extract_answer(sample.completion_text, self.config.rules)
            if found is None:
                scores[index] = Score.of(self.config.incorrect, reason="no final answer found",
                                         info={"extracted": None, "gold": gold})
                continue
            info = _extraction_info(found)
            answers: tuple[str, ...] = (found.text,)
            if found.conflicting:
                if self.config.on_conflict == "refuse" and not _multi_valued(gold):
                    scores[index] = Score.of(self.config.incorrect, reason="conflicting final answers",
                                             info={**info, "gold": gold})
                    continue
                # Separate final statements (\boxed{1} ... \boxed{3}) must each be right under `all`; one
                # statement offering alternatives ("x=2 or x=3") is judged whole, which only a
                # multi-valued gold can match.
                if self.config.on_conflict == "all" and found.statements > 1:
                    answers = found.candidates
            to_verify.append((index, gold, answers, info))
        pairs = [(gold, answer) for _, gold, answers, _ in to_verify for answer in answers]
        verdicts = iter(verify_many(pairs, settings))
        for index, gold, answers, info in to_verify:
            own = [next(verdicts) for _ in answers]
            decided = _all_of(own)
            if len(answers) > 1 and decided.status == "ok" and not decided.equal:
                decided = replace(decided, reason=f"one of several final answers ({decided.answer}) is wrong")
            scores[index] = self._score_of(decided, {**info, "gold": gold})
        return [s for s in scores if s is not None]

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
    different final answers (a spray of guesses); `missing` when no answer is found. A gold that is not a number gives `skipped`; an answer too large or undefined
    gives `error`. No sympy: this reward never leaves the caller's process.
    """

    name = "numeric_closeness"
    params_model = NumericClosenessParams
    config: NumericClosenessParams

    def score(self, samples: Sequence[Sample], context: RewardContext | None = None) -> list[Score]:
        return [self._one(sample) for sample in samples]

    def _one(self, sample: Sample) -> Score:
        gold = _gold_of(sample)
        if gold is None:
            return Score.skipped("no usable reference answer (need a string or a number)")
        try:
            gold_value = read_number(gold)
        except (TooLarge, Undefined) as exc:
            return Score.skipped(f"gold is not a usable number: {exc}")
        if gold_value is None:
            return Score.skipped(f"gold {gold!r} is not a number")
        found = extract_answer(sample.completion_text, self.config.rules)
        if found is None:
            return Score.of(self.config.missing, reason="no final answer found", info={"extracted": None})
        info = {**_extraction_info(found), "gold": gold}
        try:
            answer_value = read_number(found.text)
        except (TooLarge, Undefined) as exc:
            return Score.error(f"answer {exc}", info=info)
        if answer_value is None:
            return Score.of(self.config.far, reason="answer is not a number", info=info)
        if found.conflicting and not self._agree(found.candidates, answer_value):
            return Score.of(self.config.far, reason="several different final answers", info=info)
        error = min(relative_error(g.approx, a.approx) for g in readings(gold_value) for a in readings(answer_value))
        info["relative_error"] = error
        if numbers_equal(gold_value, answer_value, self.config.rel_tol):
            return Score.of(self.config.exact, info=info)
        if error < self.config.near_rel:
            return Score.of(self.config.near * (1.0 - error / self.config.near_rel), info=info)
        return Score.of(self.config.far, info=info)

    def _agree(self, candidates: tuple[str, ...], last: Any) -> bool:
        """Whether every candidate final answer is the same number as the last (a spray is not)."""
        for text in candidates:
            try:
                value = read_number(text)
            except (TooLarge, Undefined):
                return False
            if value is None or not numbers_equal(last, value, self.config.rel_tol):
                return False
        return True


def relative_error(gold: float, answer: float) -> float:
    """|answer - gold| / |gold|, with an exact 0 gold treated as scale 1 (no division by zero)."""
    if gold != gold or answer != answer or abs(answer) == float("inf") or abs(gold) == float("inf"):
        return float("inf")
    return abs(answer - gold) / (abs(gold) or 1.0)


math_equivalence = MathEquivalence()
numeric_closeness = NumericCloseness()
