"""Answer extraction: the answer a completion commits to at its end, and which rule found it.

The rules form one ranked list (`DEFAULT_RULES`, configurable with `rules=`):

- committed answers (`rules.py`): `boxed`, `answer_tag`, `gsm8k`, `json`, `answer_is`, `minerva`;
- the final statement when nothing was committed (`fallback.py`): `conclusion`, `last_math`,
  `code`, `last_number` (the last number only as the final fallback), `choice`, `truth`.

The final-answer policy (`final.py`) decides where the answer may be (not inside `<think>`, not
after an end-of-turn token). Among committed answers the one that ENDS LAST wins; an answer phrase
only counts when it holds something answer-like (math, a number, a choice letter, a few words), so
"this answer is reasonable because ..." after a box does not replace it. Only when no rule commits
to anything are the fallback rules tried, in rank order.

The final statement may offer several answers. Boxes (or answer tags) separated only by commas, spaces,
`\\quad` or "and"/"or" form one statement (`\\boxed{1} \\boxed{2}`, "\\boxed{-2} and \\boxed{1}",
`<answer>1</answer><answer>2</answer>`); so do "2 or 3"
and "x=1 or x=2" inside one answer. `Extraction.parts` lists them and `hedged` says they were offered
as alternatives. Boxes linked by a short phrase with a conjunction ("\\boxed{6} and the area is
\\boxed{108}", "(3,3) for part (a) and (1,1)") are kept in `linked`: they count together only for a
gold with that many parts, otherwise the last box alone is the answer.

A committed answer that is empty (`\\boxed{}`, `<answer></answer>`), cut off (`\\boxed{12` at the
end) or retracted ("that double counts", with no new answer) is NOT an answer, and never lets a
lower rule pick a number out of the working: the Extraction says why (`problem`) and has no parts.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from rewardforge.verifiers.math.fallback import FALLBACK_RULES, final_statement
from rewardforge.verifiers.math.final import ThinkPolicy, answer_region, retracted
from rewardforge.verifiers.math.rules import FINDERS, Statement
from rewardforge.verifiers.math.scan import boxes, math_spans

COMMITTED_RULES = ("boxed", "answer_tag", "gsm8k", "json", "answer_is", "minerva")
#: The default priority: committed answers first, the last number only as the final fallback.
DEFAULT_RULES: tuple[str, ...] = COMMITTED_RULES + FALLBACK_RULES
ALL_RULES: frozenset[str] = frozenset(DEFAULT_RULES)
#: An answer longer than this is not cleaned or split here (no regex runs on it); the comparison refuses it.
MAX_ANSWER_CHARS = 2_000


@dataclass(frozen=True)
class Extraction:
    """The answer a completion gives, as written (trimmed), and how it was found."""

    text: str
    rule: str
    start: int
    end: int
    parts: tuple[str, ...] = field(default=())
    linked: tuple[str, ...] = field(default=())
    hedged: bool = False
    problem: str | None = None

    @property
    def candidates(self) -> tuple[str, ...]:
        """The distinct answers of the final statement (whitespace ignored), in order."""
        distinct: dict[str, str] = {}
        for part in self.parts:
            distinct.setdefault(re.sub(r"\s+", "", part), part)
        return tuple(distinct)

    @property
    def conflicting(self) -> bool:
        """True when the final statement offers more than one distinct answer."""
        return len(self.candidates) > 1


def check_rules(rules: Sequence[str]) -> tuple[str, ...]:
    """Validate a user's priority list; unknown names raise ValueError naming them."""
    unknown = [r for r in rules if r not in ALL_RULES]
    if unknown:
        raise ValueError(f"unknown extraction rule(s) {unknown}; choose from {list(DEFAULT_RULES)}")
    if not rules:
        raise ValueError("at least one extraction rule is needed")
    return tuple(rules)


