"""Judging outputs in the trusted parent: type-aware equality of returned values, and line-strict
comparison of standard output. Nothing here ever runs code from the sandbox: values arrive as data."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CompareOptions:
    """How strictly a returned value must match.

    - `strict_types` (default): `True` is not `1`, an int is not a float (a float expected accepts an
      int), `str` is not `bytes`. Off: Python's own `==` (what an `assert f(x) == y` line means).
    - `tuple_list_equal`: a tuple and a list with equal items match (JSON references cannot hold tuples).
    - `float_tol`: floats match within this absolute-or-relative tolerance; None means exact.
    """

    strict_types: bool = True
    tuple_list_equal: bool = False
    float_tol: float | None = None


PYTHON_EQ = CompareOptions(strict_types=False)

_SEQUENCES = (list, tuple)


def _floats_equal(actual: float, expected: float, tol: float | None) -> bool:
    if math.isnan(expected) or math.isnan(actual):
        return math.isnan(expected) and math.isnan(actual)
    if tol is None or math.isinf(expected) or math.isinf(actual):
        return actual == expected
    return math.isclose(actual, expected, rel_tol=tol, abs_tol=tol)


def _numbers_equal(actual: Any, expected: Any, options: CompareOptions) -> bool | None:
    """Equality of two numbers, or None when the pair is not numeric (or mixes types strictly)."""
    kinds = (type(actual), type(expected))
    if not all(kind in (bool, int, float) for kind in kinds):
        return None
    if options.strict_types:
        if bool in kinds:
            return kinds[0] is kinds[1] and actual is expected
        if kinds == (float, int):
            return False
    if float in kinds:
        return _floats_equal(float(actual), float(expected), options.float_tol)
    return bool(actual == expected)


def values_equal(actual: Any, expected: Any, options: CompareOptions = CompareOptions()) -> bool:
    """Whether a value decoded from the sandbox matches the expected one under `options`."""
    numeric = _numbers_equal(actual, expected, options)
    if numeric is not None:
        return numeric
    kind_a, kind_e = type(actual), type(expected)
    if kind_a in _SEQUENCES and kind_e in _SEQUENCES:
        if kind_a is not kind_e and not options.tuple_list_equal:
            return False
        return len(actual) == len(expected) and all(
            values_equal(a, e, options) for a, e in zip(actual, expected, strict=True)
        )
    if kind_a is dict and kind_e is dict:
        if actual.keys() != expected.keys():
            return False
        return all(values_equal(actual[key], expected[key], options) for key in expected)
    if kind_a is complex or kind_e is complex:
        return kind_a is kind_e or ((not options.strict_types and kind_a in (int, float, complex)) and (
            bool(actual == expected)))
    if options.strict_types and kind_a is not kind_e:
        return False
    return bool(actual == expected)


def describe(value: Any, limit: int = 160) -> str:
    """A short repr for verdict details."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _tokens_equal(actual: str, expected: str, tol: float) -> bool:
    got, want = actual.split(), expected.split()
    if len(got) != len(want):
        return False
    for a, e in zip(got, want, strict=True):
        if a == e:
            continue
        try:
            if not _floats_equal(float(a), float(e), tol):
                return False
        except ValueError:
            return False
    return True


def compare_stdout(actual: str, expected: str, float_tol: float | None = None) -> str | None:
    """None when `actual` matches `expected`, else why not.

    Line-strict: the same number of lines, each equal once trailing whitespace is removed (and trailing
    blank lines at the very end are ignored). With `float_tol`, lines are compared token by token and
    numeric tokens within the tolerance match."""
    got, want = _lines(actual), _lines(expected)
    if len(got) != len(want):
        return f"expected {len(want)} line(s), got {len(got)}"
    for number, (a, e) in enumerate(zip(got, want, strict=True), start=1):
        if a == e or (float_tol is not None and _tokens_equal(a, e, float_tol)):
            continue
        return f"line {number}: expected {describe(e, 80)}, got {describe(a, 80)}"
    return None
