"""String normalisation of answers: one canonical spelling per answer, before any parsing.

Everything here is a bounded regex pass (no nesting recursion) over an answer already limited to
`MAX_ANSWER_CHARS`, so it is safe on hostile input. It:
- folds unicode: full-width digits, U+2212 and `\\minus` to `-`, superscripts (`cm²`, `10⁴`) to
  `^{...}`, `×`, `÷`, `π`, `∞`, `≤`, `≥`, `≠` to their LaTeX;
- writes relations one way: `\\lt`, `\\gt` -> `<`, `>`; `<=`, `\\leq`, `\\leqslant`, `≤` -> `\\le`;
  `>=`, `\\geq`, `≥` -> `\\ge`; `!=`, `\\neq`, `≠` -> `\\ne`;
- drops presentation-only LaTeX (`\\left`, `\\bigl`, `\\!`, `\\,`, `\\quad`, `\\displaystyle`, `\\text{}` and
  friends around their content, degree marks, markdown bold, a trailing `\\pmod{n}`) and repairs common malformations
  (`\\sqrt(2)`, `\\frac12`, `\\cfrac`, a backslash escaped twice);
- drops what only decorates a value: ordinal suffixes (`12^{\\mathrm{th}}`, `3^\\text{rd}`, `21st`), and
  trailing words set in `\\text{}` / `\\mathrm{}` after it (units and nouns: `700 \\text{ nm}`,
  `15000 \\text{ kcal m}^{-2} \\text{ yr}^{-1}`, `12 \\text{ grade}`), unless they change the claim
  ("\\text{ or more}");
- reads functions written as code (`np.arcsin(10/13)`, `math.sqrt(2)`, `np.log` is `\\ln`) as LaTeX;
- writes subscripts one way: a command as a plain name (`L_{\\odot}` -> `L_{odot}`, so it parses), one
  character without braces (`E_{1}` -> `E_1`);
- reads "and"/"or" between values: a list ("2 and 3" -> `2,3`) unless relations are involved
  ("x > 1 and x < 5" keeps `\\land`, "x < -2 or x > 2" `\\lor`, for the relations layer);
- removes whitespace, except between letters (`\\pi r` must not become the unknown `\\pir`).
"""

from __future__ import annotations

import functools
import re
import unicodedata

