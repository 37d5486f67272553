"""Math equivalence: is this answer the same as that gold answer? Layers, cheapest first.

1. `string`: the canonical spellings are equal (`\\text{13}` vs `13`, `x \\lt 3` vs `x < 3`), a choice
   letter against a choice letter (`\\textbf{(E)}\\ 12` is E), words against words;
2. `numeric`: both read as numbers (`quantities.py`: units, currency, percent, thousands separators,
   decimal commas, number and scale words, Roman numerals against numbers), exact for rationals,
   `rel_tol` only for rounded or float-computed values; then `identity`: expressions in variables
   (`(x+1)^2` vs `x^2+2x+1`) evaluated exactly at random rational points, still without sympy;
3. `structural`: tuples, intervals, sets, lists, matrices, element by element with layers 1-2;
   relations and interval sets (`x \\ge 5` vs `[5, \\infty)`, "x < -2 or x > 2" vs a union);
4. `symbolic`: sympy in a killable worker (`shared_pool().call(..., timeout=...)`), only for what
   layers 1-3 leave undecided (equations, relations between expressions, exotic forms).

Before comparing, both sides are READ (`labels.py`): a label (`y =`, `f(x) =`, `k =`) names the
answer and its value is compared; a chain (`x = 5+5+1 = 11`) is judged on its last value; an
equation between expressions is compared as an equation and never equals a bare value. An
antiderivative gold with `+ C` accepts any answer that differs from it by a constant.

Gold-first semantics: the gold decides how the answer is read. A numeric gold makes `3,5` a decimal
comma, a list gold makes it the list (3, 5); a gold `(a, b)` needs the same brackets and order; a
gold set or bare list accepts any order; a gold with units or `%` is compared by value. The gold is
never judged: when it cannot be parsed the verdict is `skipped`, not a 0.

Layers 1-3 are pure Python with hard size limits and run in the caller's process; an answer that
is too large to evaluate (a power tower, `(10^{400})!`, a 1 MB answer) or undefined (`\\frac{1}{0}`)
is an `error` verdict with a reason, decided in microseconds, and concerns that answer only. Verdicts
are cached by (gold, answer, settings): GRPO groups repeat the same final answers.
"""

from __future__ import annotations

import functools
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from rewardforge.verifiers.math.extract import MAX_ANSWER_CHARS
from rewardforge.verifiers.math.gold import parse_gold_text
from rewardforge.verifiers.math.identity import identity_equal
from rewardforge.verifiers.math.labels import read
from rewardforge.verifiers.math.normalize import canonical, normalize, squeeze
from rewardforge.verifiers.math.numeric import NumericError, TooLarge, Undefined
from rewardforge.verifiers.math.quantities import (
    UNAMBIGUOUS_DECIMAL_COMMA,
    Number,
    numbers_equal,
    read_number,
)
from rewardforge.verifiers.math.relations import IntervalSet, as_set, has_relation, is_empty_set
from rewardforge.verifiers.math.structural import as_values, compare_structures, parse_structure
from rewardforge.verifiers.math.words import roman_to_int

Layer = Literal["string", "numeric", "identity", "structural", "symbolic"]
VerdictStatus = Literal["ok", "skipped", "error"]

DEFAULT_TIMEOUT = 3.0
MAX_BRACE_DEPTH = 64


@dataclass(frozen=True)
class Verdict:
    """The outcome of one comparison. `equal` is set exactly when `status == "ok"`."""

    status: VerdictStatus
    equal: bool | None
    layer: Layer | None
    gold: str
    answer: str
    reason: str | None = None

    def to_info(self) -> dict[str, object]:
        return {"parsed_gold": self.gold, "normalized_answer": self.answer, "layer": self.layer}


@dataclass(frozen=True)
class MathSettings:
    """How strictly to compare. `rel_tol` applies only where a side went through rounding."""

    rel_tol: float = 1e-6
    symbolic: bool = True
    timeout: float = DEFAULT_TIMEOUT


class _Refused(Exception):
    """The answer cannot be compared safely; becomes an `error` verdict with this reason."""


class _GoldUnusable(Exception):
    """The gold cannot be parsed; becomes a `skipped` verdict."""


@functools.lru_cache(maxsize=16_384)
def describe_gold(gold: str) -> str:
    """How the cheap layers read the gold, for `Score.info`: a value, a structure, or a spelling."""
    reading = read(canonical(gold))
    try:
        value = read_number(reading.value) if not reading.equation else None
    except NumericError:
        value = None
    if value is not None:
        exact = value.exact
        if exact is not None and max(exact.numerator.bit_length(), exact.denominator.bit_length()) < 600:
            shown = str(exact)
        elif exact is not None:
            shown = f"a rational of {max(exact.numerator.bit_length(), exact.denominator.bit_length())} bits"
        else:
            shown = f"~{value.approx:.6g}"
        return shown + ("%" if value.percent else "")
    normalised = squeeze(reading.value)
    try:
        structure = parse_structure(normalised)
    except ValueError:
        structure = None
    return f"{structure.kind} {normalised}" if structure else normalised


