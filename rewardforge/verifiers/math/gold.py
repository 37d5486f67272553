"""The gold parser: every form a reference answer comes in, read one way.

- a Python `int` of any size, a `float`, a `Fraction` or a `Decimal` is its exact decimal spelling
  (`2**70` stays exact; a float keeps the digits `repr` gives it); `bool` and `None` are no gold;
- a solution with `\\boxed{}` answers: its final box, together with boxes joined to it in one
  statement ("\\boxed{1} and \\boxed{2}", "$\\boxed{1}\\boxed{2}$") since a gold's author meant all of them;
- a GSM8K solution: what follows `####`;
- a worked solution in prose without either: the answer the extraction rules find in it;
- otherwise the text itself, with math delimiters (`$...$`, `\\(...\\)`, ...) read through
  (`$1 - \\frac{1}{2006!}$` is `1 - \\frac{1}{2006!}`, "$125$ miles" is "125 miles"), NUL characters
  dropped, and "and"/"or" between values read as a list ("$21,16$ or $11$" is 21, 16, 11).

A gold that gives no answer at all is None (the reward says `skipped`); whether the answer can be
compared is for the comparison to find out.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from rewardforge.verifiers.math.extract import (
    COMMITTED_RULES,
    DEFAULT_RULES,
    MAX_ANSWER_CHARS,
    extract_answer,
    read_through_math,
)
from rewardforge.verifiers.math.labels import read
from rewardforge.verifiers.math.normalize import canonical, normalize
from rewardforge.verifiers.math.quantities import UNAMBIGUOUS_DECIMAL_COMMA
from rewardforge.verifiers.math.scan import math_spans
from rewardforge.verifiers.math.structural import parse_structure

_PROSE_WORD = re.compile(r"[A-Za-z]{3,}")
_LIST_WORDS = re.compile(r"\\text\{\s{0,3}(?:and|or)\s{0,3}\}|(?<![\w\\])(?:and|or)(?!\w)|\\quad|\\qquad|;")
MIN_PROSE_WORDS = 8
_CHOICE = re.compile(r"^\(?([A-J])\)?$")


@dataclass(frozen=True)
class Gold:
    """A reference answer ready to compare: `text`, or its `parts` when it has several values."""

    text: str
    parts: tuple[str, ...]
    form: str  # "number", "boxed", "gsm8k", "solution" or "text"

    @functools.cached_property
    def arity(self) -> int:
        """How many values the gold has: 1 for a number or an expression, n for a list, set, tuple or union."""
        if len(self.parts) > 1:
            return len(self.parts)
        if len(self.text) > MAX_ANSWER_CHARS:
            return 1
        normalised = normalize(self.text)
        try:
            structure = parse_structure(normalised)
        except ValueError:
            return 1
        if structure is not None and UNAMBIGUOUS_DECIMAL_COMMA.match(canonical(self.text)):
            return 1  # "1,22": a decimal comma, one value
        if structure is not None and structure.kind in ("list", "set", "ordered", "union"):
            return len(structure.items)
        return normalised.count("\\lor") + 1

    @functools.cached_property
    def truth(self) -> str | None:
        """"True"/"False"/"Yes"/"No", when the gold is a truth value (TheoremQA, logic tasks)."""
        word = normalize(self.text).casefold() if len(self.text) < 20 else ""
        return word.capitalize() if word in ("true", "false", "yes", "no") else None

    @functools.cached_property
    def choice(self) -> str | None:
        """The letter, when the gold is a multiple-choice letter (`C`, `(C)`, `\\text{(C)}`)."""
        found = _CHOICE.match(normalize(self.text)) if len(self.text) < 40 else None
        return found.group(1) if found else None


def parse_gold(reference: object) -> Gold | None:
    """The gold answer inside a reference (see the module docstring), or None when it has none."""
    if reference is None or isinstance(reference, bool):
        return None
    if isinstance(reference, int | Fraction | Decimal):
        text = str(reference)
        return Gold(text, (text,), "number")
    if isinstance(reference, float):
        if reference != reference or reference in (float("inf"), float("-inf")):
            return None
        text = repr(reference)
        return Gold(text, (text,), "number")
    return parse_gold_text(reference) if isinstance(reference, str) else None


@functools.lru_cache(maxsize=16_384)  # GRPO groups share their reference
def parse_gold_text(reference: str) -> Gold | None:
    """`parse_gold` for a string reference."""
    text = reference.replace("\x00", "").strip()
    if not text:
        return None
    if "\\begin{" not in text:
        text = re.sub(r"\\\\(?=[a-zA-Z])", r"\\", text)  # `\\frac` written with an escaped backslash
    if "\\boxed" in text or "\\fbox" in text:
        found = extract_answer(text, ("boxed",), think="include")
        if found is not None and not found.problem:
            parts = found.linked or found.parts
            return _gold(", ".join(parts), parts, "boxed")
        text = re.sub(r"\\(?:boxed|fbox)\s*\{", "", text)  # an unclosed box: its content is the gold
    if "####" in text:
        found = extract_answer(text, ("gsm8k",), think="include")
        if found is not None and found.parts:
            return _gold(found.text, found.parts, "gsm8k")
    if _prose(text):
        found = extract_answer(text, DEFAULT_RULES, think="include")
        if found is not None and found.parts and found.rule in (*COMMITTED_RULES, "conclusion", "last_math"):
            return _gold(", ".join(found.parts), found.parts, "solution")
    plain = _read_through_delimiters(text)
    return _gold(plain, tuple(_parts(plain)), "text") if plain else None


def _gold(text: str, parts: tuple[str, ...], form: str) -> Gold | None:
    parts = tuple(p for p in parts if p.strip())
    if not parts:
        return None
    flat = tuple(q for p in parts for q in (_parts(p) if len(p) <= MAX_ANSWER_CHARS else [p]))
    if len(flat) > 1:
        flat = tuple(_as_tuple(p) for p in flat)
    return Gold(", ".join(flat) if len(flat) > 1 else flat[0], flat, form)


def _as_tuple(part: str) -> str:
    """One solution of several given as assignments ("p=5,q=2") is the tuple (5, 2)."""
    reading = read(canonical(part))
    if reading.value != canonical(part) and "," in reading.value and not reading.equation and reading.label is None:
        return f"({reading.value})"
    return part


def _prose(text: str) -> bool:
    """A worked solution rather than an answer: many words outside math."""
    pieces, position = [], 0
    for span in math_spans(text):
        pieces.append(text[position : span.start])
        position = span.end
    pieces.append(text[position:])
    return len(_PROSE_WORD.findall(" ".join(pieces))) >= MIN_PROSE_WORDS


def _read_through_delimiters(text: str) -> str:
    if not math_spans(text):
        return text.strip().strip("$").strip()
    return read_through_math(text).rstrip(".").strip()


def _parts(text: str) -> list[str]:
    """Values joined by "and"/"or" outside brackets and `\\text{}`: "1 and 2 and 3" -> [1, 2, 3]."""
    if len(text) > MAX_ANSWER_CHARS:
        return [text]
    parts, depth, start = [], 0, 0
    for m in re.finditer(r"[{(\[]|[})\]]|" + _LIST_WORDS.pattern, text):
        token = m.group()
        if token in "{([":
            depth += 1
        elif token in "})]":
            depth -= 1
        elif depth == 0 or token.startswith("\\text"):
            parts.append(text[start : m.start()])
            start = m.end()
    parts.append(text[start:])
    cleaned = [p.strip().strip(",").strip() for p in parts]
    return [p for p in cleaned if p] or [text]
