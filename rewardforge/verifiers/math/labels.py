"""Labels and chains: what an answer with `=` in it asks to be compared.

- A LABEL names the answer: `y = 2x + 1`, `f(x) = 2x+1`, `k = 1`, `x_1 = 3`, `|AB| = 5`, `A:B = 1`,
  `\\frac{NO}{BO} = ...`, `(p, q) = (3, 2)`. A label is made of names (letters, subscripts, a
  function of its arguments, a ratio or fraction of names, a tuple of names), with no arithmetic
  and no digits outside subscripts and arguments. The value on the right is the answer.
- A CHAIN `x = 5+5+1 = 11` or a derivation `3 + 4 = 7`, `9 \\cdot 2 = 18` is judged on its last
  value. `\\approx` marks a rounded value: `x = 1/3 \\approx 0.33` is 1/3 (the exact value wins),
  `x \\approx 11` is 11.
- An EQUATION between expressions (`2x + 4y - 3 = 0`, `7 = 11a + c`, `x^2 = 4`) is kept whole
  and compared as an equation: it never equals a bare value.
- A list of assignments `a = 3, b = 4` reads as the list of values `3, 4`; `n = 1, 2, 3` labels the
  whole list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rewardforge.verifiers.math.normalize import squeeze

_NAME = r"(?:[A-Za-z]{1,12}|\\[a-zA-Z]+)'*"
_LABEL = re.compile(
    rf"^(?:{_NAME}(?:\([^()=]*\))?"  # x, AB, \alpha, f(x), P(A), W(n)
    rf"|\|[^|=]+\||\([A-Za-z, ]+\)|\[[A-Z]+\]"  # |AB|, (p, q), [ABC]
    rf"|\\frac\{{{_NAME}\}}\{{{_NAME}\}}|m?\\angle ?[A-Z]{{1,3}}|\\overline\{{[A-Z]+\}})$"
)
_SUBSCRIPT = re.compile(r"_\{[^{}]*\}|_[A-Za-z0-9]")


@dataclass(frozen=True)
class Reading:
    """An answer as it is to be compared: its `value`, whether it is an `equation` kept whole, its label."""

    value: str
    equation: bool = False
    label: str | None = None


def is_label(text: str) -> bool:
    """Whether `text` (the left side of `=`) names the answer rather than computing it."""
    name = _SUBSCRIPT.sub("", squeeze(text.strip()))
    if not name or name[0].isdigit():
        return False
    if ":" in name:
        return all(is_label(part) for part in name.split(":"))
    return _LABEL.match(name) is not None


def split_top(text: str, separators: tuple[str, ...]) -> list[tuple[str, str]]:
    """(piece, separator before it) at top level (outside brackets and `\\{...\\}`)."""
    if not any(separator in text for separator in separators):
        return [(text, "")]
    pieces: list[tuple[str, str]] = []
    depth, start, before, i, n = 0, 0, "", 0, len(text)
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
        elif depth == 0:
            separator = next((s for s in separators if text.startswith(s, i)), None)
            if separator is not None and not (separator == "=" and _part_of_operator(text, i)):
                pieces.append((text[start:i], before))
                before = separator
                i += len(separator)
                start = i
                continue
        i += 1
    pieces.append((text[start:], before))
    return pieces


def _part_of_operator(text: str, i: int) -> bool:
    return text[i - 1 : i] in ("<", ">", "!", ":") or text[i + 1 : i + 2] == "="


def read(text: str) -> Reading:
    """How an answer (canonical spelling) is to be compared: see the module docstring."""
    if "=" not in text and "\\approx" not in text:
        return Reading(text)
    items = [piece for piece, _ in split_top(text, (",",))]
    if len(items) > 1 and sum("=" in item for item in items) > 1:
        readings = [read(item) for item in items]
        return Reading(", ".join(r.value for r in readings), any(r.equation for r in readings))
    chain = split_top(text, ("=", "\\approx"))
    if len(chain) == 1:
        return Reading(text)
    first = chain[0][0].strip()
    if len(chain) == 2 and not is_label(first):
        rhs = chain[1][0].strip()
        if _has_variables(first) or _has_variables(rhs) or not first:
            return Reading(text, equation=True)
    value = _last_exact(chain[1:])
    label = first if is_label(first) else None
    return Reading(value, label=label)


def _last_exact(chain: list[tuple[str, str]]) -> str:
    """The last value reached by `=` before the first `\\approx`; the first rounded value when none is."""
    value = None
    for piece, separator in chain:
        if separator == "\\approx":
            return (value if value is not None else piece).strip()
        value = piece
    return (value or "").strip()


_COMMANDS = re.compile(r"\\[a-zA-Z]+|\\text\{[^{}]*\}")


def _has_variables(text: str) -> bool:
    """Single letters standing alone (`11a + c`), not words (`18 dollars`) or commands (`\\pi`)."""
    return re.search(r"(?<![A-Za-z])[A-Za-z](?![A-Za-z])", _COMMANDS.sub(" ", text)) is not None
