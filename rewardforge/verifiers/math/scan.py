"""Linear scanners for the places answers live in: brace groups, boxes, math spans, sentences.

Every function here is one left-to-right pass (a token regex with no nested quantifiers, plus an
explicit stack), so a 1 MB completion, 50,000 newlines or 10,000 nested braces cost milliseconds.

Math delimiters follow the rules a careful reader (and pandoc) applies, so currency is not math:
- `$...$` is inline math only on one line, and never closed by a `$` that a digit follows
  ("$5 and $10", "$20 an hour, so $800" are money);
- `$$...$$` and `\\[...\\]` are display math and may span lines; `\\(...\\)` stays on one line;
- `\\$` is an escaped dollar, never a delimiter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BRACE = re.compile(r"\\[{}]|[{}]")
_BOX_OPEN = re.compile(r"\\(?:boxed|fbox|framebox)(?![a-zA-Z])[ \t]*(\{)?")
_BARE_BOX_ARG = re.compile(r"[^\s$.,;]{1,200}")
_DELIMITER = re.compile(r"\\\$|\$\$|\$|\\\(|\\\)|\\\[|\\\]")
_SENTENCE_BREAK = re.compile(r"\n|[.!?;](?=\s|$)|[。！？；]")
_BROKEN_INLINE = re.compile(r"(?<![\\$])\$[ \t]*\n[^$\n]{1,200}\n[ \t]*\$(?!\$)|\\\([ \t]*\n[^\n]{0,200}\n[ \t]*\\\)")


@dataclass(frozen=True)
class Span:
    """A delimited region: `start:end` is the whole thing, `inner_start:inner_end` its content."""

    start: int
    end: int
    inner_start: int
    inner_end: int
    closed: bool = True

    def inner(self, text: str) -> str:
        return text[self.inner_start : self.inner_end]


def match_braces(text: str, start: int = 0) -> dict[int, int]:
    """Map each `{` (from `start`) to its matching `}` in one pass; `\\{` and `\\}` are set braces."""
    stack: list[int] = []
    pairs: dict[int, int] = {}
    for match in _BRACE.finditer(text, start):
        token = match.group()
        if token[0] == "\\":
            continue
        if token == "{":
            stack.append(match.start())
        elif stack:
            pairs[stack.pop()] = match.start()
    return pairs


def boxes(text: str) -> list[Span]:
    """Every `\\boxed{...}`, `\\fbox{...}` (or `\\boxed 5`) in order, outermost only.

    A box whose brace never closes is kept with `closed=False`: it is a truncated answer, which the
    final-answer policy must see rather than fall back to something earlier."""
    opens = list(_BOX_OPEN.finditer(text))
    if not opens:
        return []
    pairs = match_braces(text, opens[0].start()) if any(m.group(1) for m in opens) else {}
    found: list[Span] = []
    for m in opens:
        if found and m.start() < found[-1].end:
            continue  # nested in the previous box: `\boxed{\boxed{5}}` is one answer
        if m.group(1):
            brace = m.start(1)
            close = pairs.get(brace)
            if close is None:
                found.append(Span(m.start(), len(text), brace + 1, len(text), closed=False))
                continue
            found.append(Span(m.start(), close + 1, brace + 1, close))
        else:
            word = _BARE_BOX_ARG.match(text, m.end())
            if word:
                found.append(Span(m.start(), word.end(), m.end(), word.end()))
    return found


def math_spans(text: str) -> list[Span]:
    """Every `$...$`, `$$...$$`, `\\(...\\)`, `\\[...\\]` in order (see the module docstring)."""
    spans: list[Span] = []
    tokens = [(m.start(), m.group()) for m in _DELIMITER.finditer(text) if m.group() != "\\$"]
    i = 0
    while i < len(tokens):
        position, token = tokens[i]
        closer = {"$$": "$$", "$": "$", "\\(": "\\)", "\\[": "\\]"}.get(token)
        if closer is None:
            i += 1
            continue
        j = i + 1
        if token == "$":
            if j < len(tokens) and tokens[j][1] == "$" and _closes_inline(text, position, tokens[j][0]):
                spans.append(Span(position, tokens[j][0] + 1, position + 1, tokens[j][0]))
                i = j + 1
            else:
                i += 1  # money, or a lone `$`: the next `$` may still open math
            continue
        while j < len(tokens) and tokens[j][1] != closer:
            j += 1
        inner_start = position + len(token)
        if j < len(tokens) and (token != "\\(" or "\n" not in text[inner_start : tokens[j][0]]):
            spans.append(Span(position, tokens[j][0] + len(closer), inner_start, tokens[j][0]))
            i = j + 1
        else:
            i += 1
    return spans


def _closes_inline(text: str, opening: int, closing: int) -> bool:
    inner = text[opening + 1 : closing]
    if not inner.strip() or "\n" in inner:
        return False
    return not text[closing + 1 : closing + 2].isdigit()  # "$5 and $10": money, not math


def broken_spans(text: str) -> list[Span]:
    """Inline math broken over lines (`$ \\n 9 \\n $`, `\\( \\n 9 \\n \\)`): malformed, so unreadable."""
    found = []
    for m in _BROKEN_INLINE.finditer(text):
        found.append(Span(m.start(), m.end(), m.start() + 2, m.end() - 2))
    return found


def sentence_starts(text: str, protected: list[Span]) -> list[int]:
    """Offsets where sentences start (after `.`, `!`, `?`, `;` + space, or a newline), never inside `protected`."""
    starts = [0]
    k = 0
    for m in _SENTENCE_BREAK.finditer(text):
        while k < len(protected) and protected[k].end <= m.start():
            k += 1
        if k < len(protected) and protected[k].start <= m.start() < protected[k].end:
            continue
        starts.append(m.end())
    return starts
