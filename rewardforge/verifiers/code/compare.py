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
      int), `str` is not `bytes`, at any depth: in sequences, dict values, dict keys and set members
      too. Off: Python's own `==` (what an `assert f(x) == y` line means).
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
        return _dicts_equal(actual, expected, options)
    if kind_a is complex or kind_e is complex:
        return _complex_equal(actual, expected, options)
    if options.strict_types and kind_a is not kind_e:
        return False
    if options.strict_types and kind_a in _SETS:
        return len(actual) == len(expected) and {_typed_key(m) for m in actual} == {_typed_key(m) for m in expected}
    return bool(actual == expected)


_SETS = (set, frozenset)
_NAN_KEY = ("float", "nan")


def _typed_key(value: Any) -> Any:
    """A hashable stand-in for a set member or dict key that tells types apart (`True` from `1`, `1` from
    `1.0`, a tuple from a frozenset) where Python's own hashing and equality do not."""
    kind = type(value)
    if kind in _SEQUENCES:
        return (kind.__name__, tuple(_typed_key(item) for item in value))
    if kind in _SETS:
        return (kind.__name__, frozenset(_typed_key(item) for item in value))
    if kind is float and math.isnan(value):
        return _NAN_KEY
    if kind is complex:
        return (kind.__name__, _typed_key(value.real), _typed_key(value.imag))
    return (kind.__name__, value)


def _dicts_equal(actual: dict[Any, Any], expected: dict[Any, Any], options: CompareOptions) -> bool:
    if len(actual) != len(expected):
        return False
    if not options.strict_types:
        return actual.keys() == expected.keys() and all(
            values_equal(actual[key], expected[key], options) for key in expected)
    by_key = {_typed_key(key): value for key, value in actual.items()}
    for key, value in expected.items():
        typed = _typed_key(key)
        if typed not in by_key or not values_equal(by_key[typed], value, options):
            return False
    return True


def _complex_equal(actual: Any, expected: Any, options: CompareOptions) -> bool:
    """Both parts compared like floats (NaN matches NaN, `float_tol` applies to each part). With
    strict types a complex matches only a complex; otherwise also an int or float of equal value."""
    if options.strict_types and type(actual) is not type(expected):
        return False
    if not all(type(v) in (int, float, complex) for v in (actual, expected)):
        return False
    a, e = complex(actual), complex(expected)
    return (_floats_equal(a.real, e.real, options.float_tol) and _floats_equal(a.imag, e.imag, options.float_tol))


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
