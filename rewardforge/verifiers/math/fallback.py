"""Fallback rules: the answer of a completion that never says "the answer is".

They read the FINAL STATEMENT: the last sentence (or line, code block or table row) of the answer
region that holds anything answer-like; closing pleasantries ("I hope this helps!"), remarks in
parentheses and questions ("What is 2+2?", a prompt echoed back) are passed over. Within it, in this rank:

1. `conclusion`  the statement opens with a concluding word ("Therefore, x >= 5.", "So the distance
                 is \\(2\\sqrt{5}\\)", "因此", "donc"): its math or expression, whole;
2. `last_math`   its last `$...$`, `$$...$$`, `\\(...\\)` or `\\[...\\]`, whole;
3. `code`        `` `42` ``, the last line of a fenced block, the last cell of a markdown table row;
4. `last_number` its last number, always whole: an expression it belongs to (`\\frac{10}{9}`,
                 `2\\sqrt{5}`, `36√3`, `x >= 5`, `3 + 4 = 7`, markdown bold read through), thousands
                 groups (`1 000`), `.4`, a trailing `%` or scale word ("2.5 million"), or number words
                 ("twelve", "十二"); never digits glued to letters (`AZYUK2A`). A list of numbers there
                 ("Maybe 10, 20, 72") is a hedge; "there are no solutions" is the empty set;
5. `choice`      a bare or decorated choice letter ("(B)", "**C**"), only when the gold is a letter;
6. `truth`       only when the gold is true/false or yes/no, and then read FIRST, in the last three
                 statements: the last "true" or "false" of a statement ("... such that the equation
                 holds is true."; "is not true" is false), or a "Yes"/"No" that opens one ("No. It
                 diverges at x = 2."); both words in one statement are a hedge.

Only the last `TAIL` characters are read: a final answer is at the end.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rewardforge.verifiers.math.rules import Statement
from rewardforge.verifiers.math.scan import Span, broken_spans, math_spans, sentence_starts
from rewardforge.verifiers.math.words import NUMBER_WORDS, SCALE_WORDS, words_to_number

TAIL = 4_000
MAX_SENTENCES = 40
TRUTH_UNITS = 3
FALLBACK_RULES = ("conclusion", "last_math", "code", "last_number", "choice", "truth")

_FENCE = re.compile(r"```[^\n`]{0,40}\n(.*?)(?:```|\Z)", re.DOTALL)
_INLINE_CODE = re.compile(r"`([^`\n]{1,200})`")
_TABLE_ROW = re.compile(r"^[ \t]*\|(.*)\|[ \t]*$", re.MULTILINE)
_CONCLUSION = re.compile(
    r"^[\s*#>_-]*(?:therefore|thus|hence|so|consequently|in conclusion|finally|in total|altogether|"
    r"因此|所以|故|por lo tanto|por tanto|donc|ainsi|also|daher|somit|portanto|quindi)\b[\s,:]*",
    re.IGNORECASE,
)
_FLUFF = re.compile(r"^[\s*_#>-]*\(.*\)[\s.*_]*$", re.DOTALL)
_TOKEN = re.compile(
    r"(?P<num>\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?![\d,.])|\d(?:[\d,]*\d)?(?:\.\d+)?(?:[eE][-+]?\d+)?|\.\d+)"
    r"|(?P<cmd>\\[a-zA-Z]+|\\[{}|,;!])"
    r"|(?P<op>>=|<=|!=|==|\\geq|\\leq|[-+*/^=<>×÷·≤≥≠±√%!_'⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺])"
    r"|(?P<open>[({\[])|(?P<close>[)}\]])"
    r"|(?P<word>[^\W\d_]+)"
    r"|(?P<space>[ \t]+)|(?P<dollar>\$)|(?P<comma>,)|(?P<other>.)",
)
_FUNCTION_WORDS = frozenset({"sin", "cos", "tan", "log", "ln", "exp", "sqrt", "pi", "π", "i", "e"})
_EMPHASIS = re.compile(r"(?<![\w)])(?:\*\*|__)|(?:\*\*|__)(?![\w(])")  # bold marks, not `2**3`
_GLUED_OR = re.compile(r"(?<=[\d)}])(or|and)(?=[A-Za-z]\()")  # `W(x)=1orW(x)=-1`
_HEDGE = re.compile(r"\b(?:or|maybe|perhaps|possibly|either|probably|not sure|guess)\b", re.IGNORECASE)
_WEAK_NUMBER_WORDS = frozenset({"a", "an", "and", "un", "une", "e", "y"})  # never a number on their own
_PERCENT_WORDS = frozenset({"percent", "pct", "per cent", "percentage"})
_CHOICE = re.compile(
    r"\\text(?:bf)?\{\s*\(?([A-J])\)?\s*\}|\*\*\(?([A-J])\)?\*\*|\(([A-J])\)|\b([A-J])\)|(?<![\w\\])([A-J])(?![\w'])"
)


@dataclass(frozen=True)
class _Unit:
    """A candidate final statement: `tail[start:end]`, and whether it is code or a table row."""

    start: int
    end: int
    kind: str = "sentence"


def final_statement(region: str, rules: Sequence[str], *, choice: bool = False, truth: bool = False) -> Statement | None:
    """The answer of the final statement by the enabled fallback rules (see the module docstring)."""
    enabled = [r for r in FALLBACK_RULES if r in rules and (r != "choice" or choice) and r != "truth"]
    truth = truth and "truth" in rules
    if not enabled and not truth:
        return None
    offset = max(0, len(region) - TAIL)
    tail = region[offset:]
    for span in broken_spans(tail):  # inline math broken over lines: malformed, so unreadable
        tail = tail[: span.start] + " " * (span.end - span.start) + tail[span.end :]
    units = _units(tail)[-MAX_SENTENCES:]
    # a true/false gold: a truth word in the last statements comes before any number ("No. It diverges at x = 2.")
    passes = [(units[-TRUTH_UNITS:], ["truth"])] if truth else []
    for candidates, rules_now in [*passes, (units, enabled)]:
        found = _first_answer(tail, candidates, rules_now, offset)
        if found is not None:
            return found
    return None


def _first_answer(tail: str, units: list[_Unit], enabled: list[str], offset: int) -> Statement | None:
    """The answer of the last unit that has one, by the first rule of `enabled` that finds it."""
    for unit in reversed(units):
        found = _read(tail, unit, enabled)
        if found is not None:
            rule, start, end, answer = found
            if isinstance(answer, tuple):
                hedge = _HEDGE.search(tail, start, end) is not None
                return Statement(rule, offset + start, offset + end, ", ".join(answer), listed=True, alternatives=hedge)
            return Statement(rule, offset + start, offset + end, answer)
    return None


def _units(tail: str) -> list[_Unit]:
    """Sentences, with display math, fenced code blocks and table rows as units of their own."""
    fences = [Span(m.start(), m.end(), m.start(1), m.end(1)) for m in _FENCE.finditer(tail)]
    spans = math_spans(tail)
    displays = [s for s in spans if tail.startswith(("$$", "\\["), s.start)]
    protected = sorted(spans + fences, key=lambda s: s.start)
    starts = sentence_starts(tail, protected)
    starts = sorted({*starts, *(d.start for d in displays), *(d.end for d in displays)})
    units = [_Unit(a, b) for a, b in zip(starts, [*starts[1:], len(tail)], strict=True)]
    units = [u for u in units if not any(f.start <= u.start < f.end for f in fences)]
    units += [_Unit(f.inner_start, f.inner_end, "fence") for f in fences]
    units += [_Unit(m.start(), m.end(), "table") for m in _TABLE_ROW.finditer(tail)]
    return sorted(units, key=lambda u: (u.end, u.start))


def _read(tail: str, unit: _Unit, enabled: list[str]) -> tuple[str, int, int, str | tuple[str, ...]] | None:
    text = tail[unit.start : unit.end]
    if not text.strip() or _FLUFF.match(text):
        return None
    if unit.kind == "sentence" and text.rstrip(" \t\n*_").endswith(("?", "？")):
        return None  # a question ("What is 2+2?", an echoed prompt) asks, it does not answer
    if unit.kind in ("fence", "table"):
        if "code" not in enabled:
            return None
        code = _code_answer(text, unit.kind)
        return ("code", unit.start, unit.end, code) if code else None
    conclusion = _CONCLUSION.match(text)
    for rule in enabled:
        if rule == "conclusion" and conclusion is None:
            continue
        answer = _answer_in(text, "last_math" if rule == "conclusion" else rule)
        if answer is None and rule == "conclusion":
            answer = _answer_in(text, "last_number")
        if answer is not None:
            return rule, unit.start, unit.end, answer
    return None


def _answer_in(text: str, rule: str) -> str | tuple[str, ...] | None:
    if rule == "last_math":
        spans = [s for s in math_spans(text) if s.inner(text).strip()]
        if not spans:
            return None
        listed = [spans[-1]]  # "$x=1$ and $x=2$": math joined by list words is one answer of several parts
        for earlier in reversed(spans[:-1]):
            if text[earlier.end : listed[0].start].strip().lower() not in _LIST_JOINS:
                break
            listed.insert(0, earlier)
        if last_expression(text[spans[-1].end :]) is not None:
            return None  # "$(x-1)(x-2)=0$, so x = 1 or x = 2": the plain answer after the math is the later one
        if len(listed) > 1:
            return tuple(s.inner(text).strip() for s in listed)
        last = spans[-1]
        return text[last.inner_start : last.inner_end] + _unit_after(text, last.end)
    if rule == "code":
        inline = list(_INLINE_CODE.finditer(text))
        return inline[-1].group(1) if inline else None
    if rule == "last_number":
        return last_expression(text) or _number_words(text) or _no_solution(text)
    if rule == "choice":
        letters = list(_CHOICE.finditer(text))
        return next(g for g in letters[-1].groups() if g) if letters else None
    if rule == "truth":
        return _truth(text)
    return None


_TRUTH = re.compile(r"(?<![\w\\])(true|false)(?!\w)", re.IGNORECASE)
_NEGATION = re.compile(r"(?:\bnot|n't)\s+$", re.IGNORECASE)
_YES_NO = re.compile(r"^[\s*_#>-]*(yes|no)(?![\w'])", re.IGNORECASE)


def _truth(text: str) -> str | tuple[str, ...] | None:
    """"... is true." -> True, "is not true" -> False, a statement opening with "Yes"/"No"."""
    found = []
    for m in _TRUTH.finditer(text):
        negated = _NEGATION.search(text, max(0, m.start() - 8), m.start()) is not None
        found.append("True" if (m.group(1).lower() == "true") != negated else "False")
    if found:
        return found[-1] if len(set(found)) == 1 else tuple(dict.fromkeys(found))
    opening = _YES_NO.match(text)
    return opening.group(1).capitalize() if opening else None


_NO_SOLUTION = re.compile(r"\bno (?:real |such |integer )?(?:solutions?|roots?)\b|\bhas no solution", re.IGNORECASE)


def _no_solution(text: str) -> str | None:
    """"There are no solutions": the empty set is an answer too."""
    return "\\emptyset" if _NO_SOLUTION.search(text) else None


def _unit_after(text: str, position: int) -> str:
    """`$28$ %` and `$28$ percent`: a percent sign after the math belongs to the answer."""
    rest = text[position : position + 12].strip().lower()
    return "%" if rest.startswith(("%", "percent", "pct", "per cent")) else ""


def _code_answer(text: str, kind: str) -> str | None:
    if kind == "fence":
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return lines[-1] if lines else None
    cells = [c.strip() for c in text.strip().strip("|").split("|")]
    cells = [c for c in cells if c and not set(c) <= set("-: ")]
    return cells[-1] if cells else None


def last_expression(text: str) -> str | tuple[str, ...] | None:
    """The last expression with a number in it, whole (see `last_number` in the module docstring);
    a comma- or "or"-separated list of plain numbers comes back as that list (a hedge)."""
    text = _GLUED_OR.sub(r" \1 ", text[-2_000:])
    if "**" in text or "__" in text:  # markdown bold (`= **108**`) is emphasis, not an operator
        text = _EMPHASIS.sub("", text)
    runs = _runs(text)
    if not runs:
        return None
    last = runs[-1]
    listed = [last]
    chained = [last]  # the same, joined by list words whatever the kinds: "42, 17, 4\sqrt{2}"
    for earlier in reversed(runs[:-1]):
        between = text[earlier[1] : chained[0][0]].strip().lower()
        if between not in _LIST_JOINS:
            break
        numbers = earlier[2] == chained[0][2] == "number"
        if len(listed) == len(chained) and (numbers or between in ("or", "and", ", or", ", and")):
            listed.insert(0, earlier)
        chained.insert(0, earlier)
    if len(chained) >= 3 and sum(kind == "number" for _, _, kind in chained) >= 2:
        listed = chained  # a run of guesses ending on an expression is still a list, not its last item
    if len(listed) > 1:
        return tuple(text[s:e].strip() for s, e, _ in listed)
    return text[last[0] : last[1]].strip() + _scale_or_percent(text, last[1])


_LIST_JOINS = frozenset({",", "or", ", or", ", and", "and", "/", ";"})


def _runs(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of each maximal run of math tokens holding a number; kind "number" when plain."""
    tokens = [(m.lastgroup or "other", m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
    runs: list[tuple[int, int, str]] = []
    run: _Run | None = None
    for index, (kind, token, start, end) in enumerate(tokens):
        before = tokens[index - 1][0] if index else ""
        after = next((t for t in tokens[index + 1 : index + 4] if t[0] != "space"), ("", "", 0, 0))
        if _joins(kind, token, before, after, run, text, end):
            if run is None:
                run = _Run(start)
            run.add(kind, token, end)
        elif run is not None:
            runs.extend(run.close())
            run = None
    if run is not None:
        runs.extend(run.close())
    return runs


class _Run:
    """A run of math tokens being read: where it ends, whether it holds a number, whether it is plain."""

    def __init__(self, start: int) -> None:
        self.start = self.end = start
        self.number = False
        self.plain = True
        self.depth = 0
        self.last = ""

    def add(self, kind: str, token: str, end: int) -> None:
        if kind != "space":
            self.end, self.last = end, kind
        self.number |= kind == "num" or token in ("\\frac", "\\dfrac", "\\sqrt", "\\pi", "\\infty")
        self.plain &= kind in ("num", "space", "dollar") or (kind == "op" and token in "-+%")
        self.depth += (kind == "open") - (kind == "close")

    def close(self) -> list[tuple[int, int, str]]:
        return [(self.start, self.end, "number" if self.plain else "expression")] if self.number else []


def _joins(kind: str, token: str, before: str, after: tuple[str, str, int, int], run: _Run | None, text: str,
           end: int) -> bool:
    """Whether a token continues (or starts) a math run; see `last_number` in the module docstring."""
    if kind == "num":
        return before != "word"  # `AZYUK2A`: digits glued to letters are an identifier
    if kind in ("cmd", "open"):
        return True
    if kind == "op":
        return run is not None or (token in "-+±√" and after[0] in ("num", "cmd", "open"))
    if kind in ("close", "space"):
        return run is not None
    if kind == "dollar":
        return text[end : end + 1].isdigit()
    if kind == "comma":
        return run is not None and run.depth > 0
    if kind == "word" and (len(token) == 1 or token.lower() in _FUNCTION_WORDS):
        follows_operator = after[0] == "op" and after[1] not in "%!'"
        if run is None:
            return follows_operator or (len(token) == 1 and text[end : end + 1] == "(")
        return run.last in ("op", "open") or before in ("num", "cmd", "close") or follows_operator
    return False


def _scale_or_percent(text: str, position: int) -> str:
    rest = text[position : position + 24].lower().split()
    if not rest:
        return ""
    word = rest[0].strip(".,;:!?")
    if word in SCALE_WORDS:
        return f" {word}"
    if word in _PERCENT_WORDS or (word == "per" and len(rest) > 1 and rest[1].startswith("cent")):
        return "%"
    return ""


_CJK_NUMERALS = "零〇一二两兩三四五六七八九十百千万萬亿億点负負分之"
_NUMBER_WORD_TOKEN = re.compile(rf"[{_CJK_NUMERALS}]+|[A-Za-zÀ-ÿ]+(?:-[A-Za-zÀ-ÿ]+)*")


def _number_words(text: str) -> str | None:
    """The last run of number words ("twelve", "negative five", "十二") whose value can be read."""
    best = None
    run: list[str] = []
    for word in [*_NUMBER_WORD_TOKEN.findall(text[-600:]), ""]:
        if word and word[0] in _CJK_NUMERALS:
            run, best = [], word if words_to_number(word) is not None else best
            continue
        if word and all(p in NUMBER_WORDS or p == "and" for p in word.lower().split("-")):
            run.append(word)
            continue
        while run and run[-1].lower() == "and":
            run.pop()
        if run and any(w.lower() not in _WEAK_NUMBER_WORDS for w in run) and words_to_number(" ".join(run)) is not None:
            best = " ".join(run)
        run = []
    return best
