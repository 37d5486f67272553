"""Length-shaping rewards: DAPO overlong punishment, Kimi 1.5 length reward, cosine length, thinking budget.

Lengths are in characters by default or in tokens of a given tokenizer (`unit="tokens"`,
`tokenizer=` a transformers name, local path or object); `length_key` reads a count the trainer
already knows from `metadata`. Formulas follow the papers; see each docstring.
"""

import math
from collections import defaultdict
from collections.abc import Hashable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from rewardforge.core.types import Reward, RewardContext, Sample, Score, reward
from rewardforge.rewards.correctness import correctness
from rewardforge.rewards.counting import LengthUnit, completion_length, text_length
from rewardforge.verifiers.format import DEFAULT_EOS_TOKENS, TagSpec, strip_trailing_eos


def _valid_tag(tag: str | list[str]) -> str | list[str]:
    TagSpec.parse(tag)
    return tag


PositiveInt = Annotated[int, Field(gt=0)]
ThinkTag = Annotated[str | list[str], AfterValidator(_valid_tag)]
NonNegativeInt = Annotated[int, Field(ge=0)]


@reward(isolation="inline")
def overlong_penalty(
    completion: str,
    metadata: dict[str, Any],
    *,
    max_length: PositiveInt = 20480,
    buffer: NonNegativeInt = 4096,
    factor: float = 1.0,
    unit: LengthUnit = "chars",
    tokenizer: Any = None,
    length_key: str | None = None,
) -> Score:
    """DAPO's soft overlong punishment (Yu et al. 2025, "Overlong Reward Shaping").

    With L = length, L_max = `max_length`, L_cache = `buffer`:
      0                                   when L <= L_max - L_cache
      ((L_max - L_cache) - L) / L_cache   when L_max - L_cache < L <= L_max   (linear from 0 to -1)
      -1                                  when L > L_max
    times `factor`. DAPO used L_max = 20480 and L_cache = 4096 tokens. `buffer=0` is a hard cliff.
    Added to the task reward, it tells the policy "you are about to be truncated" before it is.

    Args:
        max_length: L_max: the length at which the penalty reaches -1 (times factor).
        buffer: L_cache: the penalty ramps down over the last `buffer` units before max_length; 0 is a cliff.
        factor: scale of the penalty.
        unit: `chars` or `tokens` (of `tokenizer`).
        tokenizer: a transformers tokenizer name or path, for unit=tokens.
        length_key: read the length from metadata[length_key] instead of counting.
    """
    if buffer > max_length:
        raise ValueError(f"buffer ({buffer}) must not exceed max_length ({max_length})")
    length = completion_length(completion, metadata, unit=unit, tokenizer=tokenizer, length_key=length_key)
    soft_start = max_length - buffer
    if length <= soft_start:
        penalty = 0.0
    elif length <= max_length:
        penalty = (soft_start - length) / buffer
    else:
        penalty = -1.0
    return Score.of(factor * penalty, info={"length": length})


Correctness = Reward | str | None
GroupBy = Literal["group", "batch"]


def _group_key(sample: Sample, group_by: GroupBy) -> Hashable:
    if group_by == "batch":
        return None
    return ("id", sample.group_id) if sample.group_id is not None else ("prompt", sample.prompt_text)


def _lengths(samples: list[Sample], unit: LengthUnit, tokenizer: Any, length_key: str | None) -> list[int]:
    return [completion_length(s.completion_text, s.metadata, unit=unit, tokenizer=tokenizer,
                              length_key=length_key) for s in samples]