def _brace_depth(text: str) -> int:
    depth = deepest = 0
    for ch in text:
        if ch in "{([":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "})]":
            depth -= 1
    return deepest


def _check_size(answer: str) -> None:
    if len(answer) > MAX_ANSWER_CHARS:
        raise _Refused(f"answer too long to compare ({len(answer)} chars > {MAX_ANSWER_CHARS})")
    if _brace_depth(answer) > MAX_BRACE_DEPTH:
        raise _Refused(f"answer nested deeper than {MAX_BRACE_DEPTH} brackets")


_CHOICE = re.compile(r"^\(?([A-J])\)?$")
_CHOICE_IN_ANSWER = re.compile(r"^(?:option|choice)?\s?\(?([A-J])\)?(?:[\s.:)]|$)", re.IGNORECASE)
_TEXT_ANSWER = re.compile(r"^(?=.*[^\W\d_]{3})[^\W\d_ ]+(?: [^\W\d_]+)*$")
_CONSTANT = re.compile(r"\s?([+-])\s?(?:C|K|c|C_\{?\d\}?|\\text\{C\}|\\text\{constant\})$")
_LEADING_CHOICE = re.compile(r"^\(([A-J])\)\s?(?=\S)")
_NOT_SETS = object()


def _choice(text: str) -> str | None:
    m = _CHOICE.match(squeeze(text))
    return m.group(1) if m else None


def _words(text: str) -> str:
    return " ".join(text.casefold().split())


