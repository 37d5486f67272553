"""Relations as sets of reals: `x \\ge 5` is `[5, \\infty)`, "x < -2 or x > 2" is a union of intervals.

A relation in ONE unknown (a letter, `f(x)`, `|x|`) against numeric bounds becomes a set of intervals:
- chains `-2 \\le x < 7`, either way round (`5 \\ge x`), `x \\ne 3` (two rays), `|x| < 3`, `1 \\le |z| \\le 2`;
- `x \\in [1, 2)` and `x \\in (-\\infty, 0) \\cup (1, \\infty)`; `\\mathbb{R}` and `\\emptyset`;
- conjunctions (`\\land`, or a comma) intersect, disjunctions (`\\lor`, "or") unite.
Interval and union answers (`[5, \\infty)`, `(-\\infty, 0) \\cup (1, 3]`) are read the same way, so
either side may be written either way. Sets are brought to one form (sorted, overlapping or
touching intervals merged) and compared bound by bound: values through the cheap layers, and open
against closed ends EXACTLY (`[0, 1)` is not `(0, 1)`). An infinite end is always open.

Bounds must evaluate to real numbers (exact where rational) for sorting and merging; when one does
not (`x > a`), this layer steps aside and the others decide.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from rewardforge.verifiers.math.labels import split_top
from rewardforge.verifiers.math.numeric import Number, NumericError, evaluate

_RELATION = re.compile(r"<|>|\\le(?![a-zA-Z])|\\ge(?![a-zA-Z])|\\ne(?![a-zA-Z])")
_MEMBERSHIP = re.compile(r"\\in(?![a-zA-Z])")
_INTERVAL = re.compile(r"^([\[(])(.+),(.+)([\])])$")
_REALS = re.compile(r"^(?:\\mathbb\{R\}|\\mathbb R|\\R|\(-\\infty,\\?\+?\\infty\)|allrealnumbers|all real numbers)$")
_EMPTY = re.compile(
    r"^(?:\\emptyset|\\\{\\\}|\{\}|no ?(?:real ?)?(?:solutions?|roots?)|none|the ?empty ?set)$", re.IGNORECASE)
MAX_PIECES = 16


@dataclass(frozen=True)
class Bound:
    text: str
    value: float

    @staticmethod
    def infinite(sign: int) -> Bound:
        return Bound("-\\infty" if sign < 0 else "\\infty", sign * math.inf)


@dataclass(frozen=True)
class Interval:
    low: Bound
    high: Bound
    low_closed: bool
    high_closed: bool

    def empty(self) -> bool:
        if self.low.value > self.high.value:
            return True
        return self.low.value == self.high.value and not (self.low_closed and self.high_closed)


IntervalSet = tuple[Interval, ...]


def is_empty_set(text: str) -> bool:
    """`\\emptyset`, `\\{\\}`, "no solution", "no real roots", "none"."""
    return _EMPTY.match(text) is not None


def has_relation(text: str) -> bool:
    return _RELATION.search(text) is not None or _MEMBERSHIP.search(text) is not None


def as_set(text: str) -> IntervalSet | None:
    """The set of reals a (normalised, whitespace-free) relation or interval answer stands for."""
    if _EMPTY.match(text):
        return ()
    if _REALS.match(text):
        return (Interval(Bound.infinite(-1), Bound.infinite(1), False, False),)
    try:
        disjuncts = [piece for piece, _ in split_top(text, ("\\lor", "\\cup"))]
        if len(disjuncts) > MAX_PIECES:
            return None
        result: list[Interval] = []
        for disjunct in disjuncts:
            part = _conjunction(disjunct)
            if part is None:
                return None
            result.extend(part)
        return _canonical(result)
    except (NumericError, ValueError, RecursionError, OverflowError):
        return None


def _conjunction(text: str) -> list[Interval] | None:
    pieces = [p for p, _ in split_top(text, ("\\land",))]
    if len(pieces) == 1 and _RELATION.search(text) and not _MEMBERSHIP.search(text):
        pieces = [p for p, _ in split_top(text, (",",))]
    current: list[Interval] | None = None
    for piece in pieces:
        found = _atom(piece)
        if found is None:
            return None
        current = found if current is None else _intersect(current, found)
    return current


def _atom(text: str) -> list[Interval] | None:
    text = text.strip()
    if _EMPTY.match(text):
        return []
    if _REALS.match(text):
        return [Interval(Bound.infinite(-1), Bound.infinite(1), False, False)]
    membership = re.match(r"^(?:[A-Za-z]|\\[a-z]+)(?:_\{?\w+\}?)?\\in(.+)$", text)
    if membership:
        inner = as_set(membership.group(1))
        return None if inner is None else list(inner)
    interval = _INTERVAL.match(text)
    if interval and not has_relation(text):
        return [_interval(*interval.groups())]
    return _chain(text)


def _interval(left: str, low: str, high: str, right: str) -> Interval:
    if "," in low or "," in high:
        raise ValueError("not an interval")
    return Interval(_bound(low), _bound(high), left == "[", right == "]")


def _chain(text: str) -> list[Interval] | None:
    """`a < x \\le b`, `x \\ge 5`, `5 > x`, `x \\ne 3`, `|x| < 3`: one unknown among numeric terms."""
    terms, operators = [], []
    position = 0
    for m in _RELATION.finditer(text):
        terms.append(text[position : m.start()])
        operators.append(m.group())
        position = m.end()
    terms.append(text[position:])
    if not operators or len(operators) > 2:
        return None
    unknowns = [i for i, term in enumerate(terms) if _is_unknown(term)]
    if len(unknowns) != 1:
        return None
    k = unknowns[0]
    absolute = terms[k].startswith("|")
    low, high = Bound.infinite(-1), Bound.infinite(1)
    low_closed = high_closed = False
    excluded: Bound | None = None
    for i, op in enumerate(operators):
        left_is_unknown = i == k
        other = _bound(terms[i + 1] if left_is_unknown else terms[i])
        if op == "\\ne":
            excluded = other
            continue
        # normalise to "unknown OP bound"
        less = op in ("<", "\\le")
        if not left_is_unknown:
            less = not less
        closed = op in ("\\le", "\\ge")
        if less:
            if other.value < high.value or (other.value == high.value and not closed):
                high, high_closed = other, closed
        elif other.value > low.value or (other.value == low.value and not closed):
            low, low_closed = other, closed
    if excluded is not None:
        if len(operators) != 1:
            return None
        below = Interval(Bound.infinite(-1), excluded, False, False)
        above = Interval(excluded, Bound.infinite(1), False, False)
        return _mirror([below, above]) if absolute else [below, above]
    result = [Interval(low, high, low_closed, high_closed)]
    return _mirror(result) if absolute else result


def _mirror(intervals: list[Interval]) -> list[Interval]:
    """|x| in S  <=>  x in S or -x in S, for S within [0, inf)."""
    out = []
    for interval in intervals:
        low = max(interval.low.value, 0.0)
        clipped = Interval(Bound(interval.low.text, low) if low != interval.low.value else interval.low,
                           interval.high, interval.low_closed or low > interval.low.value, interval.high_closed)
        if clipped.empty():
            continue
        negated = Interval(_negate(clipped.high), _negate(clipped.low), clipped.high_closed, clipped.low_closed)
        out.extend([negated, clipped])
    return out


def _negate(bound: Bound) -> Bound:
    if math.isinf(bound.value):
        return Bound.infinite(-1 if bound.value > 0 else 1)
    text = bound.text[1:] if bound.text.startswith("-") else f"-{bound.text}"
    return Bound(text if bound.value != 0 else "0", -bound.value)


def _is_unknown(term: str) -> bool:
    term = term.strip()
    if term.startswith("|") and term.endswith("|"):
        term = term[1:-1]
    return bool(term) and re.fullmatch(r"(?:[A-Za-z]|\\[a-z]+)(?:_\{?\w+\}?)?(?:\([A-Za-z]\))?", term) is not None


def _bound(text: str) -> Bound:
    text = text.strip()
    if re.fullmatch(r"\+?\\infty|\\infinity|\+?inf(?:inity)?", text):
        return Bound.infinite(1)
    if re.fullmatch(r"-\\infty|-\\infinity|-inf(?:inity)?", text):
        return Bound.infinite(-1)
    return Bound(text, _sort_key(evaluate(text)))


def _sort_key(value: Number) -> float:
    if value.exact is not None and abs(value.exact) < 10**300:
        return float(value.exact)
    if isinstance(value.approx, complex):
        raise ValueError("bound is not a real number")
    return value.approx


def _intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    out = []
    for x in a:
        for y in b:
            low, low_closed = max((x.low, x.low_closed), (y.low, y.low_closed), key=lambda t: (t[0].value, not t[1]))
            high, high_closed = min((x.high, x.high_closed), (y.high, y.high_closed), key=lambda t: (t[0].value, t[1]))
            candidate = Interval(low, high, low_closed, high_closed)
            if not candidate.empty():
                out.append(candidate)
    return out


def _canonical(intervals: list[Interval]) -> IntervalSet:
    """Sorted, merged where they overlap or touch with a closed end, infinite ends open."""
    pieces = sorted(
        (Interval(i.low, i.high, i.low_closed and not math.isinf(i.low.value), i.high_closed and not math.isinf(i.high.value))
         for i in intervals if not i.empty()),
        key=lambda i: (i.low.value, not i.low_closed),
    )
    merged: list[Interval] = []
    for piece in pieces:
        if merged:
            last = merged[-1]
            touching = last.high.value > piece.low.value or (
                last.high.value == piece.low.value and (last.high_closed or piece.low_closed))
            if touching:
                if (piece.high.value, piece.high_closed) > (last.high.value, last.high_closed):
                    merged[-1] = Interval(last.low, piece.high, last.low_closed, piece.high_closed)
                continue
        merged.append(piece)
    return tuple(merged)
