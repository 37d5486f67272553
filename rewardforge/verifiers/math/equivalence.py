"""Math equivalence: is this answer the same as that gold answer? Layers, cheapest first.

1. `string`: the normalised spellings are equal (`\\text{13}` vs `13`, `**73**` vs `73`);
2. `numeric`: both read as numbers (units, currency, `%`, thousands separators, decimal commas,
   fractions, mixed numbers, scientific notation), exact for rationals, `rel_tol` for decimals;
   then `identity`: expressions in variables (`(x+1)^2` vs `x^2+2x+1`) evaluated exactly at random
   rational points (see `identity.py`), still without sympy;
3. `structural`: tuples, intervals, sets, lists, matrices, element by element with layers 1-2;
4. `symbolic`: sympy in a killable worker (`shared_pool().call(..., timeout=...)`), only for what
   layers 1-3 leave undecided.

Gold-first semantics: the gold answer is parsed first and decides how the answer is read and
compared. A numeric gold makes `3,5` a decimal comma, a list gold makes it the list (3, 5); a gold
`(a, b)` needs the same brackets and order; a gold set or bare list accepts any order; a gold with
units or `%` is compared by value (`50%` matches `50` and `0.5`); a gold `x = 5` asks for the value
5. The gold is never judged: when it cannot be parsed the verdict is `skipped`, not a 0.

Layers 1-3 are pure Python with hard size limits and run in the caller's process; an answer that
is too large to evaluate (a power tower, `9!!!!!!!!`, a 1 MB answer) or undefined (`\\frac{1}{0}`,
NaN) is an `error` verdict with a reason, decided in microseconds. Verdicts are cached by
(gold, answer, settings): GRPO groups repeat the same final answers.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from rewardforge.verifiers.math.extract import extract_answer
from rewardforge.verifiers.math.identity import identity_equal
from rewardforge.verifiers.math.normalize import normalize
from rewardforge.verifiers.math.numeric import (
    NotNumeric,
    Number,
    TooLarge,
    Undefined,
    close,
    parse_number,
    strip_units,
)
from rewardforge.verifiers.math.structural import Structure, compare_structures, parse_structure

Layer = Literal["string", "numeric", "identity", "structural", "symbolic"]
VerdictStatus = Literal["ok", "skipped", "error"]

DEFAULT_TIMEOUT = 3.0
MAX_ANSWER_CHARS = 2_000
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


def gold_answer(reference: str) -> str:
    """The gold answer inside a reference: its last `\\boxed{}` or GSM8K `####`, else the whole text."""
    found = extract_answer(reference, ("boxed", "gsm8k")) if ("\\boxed" in reference or "####" in reference) else None
    return found.text if found else reference.strip()


def describe_gold(gold: str) -> str:
    """How the cheap layers read the gold, for `Score.info`: a value, a structure, or a spelling."""
    try:
        value = read_number(gold)
    except (TooLarge, Undefined, ValueError):
        value = None
    if value is not None:
        try:
            shown = str(value.exact) if value.exact is not None else repr(value.approx)
        except ValueError:  # more digits than Python will print
            shown = f"~{value.approx:.6g}"
        return (shown[:200] + ("%" if value.percent else "")) if len(shown) <= 200 else f"~{value.approx:.6g}"
    normalised = normalize(gold)
    structure = parse_structure(normalised)
    return f"{structure.kind} {normalised}" if structure else normalised


def is_equation(gold: str) -> bool:
    """A gold like `x + y = 3` is an equation to match as a whole; `x = 5` only asks for 5."""
    return "=" in normalize(gold)


def _brace_depth(text: str) -> int:
    depth = deepest = 0
    for ch in text:
        if ch in "{([":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "})]":
            depth -= 1
    return deepest


def _check_answer_size(answer: str) -> None:
    if len(answer) > MAX_ANSWER_CHARS:
        raise _Refused(f"answer too long to compare ({len(answer)} chars > {MAX_ANSWER_CHARS})")
    if _brace_depth(answer) > MAX_BRACE_DEPTH:
        raise _Refused(f"answer nested deeper than {MAX_BRACE_DEPTH} brackets")


def read_number(raw: str) -> Number | None:
    """The value of a (raw) answer with units and currency removed; None when not arithmetic."""
    text, percent = strip_units(raw)
    try:
        value = parse_number(normalize(text))
    except NotNumeric:
        return None
    except RecursionError:
        raise TooLarge("expression nested too deeply") from None
    return Number(value.exact, value.approx, value.inexact, percent) if percent else value


def readings(value: Number) -> list[Number]:
    """The values a number may mean: `50%` means 50 or 0.5 (percent is compared either way)."""
    return [value, value.scaled(Fraction(1, 100))] if value.percent else [value]


def numbers_equal(gold: Number, answer: Number, rel_tol: float) -> bool:
    """Gold-first percent handling: `50%` may be written 50, 50% or 0.5; a bare gold 0.5 accepts 50%."""
    return any(close(g, a, rel_tol) for g in readings(gold) for a in readings(answer))


_TEXT_ANSWER = re.compile(r"^(?=.*[A-Za-z]{3})[A-Za-z ]+$")


def _words(text: str) -> str:
    return " ".join(text.casefold().split())


def _screen(answer: str) -> None:
    """Refuse an arithmetic answer too large or undefined to evaluate, whatever the gold: sympy would
    only burn its timeout on a power tower."""
    try:
        read_number(answer)
    except (TooLarge, Undefined) as exc:
        raise _Refused(f"answer {exc}") from None


class _Comparison:
    """One gold/answer pair through the cheap layers; records the layer that decided."""

    def __init__(self, settings: MathSettings, gold: str) -> None:
        self.settings = settings
        self.layer: Layer | None = None
        self.keep_assignment = is_equation(gold)

    def scalar(self, gold: str, answer: str) -> bool | None:
        gold_norm, answer_norm = normalize(gold), normalize(answer, keep_assignment=self.keep_assignment)
        if gold_norm == answer_norm or (gold_norm.isalpha() and gold_norm.casefold() == answer_norm.casefold()):
            self.layer = self.layer or "string"
            return True
        if _TEXT_ANSWER.match(gold_norm):  # a word is text, not a product of letters ("listen" != "silent")
            self.layer = self.layer or "string"
            return _words(gold_norm) == _words(answer_norm)
        try:
            gold_value = read_number(gold)
        except (TooLarge, Undefined) as exc:
            raise _GoldUnusable(f"gold is not a usable number: {exc}") from None
        if gold_value is None:
            _screen(answer)
            return self.identity(gold_norm, answer_norm)
        try:
            answer_value = read_number(answer)
        except (TooLarge, Undefined) as exc:
            raise _Refused(f"answer {exc}") from None
        if answer_value is None:
            return self.identity(gold_norm, answer_norm)
        self.layer = self.layer if self.layer == "structural" else "numeric"
        return numbers_equal(gold_value, answer_value, self.settings.rel_tol)

    def identity(self, gold_norm: str, answer_norm: str) -> bool | None:
        verdict = identity_equal(gold_norm, answer_norm)
        if verdict is not None and self.layer != "structural":
            self.layer = "identity"
        return verdict

    def run(self, gold: str, answer: str) -> bool | None:
        gold_structure = parse_structure(normalize(gold))
        if gold_structure is None:
            return self.scalar(gold, answer)
        answer_norm = normalize(answer, keep_assignment=self.keep_assignment)
        if normalize(gold) == answer_norm:
            self.layer = "string"
            return True
        self.layer = "structural"
        answer_structure: Structure | str = parse_structure(answer_norm) or answer_norm
        return compare_structures(gold_structure, answer_structure, self.scalar)


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
    normalize.cache_clear()


def check_cheap(gold: str, answer: str, settings: MathSettings = MathSettings()) -> Verdict | None:
    """Layers 1-3 only: a Verdict, or None when the symbolic layer must decide."""
    try:
        _check_answer_size(answer)
        comparison = _Comparison(settings, gold)
        equal = comparison.run(gold, answer)
    except _GoldUnusable as exc:
        return Verdict("skipped", None, None, gold, "", str(exc))
    except (_Refused, ValueError) as exc:
        return Verdict("error", None, None, gold, answer[:200], str(exc))
    if equal is None:
        return None
    answer_norm = normalize(answer, keep_assignment=comparison.keep_assignment)
    return Verdict("ok", equal, comparison.layer, describe_gold(gold), answer_norm)


def _symbolic(gold: str, answer: str, settings: MathSettings) -> Verdict:
    from rewardforge.verifiers.math.runner import run_symbolic

    # sympy sees both sides whole: a gold `y = 2x + 3` is then the same line as `2x - y + 3 = 0`
    gold_norm, answer_norm = normalize(gold, keep_assignment=True), normalize(answer, keep_assignment=True)
    status, equal, detail = run_symbolic(gold_norm, answer_norm, settings.rel_tol, settings.timeout)
    if status == "gold_unparseable":
        return Verdict("skipped", None, None, gold, answer_norm, f"gold cannot be parsed: {detail}")
    if status == "error":
        return Verdict("error", None, "symbolic", gold, answer_norm, detail)
    return Verdict("ok", bool(equal), "symbolic", detail, answer_norm)


def verify(gold: str, answer: str, settings: MathSettings = MathSettings()) -> Verdict:
    """Compare one answer with one gold answer through all layers (see the module docstring)."""
    return verify_many([(gold, answer)], settings)[0]


def verify_many(pairs: Sequence[tuple[str, str]], settings: MathSettings = MathSettings()) -> list[Verdict]:
    """Compare many pairs: each distinct pair is decided once, and symbolic work runs in parallel."""
    verdicts: dict[tuple[str, str, MathSettings], Verdict] = {}
    pending: list[tuple[str, str, MathSettings]] = []
    for gold, answer in pairs:
        key = (gold, answer, settings)
        if key in verdicts or key in pending:
            continue
        verdict = _cached(key) or check_cheap(gold, answer, settings)
        if verdict is not None:
            verdicts[key] = verdict
            _remember(key, verdict)
        elif not settings.symbolic:
            verdicts[key] = Verdict("ok", False, None, gold, normalize(answer), "undecided without the symbolic layer")
        else:
            pending.append(key)
    if pending:
        from rewardforge.verifiers.math.runner import parallelism

        workers = min(parallelism(), len(pending))
        if workers <= 1:
            results = [_symbolic(g, a, s) for g, a, s in pending]
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(lambda key: _symbolic(*key), pending))
        for key, verdict in zip(pending, results, strict=True):
            verdicts[key] = verdict
            _remember(key, verdict)
    return [verdicts[(gold, answer, settings)] for gold, answer in pairs]