def extract_answer(text: str, rules: Sequence[str] = DEFAULT_RULES, *, think: ThinkPolicy = "skip",
                   choice: bool = False, truth: bool = False) -> Extraction | None:
    """The final answer of `text` (see the module docstring), or None when no rule finds one.

    `choice=True` (the gold is a choice letter) also lets a bare letter be the answer; `truth=True`
    (the gold is true/false or yes/no) reads those words in the final statement before any number.

    >>> found = extract_answer(r"w=\\boxed{6}, so the area is 6*18. Final answer: $\\boxed{108}$")
    >>> (found.text, found.rule)
    ('108', 'boxed')
    """
    rules = check_rules(rules)
    region = answer_region(text, think)
    if region.problem:
        return _no_answer("", region.offset, region.problem)
    statements = [s for rule in rules if rule in FINDERS for s in FINDERS[rule](region.text)]
    statements = [s for s in statements if s.problem or answer_like(s.answer)]
    if not statements:
        found = final_statement(region.text, rules, choice=choice, truth=truth)
        return None if found is None else _build(found, region.offset)
    rank = {rule: i for i, rule in enumerate(rules)}
    final = max(statements, key=lambda s: (s.end, -rank[s.rule], s.start))
    for _ in range(3):  # "Final Answer: the final answer is \boxed{5}", "my answer: {"answer": 5}": the innermost
        inner = [s for s in statements if final.start <= s.start and s.end <= final.end
                 and (s.start, s.end) != (final.start, final.end)]
        if not inner:
            break
        final = max(inner, key=lambda s: (s.end, -rank[s.rule], s.start))
    if final.problem:
        return _no_answer(final.rule, region.offset + final.start, f"{final.problem} final answer")
    if retracted(region.text, final.end):
        return _no_answer(final.rule, region.offset + final.start, "the final answer was retracted")
    if final.rule == "boxed":
        box_statements = [s for s in statements if s.rule == "boxed"]
        return _grouped(region.text, box_statements, box_statements.index(final), region.offset)
    if final.rule == "answer_tag" and not boxes(final.answer):
        tags = [s for s in statements if s.rule == "answer_tag"]
        index = tags.index(final)
        if index and join_kind(_TAG_MARKUP.sub(" ", region.text[tags[index - 1].end : final.start]))[0] == "hard":
            return _grouped(region.text, tags, index, region.offset, "answer_tag")  # `<answer>1</answer><answer>2</answer>`
    return _build(final, region.offset)


def _no_answer(rule: str, position: int, problem: str) -> Extraction:
    return Extraction("", rule or "none", position, position, problem=problem)


def _build(statement: Statement, offset: int) -> Extraction:
    """One statement: its boxes if it holds any, else its answer split into alternatives."""
    raw = statement.answer
    start, end = offset + statement.start, offset + statement.end
    if statement.listed:
        parts = tuple(p.strip() for p in raw.split(", "))
        return Extraction(raw, statement.rule, start, end, parts, parts, hedged=statement.alternatives)
    if len(raw) > MAX_ANSWER_CHARS:
        return Extraction(raw, statement.rule, start, end, (raw,), (raw,))
    inner = boxes(raw)
    if inner:
        if not inner[-1].closed:
            return _no_answer(statement.rule, start, "truncated final answer")
        contents = [b.inner(raw) for b in inner]
        if not any(c.strip() for c in contents):
            return _no_answer(statement.rule, start, "empty final answer")
        parts = tuple(clean_answer(c) for c in contents if c.strip())
        hedged = any(re.search(r"\bor\b", raw[a.end : b.start]) for a, b in itertools.pairwise(inner))
        return Extraction(", ".join(parts), "boxed", start, end, parts, parts, hedged)
    if statement.rule == "answer_tag" and len(raw.split()) > MAX_TEXT_ANSWER_WORDS and not answer_is_math(raw):
        worked = final_statement(raw, FALLBACK_RULES)  # a worked answer inside the tag: its final statement
        if worked is not None:
            return _build(Statement("answer_tag", statement.start, statement.end, worked.answer, listed=worked.listed,
                                    alternatives=worked.alternatives), offset)
    answer = clean_answer(phrase_answer(raw) if statement.rule in ("answer_is", "minerva") else raw)
    if not answer:
        return _no_answer(statement.rule, start, "empty final answer")
    parts = tuple(split_alternatives(answer))
    return Extraction(answer, statement.rule, start, end, parts, parts, hedged=len(parts) > 1)


_TAG_MARKUP = re.compile(r"</?(?:answer|final_answer)>", re.IGNORECASE)


