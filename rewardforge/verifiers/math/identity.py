"""Identity layer: decide `(x+1)^2` vs `x^2+2x+1` without sympy, by evaluation at random points.

- Rational functions are evaluated EXACTLY (`Fraction`) at random rational points: two different
  rational functions agree at a random point with negligible probability (Schwartz-Zippel), so
  agreement at several points is a positive verdict and one disagreement is a proof.
- Expressions with functions, roots or constants (`\\sin`, `\\sqrt{x}`, `\\pi`, `e`) are evaluated in
  floating point at small positive points (where cancellation stays tame): agreement to 1e-10 at
  every point is a positive verdict, a gap above 1e-6 a negative one, anything between is left to
  sympy. The symbolic worker decides such pairs the same way, only 1000x slower.
- Subscripted names (`x_1`, `r_{0}`) are variables like any letter.
Anything this cannot evaluate (equations, unknown commands) is left undecided for the symbolic
layer. It runs in the parent under the numeric layer's size limits.
"""

from __future__ import annotations

import cmath
import random
import re
from fractions import Fraction

from rewardforge.verifiers.math.numeric import (
    DomainError,
    NotNumeric,
    Number,
    TooLarge,
    Undefined,
    evaluate_at,
    variables_in,
)

POINTS = 4
_WORD = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{3,}")
_ATTEMPTS = 10
_AGREE = 1e-10
_DISAGREE = 1e-6


class _NeedsFloats(Exception):
    """An exact evaluation went through floats: switch to the floating-point pass."""


def identity_equal(gold: str, answer: str, *, up_to_constant: bool = False) -> bool | None:
    """True/False when evaluation decides; None when the symbolic layer must (normalised inputs).

    `up_to_constant`: equal when the difference is the same at every point (antiderivatives, `+ C`)."""
    if any(mark in gold or mark in answer for mark in ("=", "<", ">", "\\le", "\\ge")):
        return None
    if _WORD.search(gold) or _WORD.search(answer):
        return None  # words are not products of letters: "listen" is not "silent"
    gold, answer = _plain_names(gold, answer)
    names = sorted(variables_in(gold) | variables_in(answer))
    if not names:
        return None
    rng = random.Random(f"{gold}\x00{answer}")
    try:
        return _exact_pass(gold, answer, names, rng, up_to_constant)
    except _NeedsFloats:
        return _float_pass(gold, answer, names, rng, up_to_constant)
    except (NotNumeric, TooLarge, RecursionError, ValueError):
        return None


_SUBSCRIPTED = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]_(?:\{[a-zA-Z0-9]{1,6}\}|[a-zA-Z0-9])")
_FREE_LETTERS = "ABCDFGHJKLMNOPQRSTUVWXYZabcdfghjklmnopqrstuvwxyz"


def _plain_names(gold: str, answer: str) -> tuple[str, str]:
    """Subscripted names (`x_1`, `r_{0}`, `E_2`) as letters neither side uses, so they can be evaluated."""
    if "_" not in gold and "_" not in answer:
        return gold, answer
    subscripted = sorted(set(_SUBSCRIPTED.findall(gold)) | set(_SUBSCRIPTED.findall(answer)), key=len, reverse=True)
    used = variables_in(_SUBSCRIPTED.sub("", gold)) | variables_in(_SUBSCRIPTED.sub("", answer))
    free = [letter for letter in _FREE_LETTERS if letter not in used]
    if not subscripted or len(subscripted) > len(free):
        return gold, answer
    for name, letter in zip(subscripted, free, strict=False):
        gold, answer = gold.replace(name, letter), answer.replace(name, letter)
    return gold, answer


def _evaluate(text: str, point: dict[str, Fraction]) -> Number | None:
    """The value at `point`, or None at a pole / outside the domain (try another point)."""
    try:
        return evaluate_at(text, point)
    except (Undefined, DomainError):
        return None


def _exact_pass(gold: str, answer: str, names: list[str], rng: random.Random, up_to_constant: bool) -> bool | None:
    agreed = 0
    offset = None
    for _ in range(_ATTEMPTS):
        point = {n: Fraction(rng.randint(-997, 997) or 1, rng.randint(1, 89)) for n in names}
        g, a = _evaluate(gold, point), _evaluate(answer, point)
        if g is None or a is None:
            continue
        if g.exact is None or a.exact is None:
            raise _NeedsFloats
        difference = g.exact - a.exact
        offset = difference if offset is None and up_to_constant else offset
        if difference != (offset if up_to_constant else 0):
            return False
        agreed += 1
        if agreed >= POINTS:
            return True
    return None


def _float_pass(gold: str, answer: str, names: list[str], rng: random.Random, up_to_constant: bool) -> bool | None:
    agreed = 0
    offset = None
    try:
        for _ in range(_ATTEMPTS):
            point = {n: Fraction(rng.randint(50, 250), 100) for n in names}
            g, a = _evaluate(gold, point), _evaluate(answer, point)
            if g is None or a is None or not (cmath.isfinite(g.approx) and cmath.isfinite(a.approx)):
                continue
            difference = g.approx - a.approx
            if up_to_constant:
                offset = difference if offset is None else offset
                difference -= offset
            gap = abs(difference) / max(abs(g.approx), abs(a.approx), 1.0)
            if gap > _DISAGREE:
                return False
            if gap > _AGREE:
                return None
            agreed += 1
            if agreed >= POINTS:
                return True
    except (NotNumeric, TooLarge, RecursionError, ValueError):
        return None
    return None
