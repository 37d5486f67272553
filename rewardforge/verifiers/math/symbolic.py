"""Symbolic layer: sympy equivalence, meant to run inside a killable worker process.

Nothing here has a timeout of its own: the caller runs `compare_symbolic` through
`shared_pool().call(..., timeout=...)`, which kills the worker when sympy hangs or eats memory.

Parsing uses latex2sympy2_extended (Math-Verify's parser). Comparison is our own, because the
library's comparison is where Math-Verify goes wrong:
- numbers: exact rationals compare exactly; others by 40-digit evaluation with a RELATIVE tolerance
  (Math-Verify rounds to 6 decimals, so `1/2004!` equals `1/2006!` there);
- expressions in variables: identity testing at random rational points at 30 digits (one
  disagreement disproves, agreement at 4 points proves), `simplify(g - a) == 0` only when too few
  points can be evaluated;
- equations: `l1 - r1` and `l2 - r2` must be non-zero constant multiples of each other (two
  different lines are never equal just because both sides "evaluate to 0");
- inequalities: the same, with a positive multiple (a flipped `>` is handled by sign);
- tuples, intervals, sets, matrices: element-wise with the rules of the structural layer; matrix
  arithmetic (`A + B`, `AB`) is carried out first;
- anything else (boolean combinations, ...): Math-Verify's `verify` on the parsed objects.
"""

from __future__ import annotations

import functools
import random
from typing import Any

_PROBES = 4
_PROBE_DIGITS = 30
_PRECISION = 40


def _preload() -> None:
    """Import the parser stack. Called while the worker unpickles a call (see `PRELOAD`)."""
    import latex2sympy2_extended  # noqa: F401
    import sympy  # noqa: F401