def _grouped(region: str, box_statements: list[Statement], index: int, offset: int, rule: str = "boxed") -> Extraction:
    """The last box (or answer tag) with the ones joined to it (see the module docstring)."""
    final = box_statements[index]
    parts, linked = [final], [final]
    hard, hedged = True, False
    for earlier in reversed(box_statements[:index]):
        if earlier.problem:
            break
        kind, alternative = join_kind(_TAG_MARKUP.sub(" ", region[earlier.end : linked[0].start]))
        if kind is None:
            break
        linked.insert(0, earlier)
        if kind == "hard" and hard:
            parts.insert(0, earlier)
            hedged |= alternative
        else:
            hard = False
    own = tuple(p for p in (clean_answer(s.answer) for s in parts) if p)
    joined = tuple(p for p in (clean_answer(s.answer) for s in linked) if p)
    big = next((s.answer for s in parts if len(s.answer) > MAX_ANSWER_CHARS), None)
    if big is not None:
        return Extraction(big, rule, offset + final.start, offset + final.end, (big,), (big,))
    if len(own) == 1:
        alternatives = tuple(split_alternatives(own[0]))
        hedged = hedged or len(alternatives) > 1
        own = alternatives
    return Extraction(", ".join(own), rule, offset + parts[0].start, offset + final.end, own, joined, hedged)


_CONJUNCTIONS = frozenset({"and", "or", "und", "oder", "et", "ou", "y", "o", "e", "和", "或", "及", "以及"})
_ALTERNATIVE_WORDS = frozenset({"or", "oder", "ou", "o", "或"})
_LABEL_WORDS = frozenset({"part", "parts", "for", "the", "is", "are", "a", "b", "c", "d", "i", "ii", "iii", "iv"})
_COMMAND = re.compile(r"\\[a-zA-Z]+|\\.")
_WORD = re.compile(r"[^\W\d_]+")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)|\n\s*\n")


def join_kind(between: str) -> tuple[str | None, bool]:
    """How two boxes are joined by the text between them: ("hard" | "soft" | None, offered as alternatives)."""
    if len(between) > 80 or _SENTENCE_END.search(between):
        return None, False
    words = [w.casefold() for w in _WORD.findall(_COMMAND.sub(" ", between))]
    alternative = any(w in _ALTERNATIVE_WORDS for w in words)
    if all(w in _CONJUNCTIONS for w in words):
        return "hard", alternative
    if any(w in _CONJUNCTIONS for w in words) or all(w in _LABEL_WORDS for w in words):
        return "soft", alternative
    return None, False


_ANSWER_LIKE = re.compile(r"[\d\\$^=<>√π∞]|^\W*\(?[A-J]\)?\W*$")
MAX_TEXT_ANSWER_WORDS = 4


def answer_is_math(answer: str) -> bool:
    """The whole answer is one math span or box (`$x = 3$`, `\\boxed{5}`), however long."""
    stripped = answer.strip()
    spans = math_spans(stripped)
    return (bool(spans) and spans[0].start == 0 and spans[0].end == len(stripped)) or stripped.startswith("\\boxed")


_VERDICT_WORDS = re.compile(
    r"^\W*(?:(?:indeed|definitely|probably|likely|also|still|now|then|therefore|thus|clearly|very|most|quite|"
    r"entirely|completely|fully|perfectly|not)\s+)*(?:correct|right|wrong|incorrect|valid|invalid|consistent|"
    r"reasonable|plausible|confirmed|verified|accurate|fine|ok|okay|sound|solid|the same|unchanged|unique)\b",
    re.IGNORECASE,
)


def answer_like(answer: str) -> bool:
    """Whether an answer phrase holds an answer (math, a number, a letter, a few words), not prose
    and not a verdict on an earlier answer ("so our answer is correct", "the answer is consistent")."""
    answer = answer.strip()
    if not answer or len(answer) > MAX_ANSWER_CHARS:
        return bool(answer)
    if _ANSWER_LIKE.search(answer):
        return True
    if _VERDICT_WORDS.match(answer):
        return False
    return len(answer.split()) <= MAX_TEXT_ANSWER_WORDS