from rewardforge.verifiers.math.extract import MAX_ANSWER_CHARS, clean_answer

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_SUPERSCRIPT_RUN = re.compile(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+")
_CONFUSABLES = str.maketrans({
    "\u2212": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\ufe63": "-", "\uff0d": "-", "\u2010": "-",
    "\u00d7": "\\times ", "\u22c5": "\\cdot ", "\u00b7": "\\cdot ", "\u00f7": "/", "\u221a": "\\sqrt",
    "\u03c0": "\\pi ", "\u221e": "\\infty ", "\u2264": "\\le ", "\u2265": "\\ge ", "\u2260": "\\ne ",
    "\u00b0": "^\\circ", "\u222a": "\\cup ", "\u2229": "\\cap ", "\u2208": "\\in ", "\u2248": "\\approx ",
    "\u00b1": "\\pm ", "\u2205": "\\emptyset ", "\u211d": "\\mathbb{R}", "\u2228": "\\lor ", "\u2227": "\\land ",
    "\u3001": ",", "\uff0c": ",", "\uff1b": ";",
})

_TEXT_WRAPPERS = re.compile(
    r"\\(?:text|textbf|textit|textrm|textnormal|textup|textsf|texttt|mathrm|mathbf|mathit|mathsf|mathtt|mbox|bf|"
    r"boldsymbol|operatorname|emph|underline|hbox)\s*\{([^{}]*)\}"
)
_SPACING = re.compile(
    r"\\(?:left|right|big|Big|bigg|Bigg)[lr]?(?![a-zA-Z])|(?<!\\)\\[!,;:> ]|\\q?quad|~|\\displaystyle|\\textstyle"
    r"|\\phantom\{[^{}]*\}|\\hspace\*?\{[^{}]*\}"
)
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\degree(?![a-zA-Z])")
_FRAC_ALIASES = re.compile(r"\\[dtc]frac(?![a-zA-Z])")
_SQRT_PARENS = re.compile(r"\\?sqrt\s*\(([^()]*)\)")
_SHORT_FRAC = re.compile(r"\\frac\s*(\d)\s*(\d)")
_SHORT_FRAC_HALF = re.compile(r"\\frac\s*(\d)\s*(?=\{)|\\frac(\{[^{}]*\})\s*(\d)")
_SHORT_SQRT = re.compile(r"\\sqrt\s*(\d)")
_MIXED_NUMBER = re.compile(r"^(-?\d+)\s+(\d+)\s*/\s*(\d+)$")
_RELATIONS = (
    (re.compile(r"\\leqslant|\\leq(?![a-zA-Z])|<=|=<"), r"\\le "),
    (re.compile(r"\\geqslant|\\geq(?![a-zA-Z])|>=|=>"), r"\\ge "),
    (re.compile(r"\\neq(?![a-zA-Z])|!=|=\\not="), r"\\ne "),
    (re.compile(r"\\lt(?![a-zA-Z])"), "<"),
    (re.compile(r"\\gt(?![a-zA-Z])"), ">"),
    (re.compile(r"\\minus(?![a-zA-Z])"), "-"),
    (re.compile(r"\\(?:dots|ldots|cdots)(?![a-zA-Z])"), r"\\dots "),
    (re.compile(r"\\varnothing(?![a-zA-Z])|\\\{\s*\\\}"), r"\\emptyset "),
    (re.compile(r"\\(?:lbrace)(?![a-zA-Z])"), r"\\{"),
    (re.compile(r"\\(?:rbrace)(?![a-zA-Z])"), r"\\}"),
    (re.compile(r"\\wedge(?![a-zA-Z])"), r"\\land "),
    (re.compile(r"\\vee(?![a-zA-Z])"), r"\\lor "),
)
_HAS_RELATION = re.compile(r"[<>]|\\[lgn]e(?![a-zA-Z])|\\in(?![a-zA-Z])")
_LIST_WORD = re.compile(r"(?<![A-Za-z\\])(and|or|und|oder|et|ou)(?![A-Za-z])")
_WHITESPACE = re.compile(r"\s+")
_SPACE_NOT_BETWEEN_LETTERS = re.compile(r"(?<![a-zA-Z]) | (?![a-zA-Z])")
_ESCAPED_BACKSLASH = re.compile(r"\\\\(?=[a-zA-Z])")
_MODULUS = re.compile(r"\s?(?:\\pmod\s?\{?\w+\}?|\(\s?\\?mod\s?\w+\s?\)|\\mod\s?\{?\w+\}?)$")  # `9 \pmod{11}`
_THOUSANDS_SPACE = re.compile(r"(?<=\d) ?(?:\{\s?,\s?\}|,\s?\\!\s?|\\!|\\,) ?(?=\d)")  # 1{,}000 1,\!000 1\,000


def fold_unicode(text: str) -> str:
    """NFKC (full-width digits -> ASCII) plus superscripts as powers and the confusables NFKC keeps."""
    if text.isascii():
        return text
    text = _SUPERSCRIPT_RUN.sub(lambda m: "^{" + m.group().translate(_SUPERSCRIPTS) + "}", text)
    return unicodedata.normalize("NFKC", text.translate(_CONFUSABLES)).translate(_CONFUSABLES)


_ORDINAL = re.compile(
    r"(?<=\d)(?:\s?\^\s?\{?\s?(?:\\(?:text|mathrm|textrm|rm)\s?\{\s?)?(?:st|nd|rd|th)\s?\}?\s?\}?|(?:st|nd|rd|th)(?![a-zA-Z]))"
)
_TEXT_UNIT = re.compile(
    r"(?<=[\d}).\]])\s*(?:\\[,;:! ]|~|\\q?quad)?\s*\\(?:text|mathrm|textrm|mbox|rm)\s?\{([^{}]{1,40})\}"
    r"\s*(?:\^\s*\{?\s*-?\d+\s*\}?)?\s*$"
)
_UNIT_TEXT = re.compile(r"[~\\ ]*[A-Za-zµμΩÅ][A-Za-zµμΩÅ~\\ .\-/]*")
_CLAIM_WORDS = frozenset({"or", "and", "not", "no", "more", "less", "least", "most", "than", "only", "if", "otherwise",
                          "none", "all", "any", "yes", "true", "false", "e", "i"})
_CODE_FUNCTION = re.compile(r"\b(?:np|numpy|math|sympy|sp)\.(arcsin|arccos|arctan|asin|acos|atan|sinh|cosh|tanh|sin|cos|tan|"
                            r"sqrt|log|exp|pi|e)\b")
_CODE_NAMES = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "e": "e", "log": "ln"}
_SUBSCRIPT_COMMAND = re.compile(r"_\s?\{\s?\\([a-zA-Z]+)\s?\}|_\\([a-zA-Z]+)")
_SUBSCRIPT_ONE = re.compile(r"_\{\s?([a-zA-Z0-9])\s?\}")


