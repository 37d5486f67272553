"""Hypothesis strategies for what a policy may write, and the properties every reward keeps on them.

```python
from hypothesis import given
from rewardforge.testing.strategies import check_in_range, check_never_raises, completions

@given(completions(answers=["3", "\\\\frac{1}{2}"]))
def test_math_reward_is_total(completion):
    check_never_raises("math_equivalence", {"completion": completion, "reference": "3"})
    check_in_range("math_equivalence", {"completion": completion, "reference": "3"})
```

The completions mix what breaks parsers in practice: LaTeX with nested and unbalanced braces,
reasoning tags (closed, unclosed, repeated), code fences, chat special tokens, look-alike and
invisible characters, right-to-left text, huge numbers, and long repetition. Needs `hypothesis`
(`pip install 'rewardforge[testing]'`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from rewardforge.core.types import Sample, Score
from rewardforge.testing.targets import RewardSpec, TestTarget, load_target

_SPECIAL = ["<|im_end|>", "<|im_start|>assistant\n", "</s>", "<|endoftext|>", "<|eot_id|>", "[INST]",
            "<end_of_turn>", "\u200b", "\u200e", "\u202e", "\ufeff", "\x00", "\r\n", "\t", "😀", "ｘ", "З", "а"]
_WORDS = ["the answer is", "Answer:", "####", "therefore", "so", "=", "or", "and", ",", ".", " ", "\n",
          "Final Answer: The final answer is", "x", "y", "\\pi", "\\infty", "%", "$", "\\$", "km", "\\text{m}"]


def numbers() -> st.SearchStrategy[str]:
    """Numbers as models write them: signs, separators, decimals, exponents, fractions, very large ones."""
    return st.one_of(
        st.integers(-10**6, 10**6).map(str),
        st.integers(-10**40, 10**40).map(str),
        st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
        st.integers(1000, 10**9).map(lambda n: f"{n:,}"),
        st.tuples(st.integers(-99, 99), st.integers(1, 99)).map(lambda t: f"{t[0]}/{t[1]}"),
        st.tuples(st.integers(1, 9), st.integers(-30, 30)).map(lambda t: f"{t[0]}e{t[1]}"),
        st.sampled_from(["10^{10^{10}}", "9!!!!", "0.000", "-0", "1e999", ".5", "1 000", "NaN", "inf"]),
    )


def latex() -> st.SearchStrategy[str]:
    """LaTeX fragments, including nested, empty and unbalanced braces."""
    leaf = st.one_of(numbers(), st.sampled_from(["x", "y", "\\pi", "\\infty", "a+b", "", "{", "}"]))

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            inner.map(lambda t: f"\\boxed{{{t}}}"),
            st.tuples(inner, inner).map(lambda t: f"\\frac{{{t[0]}}}{{{t[1]}}}"),
            inner.map(lambda t: f"\\sqrt{{{t}}}"),
            inner.map(lambda t: f"\\text{{{t}}}"),
            st.tuples(inner, inner).map(lambda t: f"({t[0]}, {t[1]}]"),
            inner.map(lambda t: f"${t}$"),
            inner.map(lambda t: f"\\left({t}\\right)"),
            inner.map(lambda t: f"{{{t}"),  # an unclosed brace
        )

    return st.recursive(leaf, extend, max_leaves=6)


def tagged(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Reasoning and answer tags around text: closed, unclosed, empty, repeated, misnested."""
    tag = st.sampled_from(["think", "answer", "reasoning", "solution", "response"])
    return st.one_of(
        st.tuples(tag, inner).map(lambda t: f"<{t[0]}>{t[1]}</{t[0]}>"),
        st.tuples(tag, inner).map(lambda t: f"<{t[0]}>{t[1]}"),
        st.tuples(tag, inner).map(lambda t: f"{t[1]}</{t[0]}>"),
        st.tuples(tag, tag, inner).map(lambda t: f"<{t[0]}><{t[1]}>{t[2]}</{t[0]}></{t[1]}>"),
    )