_PROSE_TAIL = re.compile(
    r"\s(?:because|since|as|which|so that|given that|when|where|if|per|each|in total|in all|"
    r"because of|due to|after|before|from|to get|to make)\b",
    re.IGNORECASE,
)
_VERB = re.compile(r"\s(?:is|are|was|were|equals|is equal to|es|est|ist|é|è)\s|是|为", re.IGNORECASE)


def phrase_answer(raw: str) -> str:
    """The answer inside an answer phrase: its math whole; in a sentence ("The volume of $V$ is 120"),
    what follows its last verb; in prose ("Jane started 3 hours ago"), the expression in it; never
    an explanation after it ("3, which is prime" is 3)."""
    stripped = raw.replace('\\"', '"').strip().strip('"').strip()  # quoted: `\"$12$ and $13$\"`
    spans = math_spans(stripped)
    if spans and spans[0].start == 0:
        first = spans[0]
        rest = stripped[first.end :].strip().lower()
        if spans[-1].end < len(stripped) - 1 or len(spans) > 1:
            if rest.startswith(("or ", "and ", "\\text{", ",")):  # "$2$ or $3$", "$1$ and $2$": several
                return read_through_math(stripped)
        return first.inner(stripped) + ("%" if rest.startswith(("%", "percent", "pct")) else "")
    tail = _PROSE_TAIL.search(stripped)
    stripped = stripped[: tail.start()] if tail else stripped
    if _WORD.match(stripped):  # a sentence, not an answer: the answer follows its last verb
        verbs = [m for m in _VERB.finditer(stripped) if not any(s.start <= m.start() < s.end for s in spans)]
        if verbs:
            return phrase_answer(stripped[verbs[-1].end() :])
    if answer_like(stripped) and len(stripped.split()) > MAX_TEXT_ANSWER_WORDS:
        from rewardforge.verifiers.math.fallback import last_expression

        expression = last_expression(stripped)
        if isinstance(expression, str):
            return expression
    return stripped


def read_through_math(text: str) -> str:
    """Math delimiters read through: "$12$ and $13$" -> "12 and 13"."""
    spans = math_spans(text)
    pieces, position = [], 0
    for span in spans:
        pieces.append(text[position : span.start])
        pieces.append(span.inner(text))
        position = span.end
    pieces.append(text[position:])
    return " ".join(p.strip() for p in pieces if p.strip())


_ALTERNATIVES = re.compile(r"\\text\{\s{0,3}or\s{0,3}\}|\\lor(?![a-zA-Z])|\\vee(?![a-zA-Z])|(?<![\w\\])or(?!\w)")


def split_alternatives(answer: str) -> list[str]:
    """`x=2 or x=3` -> [`x=2`, `x=3`]; an answer without alternatives comes back alone."""
    if len(answer) > MAX_ANSWER_CHARS or not any(mark in answer for mark in ("or", "\\lor", "\\vee")):
        return [answer]
    parts = [clean_answer(p) for p in _ALTERNATIVES.split(answer)]
    return [p for p in parts if p] or [answer]


_WRAPPERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("**", "**"), ("__", "__"), ("`", "`"),
             ('\\"', '\\"'), ('"', '"'), ("“", "”"))
_TRAILING = ".;,:?。 \t\n"


def clean_answer(answer: str) -> str:
    """Trim what surrounds an answer but is not part of it: spaces, `$`, markdown bold, end punctuation."""
    if len(answer) > MAX_ANSWER_CHARS:
        return answer
    answer = answer.strip()
    previous = None
    while previous != answer:
        previous = answer
        ellipsis = answer.endswith("...") and answer[:-3].rstrip()[-1:].isdigit()  # `0.333...` is a value
        answer = answer.strip() if ellipsis else answer.strip().rstrip(_TRAILING).strip()
        for left, right in _WRAPPERS:
            if len(answer) >= len(left) + len(right) and answer.startswith(left) and answer.endswith(right):
                answer = answer[len(left) : len(answer) - len(right)]
        for mark in ("**", "__", "$"):
            if answer.startswith(mark) and answer.count(mark) == 1:
                answer = answer[len(mark) :]
            if answer.endswith(mark) and answer.count(mark) == 1 and not answer.endswith("\\" + mark):
                answer = answer[: -len(mark)]
    return answer.strip()