@reward(batched=True, isolation="inline")
def kimi_length(
    samples: list[Sample],
    context: RewardContext,
    *,
    group_by: GroupBy = "group",
    correct_key: str = "correct",
    correctness_reward: Correctness = None,
    correctness_params: dict[str, Any] = {},  # noqa: B006 - pydantic copies defaults per instance
    threshold: float = 1.0,
    unit: LengthUnit = "chars",
    tokenizer: Any = None,
    length_key: str | None = None,
) -> list[Score]:
    """Kimi k1.5's length reward (Kimi Team 2025, section "Length Penalty"), batch-relative.

    Over the k responses to one problem, with min_len / max_len their shortest / longest length:
      lambda = 0.5 - (len_i - min_len) / (max_len - min_len)
      reward = lambda            when response i is correct
      reward = min(0, lambda)    when it is wrong (short wrong answers are not rewarded)
    When every response has the same length there is nothing to prefer, and the reward is 0 for all.

    - Groups: `group_by="group"` uses `sample.group_id` (falling back to the prompt text when unset);
      `"batch"` treats the whole batch as one group. A group of one scores 0.
    - Correctness: from `correctness_reward` (a registry name such as "math_equivalence", a
      `module:attr`, or a Reward, configured by `correctness_params`; value >= `threshold` is correct),
      else from `metadata[correct_key]` (bool, or a number compared with `threshold`). A sample with
      unknown correctness is skipped, but its length still counts toward its group's min and max.
    Kimi adds this, weighted, to the task reward; compose it with `weighted_sum`.

    Args:
        group_by: `group`: by group_id (else the prompt); `batch`: the whole batch is one group.
        correct_key: the metadata key holding correctness, when no correctness_reward is given.
        correctness_reward: a reward that judges correctness (a registry name, pkg.module:attr or a Reward).
        correctness_params: params for correctness_reward.
        threshold: a correctness value at or above this counts as correct.
        unit: `chars` or `tokens` (of `tokenizer`).
        tokenizer: a transformers tokenizer name or path, for unit=tokens.
        length_key: read the length from metadata[length_key] instead of counting.
    """
    lengths = _lengths(samples, unit, tokenizer, length_key)
    verdicts = correctness(samples, context, key=correct_key, correctness_reward=correctness_reward,
                           correctness_params=correctness_params, threshold=threshold)
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for index, sample in enumerate(samples):
        groups[_group_key(sample, group_by)].append(index)
    scores: dict[int, Score] = {}
    for members in groups.values():
        shortest = min(lengths[i] for i in members)
        longest = max(lengths[i] for i in members)
        for i in members:
            verdict = verdicts[i]
            if isinstance(verdict, Score):
                scores[i] = verdict
                continue
            if longest == shortest:
                value = 0.0
            else:
                lam = 0.5 - (lengths[i] - shortest) / (longest - shortest)
                value = lam if verdict else min(0.0, lam)
            info = {"length": lengths[i], "min_length": shortest, "max_length": longest, "correct": verdict}
            scores[i] = Score.of(value, info=info)
    return [scores[i] for i in range(len(samples))]


@reward(batched=True, isolation="inline")
def cosine_length(
    samples: list[Sample],
    context: RewardContext,
    *,
    max_length: PositiveInt = 1000,
    min_value_wrong: float = -1.0,
    max_value_wrong: float = -0.5,
    min_value_correct: float = 0.5,
    max_value_correct: float = 1.0,
    overlong_value: float | None = None,
    correct_key: str = "correct",
    correctness_reward: Correctness = None,
    correctness_params: dict[str, Any] = {},  # noqa: B006
    threshold: float = 1.0,
    unit: LengthUnit = "chars",
    tokenizer: Any = None,
    length_key: str | None = None,
) -> list[Score]:
    """Correctness-aware cosine schedule over length (Yeo et al. 2025, "Demystifying Long CoT").

    With t = min(length, max_length) / max_length and c = (1 + cos(pi * t)) / 2 (1 at t=0, 0 at t=1):
      correct: min_value_correct + (max_value_correct - min_value_correct) * c   (short correct is best)
      wrong:   max_value_wrong + (min_value_wrong - max_value_wrong) * c         (short wrong is worst)
    so a correct answer earns 1.0 -> 0.5 as it grows, and a wrong one -1.0 -> -0.5: the policy is told
    to think longer when wrong and shorter when right. Past `max_length` the value is
    `overlong_value` when set (the paper's exceed-length penalty), else the value at `max_length`.
    Correctness comes from `correctness_reward` or `metadata[correct_key]`, as for `kimi_length`.

    Args:
        max_length: the length at which the schedule reaches its end values.
        min_value_wrong: the value of a wrong answer of length 0 (the lowest).
        max_value_wrong: the value of a wrong answer at max_length.
        min_value_correct: the value of a correct answer at max_length.
        max_value_correct: the value of a correct answer of length 0 (the highest).
        overlong_value: the value past max_length (the paper's exceed-length penalty); null keeps the end value.
        correct_key: the metadata key holding correctness, when no correctness_reward is given.
        correctness_reward: a reward that judges correctness (a registry name, pkg.module:attr or a Reward).
        correctness_params: params for correctness_reward.
        threshold: a correctness value at or above this counts as correct.
        unit: `chars` or `tokens` (of `tokenizer`).
        tokenizer: a transformers tokenizer name or path, for unit=tokens.
        length_key: read the length from metadata[length_key] instead of counting.
    """
    lengths = _lengths(samples, unit, tokenizer, length_key)
    verdicts = correctness(samples, context, key=correct_key, correctness_reward=correctness_reward,
                           correctness_params=correctness_params, threshold=threshold)
    scores = []
    for length, verdict in zip(lengths, verdicts, strict=True):
        if isinstance(verdict, Score):
            scores.append(verdict)
            continue
        info = {"length": length, "correct": verdict}
        if length > max_length and overlong_value is not None:
            scores.append(Score.of(overlong_value, info=info))
            continue
        closeness = (1.0 + math.cos(math.pi * min(length, max_length) / max_length)) / 2.0
        if verdict:
            value = min_value_correct + (max_value_correct - min_value_correct) * closeness
        else:
            value = max_value_wrong + (min_value_wrong - max_value_wrong) * closeness
        scores.append(Score.of(value, info=info))
    return scores


