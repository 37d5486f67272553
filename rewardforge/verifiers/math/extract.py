"""Answer extraction: find the final answer a completion commits to, and say which rule found it.

Rules are tried in a configurable priority order; the first rule that matches wins and, within a
rule, the LAST occurrence wins (models restate and correct themselves; the last statement counts).
Every rule is a linear scan, so a 1 MB completion or 10,000 nested braces cost milliseconds, not a
hang. `Extraction.candidates` keeps every distinct answer the winning rule saw, which is how answer
spam ("\\boxed{1} \\boxed{2} \\boxed{3}") and "x=2 or x=3" are detected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

Rule: TypeAlias = Literal["boxed", "answer_tag", "answer_is", "gsm8k", "minerva", "last_number"]

#: The default priority: explicit answer markers first, the last number only as a fallback.
DEFAULT_RULES: tuple[Rule, ...] = ("boxed", "answer_tag", "answer_is", "gsm8k", "minerva", "last_number")
ALL_RULES: frozenset[str] = frozenset(DEFAULT_RULES)
#: Rules whose every match is a committed final answer; "the answer is" also occurs mid-reasoning.
_EXPLICIT_RULES = frozenset({"boxed", "answer_tag", "gsm8k"})


@dataclass(frozen=True)
class Extraction:
    """The answer a completion gives, as written (trimmed), and how it was found."""

    text: str
    rule: Rule
    start: int
    end: int
    candidates: tuple[str, ...] = field(default=())
    statements: int = 1  # distinct final statements the rule found (a spray of \boxed{} answers has many)

    @property
    def conflicting(self) -> bool:
        """True when the completion commits to more than one distinct final answer."""
        return len(self.candidates) > 1


_BOX_OPEN = re.compile(r"\\(?:boxed|fbox)\s*(\{)?")
_ANSWER_TAG = re.compile(r"<answer>(.*?)(?:</answer>|\Z)", re.DOTALL | re.IGNORECASE)
_ANSWER_IS = re.compile(r"answer\s*(?:is|=|:)\s*:?\s*([^\n]+)", re.IGNORECASE)
_GSM8K = re.compile(r"####\s*([^\n]+)")
_MINERVA = re.compile(r"(?:^|\n)\s*(?:\*\*)?(?:final\s+)?answer(?:\*\*)?\s*:(?:\*\*)?\s*([^\n]+)", re.IGNORECASE)
_MINERVA_TAIL = re.compile(r"\s*I hope it is correct\.?\s*$", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d(?:[\d,]*\d)?(?:\.\d+)?(?:\s*/\s*\d+)?")
_SENTENCE_END = re.compile(r"\.(?:\s|$)")
_ALTERNATIVES = re.compile(r"\s+(?:or|\\text\{\s*or\s*\})\s+|\\text\{\s*or\s*\}|\\lor|\\vee", re.IGNORECASE)


def match_braces(text: str) -> dict[int, int]:
    """Map each `{` to its matching `}` in one pass with an explicit stack (no recursion limit)."""
    stack: list[int] = []
    pairs: dict[int, int] = {}
    for match in re.finditer(r"\\[{}]|[{}]", text):
        token = match.group()
        if token[0] == "\\":
            continue  # \{ and \} are literal set braces, not grouping
        if token == "{":
            stack.append(match.start())
        elif stack:
            pairs[stack.pop()] = match.start()
    return pairs


def boxed_answers(text: str) -> list[tuple[int, int, str]]:
    """Every `\\boxed{...}` / `\\fbox{...}` (or `\\boxed 5`) as (start, end, content), in order."""
    opens = list(_BOX_OPEN.finditer(text))
    if not opens:
        return []
    offset = opens[0].start()  # braces before the first box never matter
    pairs = match_braces(text[offset:]) if any(m.group(1) for m in opens) else {}
    found = []
    for m in opens:
        if m.group(1):
            brace = m.start(1)
            close = pairs.get(brace - offset)
            close = None if close is None else close + offset
            if close is None:
                continue  # unclosed box: truncated generation, not an answer
            found.append((m.start(), close + 1, text[brace + 1 : close]))
        else:
            word = re.match(r"[^\s$.,;]+", text[m.end() : m.end() + 200])
            if word:
                found.append((m.start(), m.end() + word.end(), word.group()))
    return _outermost(found)


def _outermost(found: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Drop boxes nested inside another box: `\\boxed{\\boxed{5}}` is one answer."""
    result: list[tuple[int, int, str]] = []
    for item in found:
        if result and item[0] < result[-1][1]:
            continue
        result.append(item)
    return result


