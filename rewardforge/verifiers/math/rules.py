"""Committed-answer rules: the places where a completion says "this is my answer".

Each rule finds `Statement`s (where, and the raw answer text) in the answer region; `extract.py`
then keeps the one the completion ends on. The rules, in their default rank (rank breaks ties
between statements that end at the same place):

1. `boxed`       `\\boxed{...}`, `\\fbox{...}`, `\\boxed 5`; an empty box or one cut off before its `}`
                 is a statement with a problem, never skipped over;
2. `answer_tag`  `<answer>...</answer>` (also `<final_answer>`); a tag still open at the end counts
                 (trainers stop generation at `</answer>`), an empty one has a problem;
3. `gsm8k`       `#### 42`;
4. `json`        `{"answer": 42}` (also `final_answer`, `result`);
5. `answer_is`   answer phrases: "The (final) answer is X", "Final Answer: The final answer is $X$.
                 I hope it is correct.", "**Answer:** X", "Answer: (C)", "The correct option is **B**",
                 "**Final Answer**" on its own line, and the same in Chinese, Spanish, French, German,
                 Portuguese, Italian and Russian ("答案是 12", "la respuesta es 3,5"); "the answer is not"
                 is not an answer;
6. `minerva`     only line-initial "Answer:" / "Final Answer:" (kept for configs that name it).

Only the last `LAST_OCCURRENCES` keyword hits are read, each in a window of `WINDOW` characters, so
the cost is linear in the completion whatever it contains.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from rewardforge.verifiers.math.scan import Span, boxes, math_spans

LAST_OCCURRENCES = 12
WINDOW = 2_000


@dataclass(frozen=True)
class Statement:
    """One place where an answer is given: `text[start:end]`, with the raw answer in it."""

    rule: str
    start: int
    end: int
    answer: str
    problem: str | None = None  # "empty" or "truncated": a commitment without a usable answer
    listed: bool = False  # several answers in one statement ("$x=1$ and $x=2$", "maybe 10, 20, 72")
    alternatives: bool = False  # ... offered as alternatives ("or", "maybe"), not as the parts of one answer


def _boxed(text: str) -> list[Statement]:
    found = []
    for span in boxes(text):
        inner = span.inner(text)
        problem = None if span.closed else "truncated"
        if span.closed and not inner.strip():
            problem = "empty"
        found.append(Statement("boxed", span.start, span.end, inner, problem))
    return found


_TAG_OPEN = re.compile(r"<(answer|final_answer)>", re.IGNORECASE)


def _answer_tag(text: str) -> list[Statement]:
    found = []
    lowered = text.lower()
    for m in list(_TAG_OPEN.finditer(text))[-LAST_OCCURRENCES:]:
        closing = lowered.find(f"</{m.group(1).lower()}>", m.end())
        end = closing if closing >= 0 else len(text)
        inner = text[m.end() : end]
        problem = "empty" if not inner.strip() else None
        box_spans = boxes(inner)
        if box_spans and not box_spans[-1].closed:
            problem = "truncated"
        found.append(Statement("answer_tag", m.start(), end, inner, problem))
    return found


_GSM8K = re.compile(r"####[ \t]*")


def _gsm8k(text: str) -> list[Statement]:
    found = []
    for m in list(_GSM8K.finditer(text))[-LAST_OCCURRENCES:]:
        line_end = text.find("\n", m.end(), m.end() + WINDOW)
        end = line_end if line_end >= 0 else min(len(text), m.end() + WINDOW)
        inner = text[m.end() : end]
        if inner.strip().strip("#"):
            found.append(Statement("gsm8k", m.start(), end, inner))
    return found


_JSON_KEY = re.compile(r"[\"'](?:answer|final_answer|result)[\"']\s{0,3}:\s{0,3}", re.IGNORECASE)
_JSON_VALUE = re.compile(r"\"((?:[^\"\\\n]|\\.){0,500})\"|'([^'\n]{0,500})'|(-?[\d.eE+\-/]{1,100})")


def _json(text: str) -> list[Statement]:
    if not any(key in text for key in ('nswer"', "nswer'", 'NSWER"', 'esult"', "esult'", 'ESULT"')):
        return []
    found = []
    for m in list(_JSON_KEY.finditer(text))[-LAST_OCCURRENCES:]:
        if "{" not in text[max(0, m.start() - 200) : m.start()]:
            continue
        value = _JSON_VALUE.match(text, m.end())
        if value:
            raw = next(g for g in value.groups() if g is not None)
            found.append(Statement("json", m.start(), value.end(), raw.replace('\\"', '"').replace("\\\\", "\\")))
    return found


# "<keyword> <connector> <answer>": the keywords are found from the end with `str.rfind` (C speed,
# no regex over the whole completion), the connector is matched in a short window after each, and
# the answer runs to the end of its sentence.
_KEYWORDS = ("answer", "option", "choice", "respuesta", "réponse", "reponse", "antwort", "resposta", "risposta",
             "ответ", "Ответ", "答案", "final result", "Réponse")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_CHOICE_PREFIX = re.compile(r"(?:correct|right|best)[ \t]{1,3}$")
_CONNECTOR = re.compile(
    r"(?:\*\*|__)?[ \t]*(?:\((?:[a-z ]{1,20})\))?[ \t]*"  # "**", "(rounded)"
    r"(?:is(?:[ \t]+(?:therefore|then|thus|indeed))?(?:[ \t]*:)?|are|was|would[ \t]+be|will[ \t]+be|should[ \t]+be"
    r"|must[ \t]+be|equals|=|:|：|是|为|為|est|es|ist|lautet|é|è)"
    r"[ \t]*(?:\*\*|__)?[ \t]*:?[ \t]*(?:\n[ \t]*)?"
    r"|(?:\*\*|__)[ \t]*\n[ \t]*"  # "**Final Answer**" on its own line
    r"|[ \t]*\n(?=[ \t]*\\boxed)",
    re.IGNORECASE,
)
_NOT = re.compile(r"(?:not|n't|no)\b", re.IGNORECASE)
_MINERVA_TAIL = re.compile(r"[ \t]*I hope it is correct\.?[ \t]*$", re.IGNORECASE)


@functools.lru_cache(maxsize=8)  # `answer_is` and `minerva` read the same completion
def _keyword_hits(text: str) -> list[tuple[int, int]]:
    """(start, end) of the last answer keywords ("answer", "the correct option", "答案", ...), in order."""
    lowered = text.translate(_ASCII_LOWER)  # same length as `text`, unlike str.lower()
    hits = []
    for keyword in _KEYWORDS:
        end = len(lowered)
        for _ in range(LAST_OCCURRENCES * 2):
            at = lowered.rfind(keyword, 0, end)
            if at < 0:
                break
            end = at
            if keyword.isascii() and at > 0 and lowered[at - 1].isalpha():
                continue  # "reanswer"
            if keyword in ("option", "choice") and not _CHOICE_PREFIX.search(lowered, max(0, at - 14), at):
                continue  # "the option is to ..." is no commitment; "the correct option is" is
            stop = at + len(keyword)
            hits.append((at, stop + 1 if lowered[stop : stop + 1] == "s" else stop))
    return sorted(hits)[-LAST_OCCURRENCES * 2 :]


def _answer_is(text: str, *, line_start_only: bool = False, rule: str = "answer_is") -> list[Statement]:
    found = []
    for start, end in _keyword_hits(text):
        if line_start_only and not _at_line_start(text, start):
            continue
        connector = _CONNECTOR.match(text, end, min(len(text), end + 60))
        if connector is None:
            continue
        if _NOT.match(text, connector.end(), connector.end() + 5):
            continue  # "the answer is not 5"
        answer, stop = sentence_after(text, connector.end())
        answer = _MINERVA_TAIL.sub("", answer)
        if answer.strip():
            found.append(Statement(rule, start, stop, answer))
    return found


def _at_line_start(text: str, position: int) -> bool:
    """Only markdown decoration (`**`, `#`, `>`, `-`) between the line start and `position`."""
    newline = text.rfind("\n", max(0, position - 40), position)
    if newline < 0 and position > 40:
        return False
    return text[newline + 1 : position].strip(" \t*#>-_") == ""


_STOP = re.compile(r"\n|[.!?](?=\s|$)|。|！|？")


def sentence_after(text: str, start: int) -> tuple[str, int]:
    """The answer that starts at `start`: a box or math span whole, else the text up to the sentence end."""
    window = text[start : start + WINDOW]
    lead = len(window) - len(window.lstrip(" \t"))
    spans = [s for s in math_spans(window) if s.start >= lead]
    box_spans = boxes(window[lead:])
    if box_spans and box_spans[0].start == 0:
        first = box_spans[0]
        return window[lead : lead + first.end], start + lead + first.end + _trailing(window, lead + first.end)
    protected: list[Span] = spans + [Span(b.start + lead, b.end + lead, 0, 0) for b in box_spans]
    position = lead
    while True:
        stop = _STOP.search(window, position)
        if stop is None:
            return window[lead:], start + len(window)
        inside = next((s for s in protected if s.start <= stop.start() < s.end), None)
        if inside is None:
            return window[lead : stop.start()], start + stop.end()
        position = inside.end


def _trailing(window: str, position: int) -> int:
    """Closing delimiters and end punctuation right after a box belong to the statement."""
    m = re.match(r"[ \t]*(?:\$\$|\$|\\\]|\\\))?[ \t]*[.]?", window[position : position + 12])
    return m.end() if m else 0


def _minerva(text: str) -> list[Statement]:
    return _answer_is(text, line_start_only=True, rule="minerva")


FINDERS: dict[str, Callable[[str], list[Statement]]] = {
    "boxed": _boxed,
    "answer_tag": _answer_tag,
    "gsm8k": _gsm8k,
    "json": _json,
    "answer_is": _answer_is,
    "minerva": _minerva,
}
