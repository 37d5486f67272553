"""String normalisation of answers: one canonical spelling per answer, before any parsing.

Everything here is a bounded regex pass (no nesting recursion), so it is safe on hostile input.
It folds unicode confusables (full-width digits, U+2212 minus), drops presentation-only LaTeX
(`\\left`, `\\!`, `\\displaystyle`, `\\text{}` wrappers, degree marks, markdown bold), repairs
common malformations (`\\sqrt(2)`, `\\frac12`), and removes whitespace (but not between letters), so that answers differing
only in spelling compare equal as strings: the cheapest layer.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from rewardforge.verifiers.math.extract import clean_answer

_CONFUSABLES = str.maketrans({
    "\u2212": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\ufe63": "-", "\uff0d": "-", "\u2010": "-",
    "\u00d7": "\\times ", "\u22c5": "\\cdot ", "\u00b7": "\\cdot ", "\u00f7": "/", "\u221a": "\\sqrt",
    "\u03c0": "\\pi ", "\u221e": "\\infty ", "\u2264": "\\le ", "\u2265": "\\ge ", "\u2260": "\\ne ",
    "\u00b0": "^\\circ", "\u222a": "\\cup ", "\u2229": "\\cap ", "\u2208": "\\in ",
})

_TEXT_WRAPPERS = re.compile(
    r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mathit|mathsf|mbox|bf|boldsymbol|operatorname)\s*\{([^{}]*)\}"
)
_SPACING = re.compile(r"\\(?:left|right|big|Big|bigg|Bigg)(?![a-zA-Z])|(?<!\\)\\[!,;:> ]|\\q?quad(?![a-zA-Z])|~|\\displaystyle")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\degree(?![a-zA-Z])")
_FRAC_ALIASES = re.compile(r"\\[dt]frac(?![a-zA-Z])")
_SQRT_PARENS = re.compile(r"\\?sqrt\s*\(([^()]*)\)")
_SHORT_FRAC = re.compile(r"\\frac\s*(\d)\s*(\d)")
_SHORT_SQRT = re.compile(r"\\sqrt\s*(\d)")
_MIXED_NUMBER = re.compile(r"^(-?\d+)\s+(\d+)\s*/\s*(\d+)$")
_ASSIGNMENT = re.compile(r"^\s*(?:[a-zA-Z](?:_\{?\w+\}?)?|\\[a-zA-Z]+)\s*=(?!=)\s*")
_IN_SET = re.compile(r"^\s*[a-zA-Z]\s*\\in\s*")
_WHITESPACE = re.compile(r"\s+")
_SPACE_NOT_BETWEEN_LETTERS = re.compile(r"(?<![a-zA-Z]) | (?![a-zA-Z])")


def fold_unicode(text: str) -> str:
    """NFKC (full-width digits -> ASCII) plus the confusables NFKC keeps (U+2212, x, pi)."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFKC", text).translate(_CONFUSABLES)


def unwrap_text(answer: str) -> str:
    """`\\text{13}` -> `13`; repeated a few times for `\\textbf{\\text{13}}`."""
    for _ in range(4):
        unwrapped = _TEXT_WRAPPERS.sub(r"\1", answer)
        if unwrapped == answer:
            break
        answer = unwrapped
    return answer


def strip_assignment(answer: str) -> str:
    """`x = 5` -> `5` and `x \\in [1,2]` -> `[1,2]`, but only for a single-symbol left side
    and a single `=` (`x+y=3` is an equation, kept whole)."""
    if answer.count("=") == 1 and not re.search(r"[<>]|\\[lg]e", answer):
        m = _ASSIGNMENT.match(answer)
        if m:
            return answer[m.end() :]
    m = _IN_SET.match(answer)
    return answer[m.end() :] if m else answer


@functools.lru_cache(maxsize=65_536)
def normalize(answer: str, *, keep_assignment: bool = False) -> str:
    """The canonical spelling of an answer (whitespace-free), used for string equality and parsing.

    `keep_assignment` keeps `y = 3 - x` whole; used when the gold is itself an equation.
    """
    answer = clean_answer(fold_unicode(answer))
    answer = unwrap_text(answer)
    answer = _SPACING.sub(" ", answer)
    answer = _DEGREES.sub("", answer)
    answer = _FRAC_ALIASES.sub(r"\\frac", answer)
    answer = _SQRT_PARENS.sub(r"\\sqrt{\1}", answer)
    answer = _SHORT_FRAC.sub(r"\\frac{\1}{\2}", answer)
    answer = _SHORT_SQRT.sub(r"\\sqrt{\1}", answer)
    answer = answer.replace("\\lbrace", "\\{").replace("\\rbrace", "\\}").replace("{,}", ",")
    answer = answer.replace("\\%", "%").replace("\\$", "$")
    answer = clean_answer(answer)
    if not keep_assignment:
        answer = clean_answer(strip_assignment(answer))
    answer = _MIXED_NUMBER.sub(r"\1\\frac{\2}{\3}", answer)
    # spaces go, except between letters: `\pi r` must not become the unknown command `\pir`
    return _SPACE_NOT_BETWEEN_LETTERS.sub("", _WHITESPACE.sub(" ", answer).strip())