def _cut_sentence(answer: str) -> str:
    """Keep an inline answer up to its sentence end; a decimal point is not a sentence end."""
    end = _SENTENCE_END.search(answer)
    return answer[: end.start()] if end else answer


def _from_boxed(text: str) -> list[tuple[int, int, str]]:
    return boxed_answers(text)


def _from_answer_tag(text: str) -> list[tuple[int, int, str]]:
    out = []
    for m in _ANSWER_TAG.finditer(text):
        inner = m.group(1)
        boxes = boxed_answers(inner)
        out.append((m.start(1), m.end(1), boxes[-1][2] if boxes else inner))
    return out


def _from_regex(pattern: re.Pattern[str], cut: bool) -> Callable[[str], list[tuple[int, int, str]]]:
    def find(text: str) -> list[tuple[int, int, str]]:
        out = []
        for m in pattern.finditer(text):
            answer = m.group(1)
            for _ in range(8):  # "Final Answer: The final answer is 5": the innermost statement counts
                inner = _ANSWER_IS.search(answer)
                if inner is None:
                    break
                answer = inner.group(1)
            answer = _MINERVA_TAIL.sub("", answer)
            if cut:
                answer = _cut_sentence(answer)
            boxes = boxed_answers(answer)
            if boxes:
                answer = boxes[-1][2]
            out.append((m.start(1), m.end(1), answer))
        return out

    return find


def _from_last_number(text: str) -> list[tuple[int, int, str]]:
    last = None
    for last in _NUMBER.finditer(text):  # noqa: B007 - only the final match is wanted
        pass
    return [(last.start(), last.end(), last.group())] if last else []


_FINDERS: dict[str, Callable[[str], list[tuple[int, int, str]]]] = {
    "boxed": _from_boxed,
    "answer_tag": _from_answer_tag,
    "answer_is": _from_regex(_ANSWER_IS, cut=True),
    "gsm8k": _from_regex(_GSM8K, cut=False),
    "minerva": _from_regex(_MINERVA, cut=True),
    "last_number": _from_last_number,
}


_WRAPPING_CHARS = frozenset("$\\*_.;,:?。 \t\n")


def clean_answer(answer: str) -> str:
    """Trim what surrounds an answer but is not part of it: spaces, `$`, markdown bold, end punctuation."""
    answer = answer.strip()
    if not answer or (answer[0] not in _WRAPPING_CHARS and answer[-1] not in _WRAPPING_CHARS):
        return answer
    previous = None
    while previous != answer:
        previous = answer
        answer = answer.strip().rstrip(".;,:?。").strip()
        for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("**", "**"), ("__", "__")):
            if len(answer) >= len(left) + len(right) and answer.startswith(left) and answer.endswith(right):
                answer = answer[len(left) : len(answer) - len(right)]
        if answer.startswith("**") and answer.count("**") == 1:
            answer = answer[2:]
        if answer.endswith("**") and answer.count("**") == 1:
            answer = answer[:-2]
    return answer.strip()


def split_alternatives(answer: str) -> list[str]:
    """`x=2 or x=3` -> [`x=2`, `x=3`]; an answer without alternatives comes back alone."""
    parts = [clean_answer(p) for p in _ALTERNATIVES.split(answer)]
    return [p for p in parts if p] or [answer]


def check_rules(rules: Sequence[str]) -> tuple[Rule, ...]:
    """Validate a user's priority list; unknown names raise ValueError naming them."""
    unknown = [r for r in rules if r not in ALL_RULES]
    if unknown:
        raise ValueError(f"unknown extraction rule(s) {unknown}; choose from {list(DEFAULT_RULES)}")
    if not rules:
        raise ValueError("at least one extraction rule is needed")
    return tuple(rules)  # type: ignore[arg-type]


def extract_answer(text: str, rules: Sequence[str] = DEFAULT_RULES) -> Extraction | None:
    """The final answer of `text` by the first rule (in `rules` order) that finds one, else None."""
    for rule in check_rules(rules):
        found = [(s, e, clean_answer(a)) for s, e, a in _FINDERS[rule](text)]
        found = [item for item in found if item[2]]
        if not found:
            continue
        start, end, answer = found[-1]
        statements = found if rule in _EXPLICIT_RULES else found[-1:]
        distinct: dict[str, None] = {}
        for _, _, candidate in statements:
            for part in split_alternatives(candidate):
                distinct[re.sub(r"\s+", "", part)] = None
        separate = len({re.sub(r"\s+", "", candidate) for _, _, candidate in statements})
        return Extraction(text=answer, rule=rule, start=start, end=end, candidates=tuple(distinct),
                          statements=separate)
    return None