def think_section(text: str, tag: TagSpec, *, template_opened: bool) -> tuple[str, bool] | None:
    """The text inside the think section and whether it was closed, or None when there is none.

    The section starts after the opening marker, or at the very start when the template opened it
    (`template_opened`) or when a closing marker appears with no opening one before it; it ends at
    the first closing marker, or at the end of the text when thinking was cut off.
    """
    close_at = text.find(tag.close)
    open_at = text.find(tag.open)
    if open_at != -1 and (close_at == -1 or open_at < close_at):
        start = open_at + len(tag.open)
        close_at = text.find(tag.close, start)
    elif template_opened or close_at != -1:
        start = 0
    else:
        return None
    if close_at == -1:
        return text[start:], False
    return text[start:close_at], True


@reward(isolation="inline")
def thinking_budget(
    completion: str,
    *,
    budget: PositiveInt = 4096,
    ramp: PositiveInt | None = None,
    max_penalty: float = 1.0,
    think_tag: ThinkTag = "think",
    template_opened: bool = False,
    missing: Literal["skip", "zero"] = "skip",
    unit: LengthUnit = "chars",
    tokenizer: Any = None,
) -> Score:
    """A penalty for thinking past a budget: 0 within `budget`, then linearly down to -`max_penalty`
    once the think section is `ramp` (default: `budget`) past it; never below -`max_penalty`.

    The think section is found as in `think_section`; an unclosed one (truncated mid-thought) counts
    in full. A completion with no think section at all is `skipped` by default, since the budget says
    nothing about it (the format reward is what should punish a missing section); `missing="zero"`
    scores it 0.0 instead, for trainers that want a number for every sample.

    Args:
        budget: the think length allowed without penalty.
        ramp: how far past the budget the penalty reaches max_penalty (default: budget).
        max_penalty: the largest penalty.
        think_tag: the think section's tag name, or a pair of literal markers.
        template_opened: the chat template already emitted the opening marker.
        missing: a completion without a think section: `skip` it, or score it `zero`.
        unit: `chars` or `tokens` (of `tokenizer`).
        tokenizer: a transformers tokenizer name or path, for unit=tokens.
    """
    tag = TagSpec.parse(think_tag)
    section = think_section(strip_trailing_eos(completion, DEFAULT_EOS_TOKENS), tag,
                            template_opened=template_opened)
    if section is None:
        if missing == "zero":
            return Score.of(0.0, info={"think_length": 0})
        return Score.skipped(f"no {tag.open} section to measure")
    content, closed = section
    length = text_length(content, unit, tokenizer)
    excess = max(0, length - budget)
    penalty = max_penalty * min(1.0, excess / (ramp or budget))
    return Score.of(-penalty, info={"think_length": length, "excess": excess, "closed": closed})