class _Comparison:
    """One gold/answer pair through the cheap layers; records the layer that decided and what
    the symbolic layer should see when they cannot decide."""

    def __init__(self, settings: MathSettings) -> None:
        self.settings = settings
        self.layer: Layer | None = None
        self.symbolic_pair: tuple[str, str] | None = None

    def decide(self, layer: Layer, verdict: bool | None) -> bool | None:
        if verdict is not None and self.layer != "structural":
            self.layer = layer
        return verdict

    def run(self, gold: str, answer: str) -> bool | None:
        gold_c, answer_c = canonical(gold), canonical(answer)
        if squeeze(gold_c) == squeeze(answer_c):
            return self.decide("string", True)
        letter = _choice(gold_c)
        if letter is not None:
            found = _CHOICE_IN_ANSWER.match(answer_c)
            if found or len(squeeze(answer_c)) == 1:
                return self.decide("string", (found.group(1) if found else squeeze(answer_c)) == letter)
        gold_read, answer_read = read(gold_c), read(answer_c)
        if gold_read.equation or answer_read.equation:
            return self._equations(gold_c, answer_c, gold_read, answer_read)
        gold_v, answer_v = gold_read.value, _LEADING_CHOICE.sub("", answer_read.value)
        self.symbolic_pair = (squeeze(gold_v), squeeze(answer_v))
        constant = _CONSTANT.search(gold_v)
        if constant is not None:
            return self._antiderivative(gold_v[: constant.start()], _CONSTANT.sub("", answer_v))
        return self.value(gold_v, answer_v)

    def _equations(self, gold_c: str, answer_c: str, gold_read: object, answer_read: object) -> bool | None:
        """An equation only equals an equation (or a labelled line: `y = 2x + 3`); sympy decides."""
        self.symbolic_pair = (squeeze(gold_c), squeeze(answer_c))
        sides = (gold_read, answer_read)
        if all(r.equation or (r.label is not None and re.search(r"[A-Za-z]", r.value))  # type: ignore[attr-defined]
               for r in sides):
            return None
        return self.decide("structural", False)

    def _antiderivative(self, gold: str, answer: str) -> bool | None:
        verdict = identity_equal(normalize(gold), normalize(answer), up_to_constant=True)
        if verdict is None:
            self.symbolic_pair = None  # sympy would compare them exactly: no use for `+ C`
        return self.decide("identity", verdict)

    def value(self, gold: str, answer: str) -> bool | None:
        """Compare two values (canonical spellings): sets of reals, structures, scalars."""
        gold_n, answer_n = squeeze(gold), squeeze(answer)
        if gold_n == answer_n:
            return self.decide("string", True)
        if is_empty_set(gold_n) or is_empty_set(answer_n):
            return self.decide("structural", is_empty_set(gold_n) and is_empty_set(answer_n))
        sets = self._sets(gold_n, answer_n)
        if sets is not _NOT_SETS:
            return sets  # type: ignore[return-value]
        decimal_comma = UNAMBIGUOUS_DECIMAL_COMMA.match(gold.strip()) is not None  # `1,22`, but not `2, 19`
        gold_structure = None if decimal_comma else parse_structure(gold_n)
        if gold_structure is not None:
            self.layer = "structural"
            return compare_structures(gold_structure, parse_structure(answer_n) or answer_n, self.item)
        answer_structure = parse_structure(answer_n)
        if answer_structure is not None and _not_a_number(answer):
            gold_values = as_values(gold_n)  # `\pm 2021` against `{-2021, 2021}`
            self.layer = "structural"
            return False if gold_values is None else compare_structures(gold_values, answer_structure, self.item)
        return self.scalar(gold, answer)

    def _sets(self, gold_n: str, answer_n: str) -> bool | object | None:
        """Relations and interval sets, when either side is a relation; `_NOT_SETS` otherwise."""
        if not (has_relation(gold_n) or has_relation(answer_n)):
            return _NOT_SETS
        self.layer = "structural"
        gold_set, answer_set = as_set(gold_n), as_set(answer_n)
        if gold_set is not None and answer_set is not None:
            return _same_sets(gold_set, answer_set, self.item)
        unread = [text for text, found in ((gold_n, gold_set), (answer_n, answer_set)) if found is None]
        return None if all(has_relation(text) for text in unread) else False  # `-x > -1`: sympy's call

    def item(self, gold: str, answer: str) -> bool | None:
        """An element of a structure: read for labels (`a = 3`), then compared as a value."""
        gold_read, answer_read = read(canonical(gold)), read(canonical(answer))
        if gold_read.equation or answer_read.equation:
            return None if gold_read.equation and answer_read.equation else False
        return self.value(gold_read.value, answer_read.value)

    def scalar(self, gold: str, answer: str) -> bool | None:
        gold_n, answer_n = squeeze(gold), squeeze(answer)
        if gold_n.isalpha() and gold_n.casefold() == answer_n.casefold():
            return self.decide("string", True)
        gold_roman, answer_roman = roman_to_int(gold_n), roman_to_int(answer_n)
        if _TEXT_ANSWER.match(gold.strip()) and gold_roman is None:
            try:
                answer_value = read_number(answer)
            except NumericError:
                answer_value = None
            if answer_value is None:  # a word is text, not a product of letters ("listen" != "silent")
                return self.decide("string", _words(gold) == _words(answer))
        try:
            gold_value = _roman_value(gold_roman) or read_number(gold)
        except (TooLarge, Undefined) as exc:
            raise _GoldUnusable(f"gold is not a usable number: {exc}") from None
        except NumericError:
            gold_value = None
        if gold_value is None:
            _screen(answer)
            return self.decide("identity", identity_equal(gold_n, answer_n))
        try:
            answer_value = _roman_value(answer_roman) or read_number(answer)
        except NumericError as exc:
            raise _Refused(f"answer {exc}") from None
        if answer_value is None:
            if not re.search(r"[A-Za-z\\]", answer_n):
                return self.decide("numeric", False)  # a number against a list or a stray symbol
            return self.decide("identity", identity_equal(gold_n, answer_n))
        return self.decide("numeric", numbers_equal(gold_value, answer_value, self.settings.rel_tol))


def _not_a_number(answer: str) -> bool:
    """A list-looking answer that is really one number (`1000,99`, `1,000`) is compared as a number."""
    try:
        return read_number(answer) is None
    except NumericError:
        return True


def _roman_value(value: int | None) -> Number | None:
    from fractions import Fraction

    return Number.of(Fraction(value)) if value is not None else None


def _same_sets(gold: IntervalSet, answer: IntervalSet, item: object) -> bool | None:
    if len(gold) != len(answer):
        return False
    undecided = False
    for g, a in zip(gold, answer, strict=True):
        if (g.low_closed, g.high_closed) != (a.low_closed, a.high_closed):
            return False
        for gb, ab in ((g.low, a.low), (g.high, a.high)):
            if gb.value in (float("inf"), float("-inf")) or ab.value in (float("inf"), float("-inf")):
                if gb.value != ab.value:
                    return False
                continue
            verdict = item(gb.text, ab.text)  # type: ignore[operator]
            if verdict is False:
                return False
            undecided |= verdict is None
    return None if undecided else True


def _screen(answer: str) -> None:
    """Refuse an arithmetic answer too large or undefined to evaluate, whatever the gold: sympy would
    only burn its timeout on a power tower."""
    try:
        read_number(answer)
    except (TooLarge, Undefined) as exc:
        raise _Refused(f"answer {exc}") from None
    except NumericError:
        pass