class _Preload:
    """Pass as an argument: unpickling it imports sympy in the worker's load phase, which the pool
    does not count against the call's timeout, so a fresh worker's first call is not starved."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_preload, ())


PRELOAD = _Preload()


def warm() -> bool:
    """Import the heavy parts so a fresh worker answers its first real call quickly."""
    _parse("\\frac{1}{2}+x")
    return True


def clear_cache() -> bool:
    """Forget parsed expressions in this worker (benchmarks measure cold work with this)."""
    _parse.cache_clear()
    return True


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> Any:
    from latex2sympy2_extended import NormalizationConfig, latex2sympy

    latex = text.replace("%", "\\%")
    config = NormalizationConfig(basic_latex=True, units=True, malformed_operators=True, nits=True, boxed="all")
    return latex2sympy(latex, normalization_config=config)


def compare_symbolic(gold: str, answer: str, rel_tol: float, preload: Any = None) -> tuple[str, bool | None, str]:
    """(status, equal, detail): status is "ok", or "gold_unparseable" (equal is None then).

    `preload` is `PRELOAD` from the caller; it has done its work by the time this runs."""
    try:
        gold_expr = _parse(gold)
    except Exception as exc:
        return "gold_unparseable", None, f"{type(exc).__name__}: {exc}"[:300]
    try:
        answer_expr = _parse(answer)
    except Exception as exc:
        return "ok", False, f"answer unparseable: {type(exc).__name__}: {exc}"[:300]
    return "ok", _equal(gold_expr, answer_expr, rel_tol), str(gold_expr)[:300]


def _equal(gold: Any, answer: Any, rel_tol: float) -> bool:
    import sympy
    from sympy.core.relational import Relational
    from sympy.matrices.expressions import MatrixExpr

    gold, answer = (x.doit() if isinstance(x, MatrixExpr) else x for x in (gold, answer))  # `A + B`, `AB`
    if isinstance(gold, Relational) and isinstance(answer, Relational):
        return _relations_equal(gold, answer)
    if isinstance(gold, sympy.Eq) and isinstance(gold.lhs, sympy.Symbol):
        return _equal(gold.rhs, answer, rel_tol)  # gold `x = 5`: the value is what is asked for
    if isinstance(answer, sympy.Eq) and isinstance(answer.lhs, sympy.Symbol):
        return _equal(gold, answer.rhs, rel_tol)
    if isinstance(gold, Relational) or isinstance(answer, Relational):
        return False
    if isinstance(gold, sympy.MatrixBase) or isinstance(answer, sympy.MatrixBase):
        if not (isinstance(gold, sympy.MatrixBase) and isinstance(answer, sympy.MatrixBase)):
            return False
        return gold.shape == answer.shape and all(_equal(g, a, rel_tol) for g, a in zip(gold, answer, strict=True))
    if isinstance(gold, sympy.Tuple) or isinstance(answer, sympy.Tuple):
        if not (isinstance(gold, sympy.Tuple) and isinstance(answer, sympy.Tuple)) or len(gold) != len(answer):
            return False
        return all(_equal(g, a, rel_tol) for g, a in zip(gold.args, answer.args, strict=True))
    if isinstance(gold, sympy.Interval) and isinstance(answer, sympy.Interval):
        return (gold.left_open, gold.right_open) == (answer.left_open, answer.right_open) and _equal(
            gold.start, answer.start, rel_tol
        ) and _equal(gold.end, answer.end, rel_tol)
    if isinstance(gold, sympy.FiniteSet) and isinstance(answer, sympy.FiniteSet):
        return _same_elements(list(gold.args), list(answer.args), rel_tol)
    if isinstance(gold, sympy.Expr) and isinstance(answer, sympy.Expr):
        return _expressions_equal(gold, answer, rel_tol)
    if isinstance(gold, sympy.Set) or isinstance(answer, sympy.Set):
        return bool(gold == answer) or _library_verify(gold, answer)
    return _library_verify(gold, answer)


def _same_elements(gold: list[Any], answer: list[Any], rel_tol: float) -> bool:
    if len(gold) != len(answer):
        return False
    remaining = list(answer)
    for g in gold:
        match = next((i for i, a in enumerate(remaining) if _equal(g, a, rel_tol)), None)
        if match is None:
            return False
        remaining.pop(match)
    return True


def _expressions_equal(gold: Any, answer: Any, rel_tol: float) -> bool:
    import sympy

    if gold.has(sympy.nan, sympy.zoo) or answer.has(sympy.nan, sympy.zoo):
        raise ValueError("undefined value (nan or complex infinity)")
    if gold == answer:
        return True
    if gold.is_infinite or answer.is_infinite:
        return bool(gold == answer)
    symbols = gold.free_symbols | answer.free_symbols
    if not symbols:
        return _numbers_close(gold, answer, rel_tol)
    verdict = _probes(gold, answer, sorted(symbols, key=str))
    if verdict is not None:
        return verdict
    return bool(sympy.simplify(gold - answer) == 0)


def _numbers_close(gold: Any, answer: Any, rel_tol: float) -> bool:
    import sympy

    if gold.is_Rational and answer.is_Rational:
        return bool(gold == answer)  # exact rationals compare exactly: 1/2004! is not 1/2006!
    g, a = sympy.N(gold, _PRECISION), sympy.N(answer, _PRECISION)
    if not (g.is_number and a.is_number):
        return bool(sympy.simplify(gold - answer) == 0)
    scale = max(abs(g), abs(a))
    if scale == 0:
        return True
    close = abs(g - a) <= sympy.Float(rel_tol) * scale
    return close is sympy.true or close is True


def _probes(gold: Any, answer: Any, symbols: list[Any]) -> bool | None:
    """Identity testing at random points, at 30 digits: one disagreement disproves equality, agreement
    at every point proves it (up to a negligible chance); None when too few points can be evaluated."""
    import sympy

    not_finite = _not_finite()
    rng = random.Random(0)
    agreed = 0
    for _ in range(_PROBES * 3):
        point = {s: sympy.Rational(rng.randint(1, 97), rng.randint(1, 13)) for s in symbols}
        g = gold.evalf(_PROBE_DIGITS, subs=point)
        a = answer.evalf(_PROBE_DIGITS, subs=point)
        if not (g.is_number and a.is_number) or g.has(*not_finite) or a.has(*not_finite):
            continue  # a pole, or not numeric here: try another point
        # sympy numbers, not floats: 10^8! must not overflow to inf and "agree" with inf
        gap, scale = abs(g - a).evalf(_PROBE_DIGITS), max(abs(g), abs(a)).evalf(_PROBE_DIGITS)
        if not (gap.is_number and scale.is_number) or gap.has(*not_finite) or scale.has(*not_finite):
            continue
        if bool(gap > sympy.Float("1e-9") * scale):
            return False
        agreed += 1
        if agreed >= _PROBES:
            return True
    return None


def _not_finite() -> tuple[Any, ...]:
    import sympy

    return (sympy.nan, sympy.zoo, sympy.oo, -sympy.oo)


def _relations_equal(gold: Any, answer: Any) -> bool:
    import sympy

    flips = {sympy.Gt: sympy.Lt, sympy.Ge: sympy.Le, sympy.Lt: sympy.Gt, sympy.Le: sympy.Ge}
    g_diff = gold.lhs - gold.rhs
    a_diff = answer.lhs - answer.rhs
    same_kind = type(gold) is type(answer)
    flipped = flips.get(type(gold)) is type(answer)
    if not (same_kind or flipped):
        return False
    if a_diff == 0:
        return bool(g_diff == 0)
    ratio = sympy.simplify(g_diff / a_diff)
    if ratio.free_symbols or ratio == 0 or not ratio.is_number:
        return False
    if isinstance(gold, sympy.Eq) or isinstance(gold, sympy.Ne):
        return True
    return bool(ratio > 0) if same_kind else bool(ratio < 0)


def _library_verify(gold: Any, answer: Any) -> bool:
    import logging

    from math_verify import verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)  # it warns that we run it without its alarm

    return bool(verify(gold, answer, timeout_seconds=None))