def code_blocks(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    lang = st.sampled_from(["python", "py", "", "cpp", "javascript"])
    return st.one_of(
        st.tuples(lang, inner).map(lambda t: f"```{t[0]}\n{t[1]}\n```"),
        st.tuples(lang, inner).map(lambda t: f"```{t[0]}\n{t[1]}"),  # cut off mid-block
        st.sampled_from(["def f(x):\n    return x\n", "import sys\nsys.exit(0)\n", "while True:\n    pass\n",
                         "print(input())\n", "class A:\n    def __eq__(self, o):\n        return True\n"]),
    )


def completions(*, answers: Sequence[str] = (), max_pieces: int = 12) -> st.SearchStrategy[str]:
    """Completions a policy may produce; `answers` (e.g. the reference) are mixed in so that right,
    wrong, hedged and sprayed answers all occur."""
    atoms: list[st.SearchStrategy[str]] = [
        st.text(max_size=30), numbers(), latex(), st.sampled_from(_SPECIAL), st.sampled_from(_WORDS),
    ]
    if answers:
        atoms.append(st.sampled_from(list(answers)))
    atom = st.one_of(*atoms)
    piece = st.one_of(atom, tagged(atom), code_blocks(atom))
    joined = st.lists(piece, max_size=max_pieces).map("".join)
    repeated = st.tuples(piece, st.integers(50, 2000)).map(lambda t: t[0] * t[1])
    return st.one_of(joined, joined, joined, repeated)


def chats(completion: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Chat-format completions: message lists whose last message is the assistant's (maybe multimodal)."""
    text = completion or completions()
    message = st.one_of(
        text.map(lambda t: {"role": "assistant", "content": t}),
        text.map(lambda t: {"role": "assistant", "content": [{"type": "text", "text": t}]}),
    )
    return st.lists(message, min_size=1, max_size=3)


def samples(*, references: st.SearchStrategy[Any] | Sequence[Any] = (), prompts: Sequence[str] = ("",),
            answers: Sequence[str] = ()) -> st.SearchStrategy[Sample]:
    """Samples with generated completions over the given references (or generated numbers)."""
    refs = references if isinstance(references, st.SearchStrategy) else (
        st.sampled_from(list(references)) if references else numbers())
    return st.builds(lambda c, r, p: Sample(completion=c, reference=r, prompt=p),
                     st.one_of(completions(answers=answers), chats()), refs, st.sampled_from(list(prompts)))


# Engine and reward wrappers write an uncaught exception as "<ExceptionClass>: message".
_UNCAUGHT = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)\b:")
_targets: dict[str, TestTarget] = {}


def _target(reward: RewardSpec | TestTarget) -> TestTarget:
    if isinstance(reward, TestTarget):
        return reward
    if isinstance(reward, str):
        if reward not in _targets:
            _targets[reward] = load_target(reward)
        return _targets[reward]
    return load_target(reward)


def _one(reward: RewardSpec | TestTarget, sample: Sample | dict[str, Any], params: dict[str, Any] | None) -> Score:
    target = _target(reward)
    sample = sample if isinstance(sample, Sample) else Sample.model_validate(sample)
    try:
        scores = target.build(params or {}).score([sample])
    except Exception as exc:
        raise AssertionError(f"{target.name} raised {type(exc).__name__}: {exc}\n    on {sample!r}") from exc
    if len(scores) != 1 or not isinstance(scores[0], Score):
        raise AssertionError(f"{target.name} returned {scores!r} for one sample")
    return scores[0]


def check_never_raises(reward: RewardSpec | TestTarget, sample: Sample | dict[str, Any], *,
                       params: dict[str, Any] | None = None) -> Score:
    """The reward returns one Score and does not raise, nor hide an uncaught exception in an error
    Score (its reason starts with the exception's class name). A typed error the reward chose to return
    ("answer too large to evaluate") is fine."""
    verdict = _one(reward, sample, params)
    if verdict.status == "error" and _UNCAUGHT.match(verdict.reason or ""):
        raise AssertionError(f"{_target(reward).name} failed with an uncaught exception: {verdict.reason}\n"
                             f"    on {sample!r}")
    return verdict


def check_in_range(reward: RewardSpec | TestTarget, sample: Sample | dict[str, Any], *,
                   low: float | None = None, high: float | None = None,
                   params: dict[str, Any] | None = None) -> Score:
    """An ok value stays within [low, high]; by default the range the reward declares (`range:` in its
    registry entry, for its default params)."""
    target = _target(reward)
    if low is None or high is None:
        if target.range is None:
            raise ValueError(f"{target.name} declares no range: pass low= and high=")
        low = target.range[0] if low is None else low
        high = target.range[1] if high is None else high
    verdict = _one(target, sample, params)
    if verdict.value is not None and not low - 1e-9 <= verdict.value <= high + 1e-9:
        raise AssertionError(f"{target.name} gave {verdict.value}, outside its range [{low}, {high}]\n"
                             f"    on {sample!r}")
    return verdict