_cache: OrderedDict[tuple[str, str, MathSettings], Verdict] = OrderedDict()
_cache_lock = threading.Lock()
CACHE_SIZE = 100_000


def _cached(key: tuple[str, str, MathSettings]) -> Verdict | None:
    with _cache_lock:
        verdict = _cache.get(key)
        if verdict is not None:
            _cache.move_to_end(key)
        return verdict


def _remember(key: tuple[str, str, MathSettings], verdict: Verdict) -> None:
    if verdict.status == "error" and verdict.layer == "symbolic":
        return  # a timeout may be load, not the answer: do not make it permanent
    with _cache_lock:
        _cache[key] = verdict
        if len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)


def clear_cache() -> None:
    """Forget every verdict and normalised spelling (benchmarks measure cold work with this)."""
    with _cache_lock:
        _cache.clear()
    for cached in (normalize, canonical, read_number, describe_gold, parse_gold_text):
        cached.cache_clear()


_TOO_LARGE = (OverflowError, MemoryError, RecursionError)


def check_cheap(gold: str, answer: str, settings: MathSettings = MathSettings()) -> Verdict | tuple[str, str]:
    """Layers 1-3 only: a Verdict, or the (gold, answer) spellings the symbolic layer must decide."""
    comparison = _Comparison(settings)
    try:
        _check_size(answer)
        equal = comparison.run(gold, answer)
    except _GoldUnusable as exc:
        return Verdict("skipped", None, None, gold, "", str(exc))
    except _Refused as exc:
        return Verdict("error", None, None, gold, answer[:200], str(exc))
    except _TOO_LARGE as exc:
        return Verdict("error", None, None, gold, answer[:200], f"answer too large to compare ({type(exc).__name__})")
    except (NumericError, ValueError) as exc:
        return Verdict("error", None, None, gold, answer[:200], f"answer cannot be compared: {exc}")
    except Exception as exc:  # a bug here must cost this pair only, never the batch; tests keep it from happening
        return Verdict("error", None, None, gold, answer[:200], f"internal error: {type(exc).__name__}: {exc}"[:300])
    if equal is None:
        return comparison.symbolic_pair or (normalize(gold), normalize(answer))
    return Verdict("ok", equal, comparison.layer, describe_gold(gold), normalize(answer))


def _symbolic(gold: str, answer: str, spellings: tuple[str, str], settings: MathSettings) -> Verdict:
    from rewardforge.verifiers.math.runner import run_symbolic

    status, equal, detail = run_symbolic(*spellings, settings.rel_tol, settings.timeout)
    answer_n = normalize(answer)
    if status == "gold_unparseable":
        return Verdict("skipped", None, None, gold, answer_n, f"gold cannot be parsed: {detail}")
    if status == "error":
        return Verdict("error", None, "symbolic", gold, answer_n, detail)
    return Verdict("ok", bool(equal), "symbolic", detail, answer_n)


def verify(gold: str, answer: str, settings: MathSettings = MathSettings()) -> Verdict:
    """Compare one answer with one gold answer through all layers (see the module docstring).

    >>> verify(r"\\frac{1}{2}", "0.5").equal
    True
    >>> verify("[5, \\\\infty)", "x \\\\ge 5").layer
    'structural'
    """
    return verify_many([(gold, answer)], settings)[0]


def verify_many(pairs: Sequence[tuple[str, str]], settings: MathSettings = MathSettings()) -> list[Verdict]:
    """Compare many pairs: each distinct pair is decided once, and symbolic work runs in parallel."""
    verdicts: dict[tuple[str, str, MathSettings], Verdict] = {}
    pending: dict[tuple[str, str, MathSettings], tuple[str, str]] = {}
    for gold, answer in pairs:
        key = (gold, answer, settings)
        if key in verdicts or key in pending:
            continue
        cached = _cached(key)
        decided = cached if cached is not None else check_cheap(gold, answer, settings)
        if isinstance(decided, Verdict):
            verdicts[key] = decided
            _remember(key, decided)
        elif not settings.symbolic:
            verdicts[key] = Verdict("ok", False, None, gold, normalize(answer), "undecided without the symbolic layer")
        else:
            pending[key] = decided
    if pending:
        from rewardforge.verifiers.math.runner import parallelism

        jobs = list(pending.items())
        workers = min(parallelism(), len(jobs))
        if workers <= 1:
            results = [_symbolic(g, a, spellings, s) for (g, a, s), spellings in jobs]
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(lambda job: _symbolic(job[0][0], job[0][1], job[1], job[0][2]), jobs))
        for (key, _), verdict in zip(jobs, results, strict=True):
            verdicts[key] = verdict
            _remember(key, verdict)
    return [verdicts[(gold, answer, settings)] for gold, answer in pairs]
