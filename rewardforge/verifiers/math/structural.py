"""Structural layer: tuples, intervals, sets, lists, unions and matrices, compared element by element.

Works on normalised (whitespace-free) strings with a bracket-aware top-level split, so it never
needs sympy. Elements are compared by a scalar comparator passed in (string, then numeric);
when that cannot decide an element, the whole pair is left undecided for the symbolic layer.

Gold-first rules (the gold's shape says how to read the answer):
- gold `(a,b)`, `[a,b)`, ...: same brackets, same order; a bare `a,b` in the same order also
  matches a gold in parentheses (models often drop them around an ordered pair);
- gold `\\{a,b\\}` or bare `a, b`: same elements in any order (a multiset);
- gold matrix: same shape, element by element (pmatrix, bmatrix, ... are all the same);
- gold union of intervals: the same parts in any order;
- gold ratio or time `3:4`, `12:00`: the same parts in order (`6:8` is not `3:4`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeAlias

Kind: TypeAlias = Literal["ordered", "set", "list", "matrix", "union", "ratio"]
ScalarCompare: TypeAlias = Callable[[str, str], "bool | None"]

MAX_ITEMS = 64
_MATRIX = re.compile(r"^\\begin\{([pbvBV]?matrix|smallmatrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}$")
_OPENERS = {"(": ")", "[": "]", "{": "}"}
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")


@dataclass(frozen=True)
class Structure:
    kind: Kind
    items: tuple[str | Structure, ...]
    left: str = ""
    right: str = ""


def split_top(text: str, separator: str) -> list[str]:
    """Split at `separator` where no bracket is open; `\\{`/`\\}` and `\\left(` count as brackets."""
    parts, depth, start, i = [], 0, 0, 0
    n, width = len(text), len(separator)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in "{}":
            depth += 1 if text[i + 1] == "{" else -1
            i += 2
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and text.startswith(separator, i):
            parts.append(text[start:i])
            i += width
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return parts


def _encloses(text: str, left: str, right: str) -> bool:
    """True when `left` at 0 and `right` at the end bracket the whole text (not `(1)+(2)`)."""
    if not (text.startswith(left) and text.endswith(right)) or len(text) < len(left) + len(right):
        return False
    inner = text[len(left) : len(text) - len(right)]
    depth = 0
    for ch in inner:
        depth += 1 if ch in "([{" else -1 if ch in ")]}" else 0
        if depth < 0:
            return False
    return depth == 0


def parse_structure(text: str) -> Structure | None:
    """The structure of a normalised answer, or None for a scalar."""
    m = _MATRIX.match(text)
    if m:
        rows = [r for r in re.split(r"\\\\", m.group(2)) if r]
        cells = tuple(Structure("ordered", tuple(split_top(r, "&"))) for r in rows)
        return Structure("matrix", cells)
    ratio = split_top(text, ":")
    if len(ratio) > 1 and all(ratio):  # `3:4` or a time `12:00`: parts in order, never divided
        return Structure("ratio", tuple(_items(",".join(ratio))))
    unions = split_top(text, "\\cup")
    if len(unions) > 1:
        parsed = [parse_structure(u) or u for u in unions]
        return Structure("union", tuple(parsed))
    if _encloses(text, "\\{", "\\}"):
        return Structure("set", tuple(_items(text[2:-2])), "\\{", "\\}")
    if text[:1] in "([" and text[-1:] in ")]" and _encloses(text, text[0], text[-1]):
        items = split_top(text[1:-1], ",")
        if len(items) > 1:
            return Structure("ordered", tuple(_items(text[1:-1])), text[0], text[-1])
        return None
    if _THOUSANDS.match(text):
        return None
    items = split_top(text, ",")
    if len(items) > 1:
        return Structure("list", tuple(_items(text)))
    return None


def _items(inner: str) -> list[str | Structure]:
    items = [p for p in split_top(inner, ",")]
    if len(items) > MAX_ITEMS:
        raise ValueError(f"more than {MAX_ITEMS} elements")
    return [parse_structure(p) or p for p in items]


def compare_structures(gold: Structure, answer: Structure | str, scalar: ScalarCompare) -> bool | None:
    """Gold-first comparison; None when some element pair needs the symbolic layer."""
    if isinstance(answer, str):
        return False
    if gold.kind == "ordered":
        same_shape = answer.kind == "ordered" and (answer.left, answer.right) == (gold.left, gold.right)
        bare_pair = answer.kind == "list" and gold.left == "(" and gold.right == ")"
        if not (same_shape or bare_pair):
            return False
        return _in_order(gold.items, answer.items, scalar)
    if gold.kind == "ratio":
        return _in_order(gold.items, answer.items, scalar) if answer.kind == "ratio" else False
    if gold.kind == "matrix":
        if answer.kind != "matrix" or len(answer.items) != len(gold.items):
            return False
        return _in_order(gold.items, answer.items, scalar)
    if gold.kind in ("set", "list"):
        if answer.kind not in ("set", "list"):
            return False
        return _any_order(gold.items, answer.items, scalar)
    if answer.kind != "union":
        return False
    return _any_order(gold.items, answer.items, scalar)


def _element(gold: str | Structure, answer: str | Structure, scalar: ScalarCompare) -> bool | None:
    if isinstance(gold, Structure):
        return compare_structures(gold, answer, scalar)
    if isinstance(answer, Structure):
        return False
    return scalar(gold, answer)


def _in_order(gold: tuple[str | Structure, ...], answer: tuple[str | Structure, ...], scalar: ScalarCompare) -> bool | None:
    if len(gold) != len(answer):
        return False
    undecided = False
    for g, a in zip(gold, answer, strict=True):
        verdict = _element(g, a, scalar)
        if verdict is False:
            return False
        undecided |= verdict is None
    return None if undecided else True


def _any_order(gold: tuple[str | Structure, ...], answer: tuple[str | Structure, ...], scalar: ScalarCompare) -> bool | None:
    if len(gold) != len(answer):
        return False
    remaining = list(answer)
    undecided = False
    for g in gold:
        verdicts = [_element(g, a, scalar) for a in remaining]
        if True in verdicts:
            remaining.pop(verdicts.index(True))
        elif None in verdicts:
            undecided = True
        else:
            return False
    return None if undecided else True
