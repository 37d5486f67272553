"""Structural layer: tuples, intervals, sets, lists, unions and matrices, compared element by element.

Works on normalised (whitespace-free) strings with a bracket-aware top-level split, so it never
needs sympy. Elements are compared by a scalar comparator passed in (string, then numeric);
when that cannot decide an element, the whole pair is left undecided for the symbolic layer.

Gold-first rules (the gold's shape says how to read the answer):
- gold `(a,b)`, `[a,b)`, ...: same brackets, same order (open against closed ends exactly); a bare
  `a,b` in the same order also matches a gold in parentheses (models drop them around a pair);
- gold `\\{a,b\\}` or a bare list `a, b` (also `a; b`, or `{a, b}`, whose braces only group): the
  same elements in any order, a repeated element counting once (a set of solutions listed twice is
  the same set); an ordered tuple is not a set, and a set is not a tuple, except that a bare gold
  `1,2,3` accepts the tuple `(1,2,3)` in the same order (golds drop the parentheses of `(x, y, z)`);
- `a \\pm b` stands for the two values `a + b`, `a - b` wherever a list or set is compared;
- inside brackets `;` separates like `,` when there is no comma (`(0;-2;6)`);
- gold matrix: same shape, element by element (pmatrix, bmatrix, ... are all the same);
- gold union of intervals: the same parts in any order;
- gold ratio or time `3:4`, `12:00`: the same parts in order (`6:8` is not `3:4`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeAlias

from rewardforge.verifiers.math.labels import split_top as _split_top

Kind: TypeAlias = Literal["ordered", "set", "list", "matrix", "union", "ratio"]
ScalarCompare: TypeAlias = Callable[[str, str], "bool | None"]

MAX_ITEMS = 64
_MATRIX = re.compile(
    r"^\\begin\{([pbvBV]?matrix|smallmatrix|array)\}(?:\{[^{}]*\})?((?:(?!\\begin\{|\\end\{).)*)\\end\{\1\}$")
_THOUSANDS = re.compile(r"^-?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?$")
_PLUS_MINUS = re.compile(r"\\pm(?![a-zA-Z])")


@dataclass(frozen=True)
class Structure:
    kind: Kind
    items: tuple[str | Structure, ...]
    left: str = ""
    right: str = ""


def split_top(text: str, separator: str) -> list[str]:
    """Split at `separator` where no bracket is open; `\\{`/`\\}` count as brackets."""
    return [piece for piece, _ in _split_top(text, (separator,))]


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


def _separator(inner: str) -> str:
    return ";" if ";" in inner and len(split_top(inner, ",")) == 1 and len(split_top(inner, ";")) > 1 else ","


def parse_structure(text: str) -> Structure | None:
    """The structure of a normalised answer, or None for a scalar."""
    if not text:
        return None
    if text[0] in "([" and text[-1] in ")]" and _MATRIX.match(text[1:-1]):
        text = text[1:-1]  # `\left[\begin{array}...\end{array}\right]`, `(\begin{pmatrix}...\end{pmatrix})`
    m = _MATRIX.match(text)
    if m:
        rows = [r for r in re.split(r"\\\\", m.group(2)) if r]
        cells = tuple(Structure("ordered", tuple(split_top(r, "&"))) for r in rows)
        return Structure("matrix", cells)
    ratio = split_top(text, ":")
    if len(ratio) > 1 and all(ratio):  # `3:4` or a time `12:00`: parts in order, never divided
        return Structure("ratio", tuple(_items(",".join(ratio), ",")))
    unions = split_top(text, "\\cup")
    if len(unions) > 1:
        return Structure("union", tuple(parse_structure(u) or u for u in unions))
    if _encloses(text, "\\{", "\\}"):
        inner = text[2:-2]
        return Structure("set", tuple(_items(inner, _separator(inner))), "\\{", "\\}")
    if text[0] in "([" and text[-1] in ")]" and _encloses(text, text[0], text[-1]):
        inner = text[1:-1]
        separator = _separator(inner)
        if len(split_top(inner, separator)) > 1:
            return Structure("ordered", tuple(_items(inner, separator)), text[0], text[-1])
        return None
    if _THOUSANDS.match(text):
        return None
    if _encloses(text, "{", "}") and len(split_top(text[1:-1], ",")) > 1:
        return Structure("list", tuple(_items(text[1:-1], ",")))  # `{1,3}`: braces only group, so a bare list
    for separator in (",", ";"):
        if len(split_top(text, separator)) > 1:
            return Structure("list", tuple(_items(text, separator)))
    return None


def _items(inner: str, separator: str) -> list[str | Structure]:
    items = [p for p in split_top(inner, separator) if p not in ("", "\\dots")] or [""]
    if len(items) > MAX_ITEMS:
        raise ValueError(f"more than {MAX_ITEMS} elements")
    return [parse_structure(p) or p for p in items]


def expand_plus_minus(items: tuple[str | Structure, ...]) -> tuple[str | Structure, ...]:
    """`a \\pm b` -> `a+b`, `a-b` (one `\\pm` per item, outside brackets)."""
    out: list[str | Structure] = []
    for item in items:
        if isinstance(item, str) and len(_PLUS_MINUS.findall(item)) == 1 and len(split_top(item, "\\pm")) == 2:
            left, right = split_top(item, "\\pm")
            out.extend([f"{left}+{right}" if left else right, f"{left}-{right}" if left else f"-{right}"])
        else:
            out.append(item)
    return tuple(out)


def as_values(text: str) -> Structure | None:
    """A scalar with one `\\pm` as the list of its two values, for comparison with a list or set."""
    expanded = expand_plus_minus((text,))
    return Structure("list", expanded) if len(expanded) == 2 else None


def compare_structures(gold: Structure, answer: Structure | str, scalar: ScalarCompare) -> bool | None:
    """Gold-first comparison; None when some element pair needs the symbolic layer."""
    if isinstance(answer, str):
        if gold.kind == "matrix" and "\\begin{" in answer:
            return None  # matrix arithmetic (`A + B`, `AB`): sympy evaluates it
        answer_values = as_values(answer)
        if answer_values is None or gold.kind not in ("set", "list"):
            return False
        answer = answer_values
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
    if gold.kind == "list" and answer.kind == "ordered" and (answer.left, answer.right) == ("(", ")"):
        return _in_order(gold.items, answer.items, scalar)  # gold `1,2,3` for (x, y, z): the tuple, in order
    if gold.kind in ("set", "list"):
        if answer.kind not in ("set", "list"):
            return False
        return _any_order(expand_plus_minus(gold.items), expand_plus_minus(answer.items), scalar)
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
    """Set equality: every gold element is in the answer and every answer element is in the gold."""
    if len(set(answer)) > 2 * len(set(gold)) + 1:
        return False  # far more answers than gold elements: a spray, not a restatement
    undecided = False
    for own, other, flip in ((gold, answer, False), (answer, gold, True)):
        for item in dict.fromkeys(own):
            verdicts = [_element(o, item, scalar) if flip else _element(item, o, scalar) for o in dict.fromkeys(other)]
            if True in verdicts:
                continue
            if None in verdicts:
                undecided = True
            else:
                return False
    return None if undecided else True