def drop_decorations(answer: str) -> str:
    """Ordinal suffixes and trailing `\\text{}` words after a value (see the module docstring)."""
    if "st" in answer or "nd" in answer or "rd" in answer or "th" in answer:
        answer = _ORDINAL.sub("", answer)
    for _ in range(4):
        m = _TEXT_UNIT.search(answer) if "\\" in answer else None
        if m is None or not _UNIT_TEXT.fullmatch(m.group(1)):
            break
        words = re.findall(r"[A-Za-z]+", m.group(1).lower())
        if not words or any(w in _CLAIM_WORDS for w in words) or m.start() == 0:
            break
        answer = answer[: m.start()]
    return answer


def _code_name(name: str) -> str:
    name = _CODE_NAMES.get(name, name)
    return name if name == "e" else "\\" + name


def unwrap_text(answer: str) -> str:
    """`\\text{13}` -> `13`; repeated a few times for `\\textbf{\\text{13}}`."""
    for _ in range(4):
        unwrapped = _TEXT_WRAPPERS.sub(r" \1 ", answer)
        if unwrapped == answer:
            break
        answer = unwrapped
    return answer


def _list_words(answer: str) -> str:
    """"2 and 3" -> "2, 3"; with relations "and"/"or" become `\\land`/`\\lor` for the relations layer."""
    if not _LIST_WORD.search(answer) or not re.search(r"[\d\\<>=]", answer):
        return answer
    relational = _HAS_RELATION.search(answer) is not None
    def replace(m: re.Match[str]) -> str:
        alternative = m.group(1) in ("or", "oder", "ou")
        if relational:
            return " \\lor " if alternative else " \\land "
        return " \\lor " if alternative else " , "
    return _LIST_WORD.sub(replace, answer)


@functools.lru_cache(maxsize=65_536)
def canonical(answer: str) -> str:
    """The canonical spelling of an answer with single spaces kept (units and labels need them)."""
    if len(answer) > MAX_ANSWER_CHARS:
        return answer
    answer = clean_answer(fold_unicode(answer.replace("\x00", "")))
    if "\\begin{" not in answer:
        answer = _ESCAPED_BACKSLASH.sub(r"\\", answer)
    if "." in answer:  # `np.arcsin(10/13)`, `math.sqrt(2)`: golds written as code
        answer = _CODE_FUNCTION.sub(lambda m: _code_name(m.group(1)), answer)
    answer = drop_decorations(answer)
    answer = unwrap_text(answer)
    if "_" in answer:
        answer = _SUBSCRIPT_COMMAND.sub(lambda m: "_{" + (m.group(1) or m.group(2)) + "}", answer)
        answer = _SUBSCRIPT_ONE.sub(r"_\1", answer)
    answer = _THOUSANDS_SPACE.sub(",", answer)
    answer = _SPACING.sub(" ", answer)
    answer = _DEGREES.sub("", answer)
    answer = _FRAC_ALIASES.sub(r"\\frac", answer)
    answer = _SQRT_PARENS.sub(r"\\sqrt{\1}", answer)
    answer = _SHORT_FRAC.sub(r"\\frac{\1}{\2}", answer)
    answer = _SHORT_FRAC_HALF.sub(_complete_frac, answer)
    answer = _SHORT_SQRT.sub(r"\\sqrt{\1}", answer)
    for pattern, replacement in _RELATIONS:
        answer = pattern.sub(replacement, answer)
    answer = answer.replace("\\%", "%").replace("\\$", "$")
    answer = _list_words(answer)
    answer = clean_answer(_MODULUS.sub("", answer))
    answer = _MIXED_NUMBER.sub(r"\1\\frac{\2}{\3}", answer)
    return _WHITESPACE.sub(" ", answer).strip()


def _complete_frac(m: re.Match[str]) -> str:
    """`\\frac1{x}` -> `\\frac{1}{x}`, `\\frac{x}2` -> `\\frac{x}{2}`."""
    return f"\\frac{{{m.group(1)}}}" if m.group(1) else f"\\frac{m.group(2)}{{{m.group(3)}}}"


def squeeze(answer: str) -> str:
    """Remove spaces, except between letters: `\\pi r` must not become the unknown command `\\pir`."""
    return _SPACE_NOT_BETWEEN_LETTERS.sub("", answer) if " " in answer else answer


@functools.lru_cache(maxsize=65_536)
def normalize(answer: str) -> str:
    """The canonical spelling of an answer, whitespace-free: for string equality and parsing."""
    return squeeze(canonical(answer))
