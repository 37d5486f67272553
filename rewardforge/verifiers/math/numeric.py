"""Numeric layer: read an answer as a number, exactly where possible, with hard size limits.

Rationals stay exact (`Fraction`), so `1/2004!` and `1/2006!` differ, as do `10^{20}+1` and
`10^{20}`; only irrational parts (`\\sqrt{2}`, `\\pi`) fall back to floats. Every operation checks
a size budget first, so a power tower or `9!!!!!!!!` raises `TooLarge` at once instead of
allocating gigabytes: the parent process runs this layer, and it has no timeout to hide behind.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

MAX_BITS = 40_000  # ~12,000 digits: 2006! fits, 10^{10^{10}} does not
MAX_FACTORIAL = 3_000
MAX_TOKENS = 400
MAX_DEPTH = 60


class NotNumeric(ValueError):
    """The answer is not (only) arithmetic: it has variables, functions, structure. Undecided here."""


class DomainError(NotNumeric):
    """A function outside its real domain (`\\ln` of a negative): complex, so left to sympy."""


class TooLarge(ValueError):
    """The value is too big to evaluate safely (power towers, huge factorials)."""


class Undefined(ValueError):
    """The value does not exist: division by zero, NaN."""


@dataclass(frozen=True)
class Number:
    """A parsed number. `exact` is set for rationals; `approx` always (may be +-inf).

    `inexact` marks values written as rounded decimals or computed through floats: only those
    are compared with a tolerance. `percent` records a trailing `%` (value as written, not /100).
    """

    exact: Fraction | None
    approx: float
    inexact: bool = False
    percent: bool = False

    @staticmethod
    def of(value: Fraction, inexact: bool = False) -> Number:
        try:
            approx = float(value)
        except OverflowError:
            approx = math.inf if value > 0 else -math.inf
        return Number(value, approx, inexact)

    @staticmethod
    def real(value: float) -> Number:
        if math.isnan(value):
            raise Undefined("not a number")
        return Number(None, value, True)

    def scaled(self, factor: Fraction) -> Number:
        if self.exact is not None:
            return Number.of(self.exact * factor, self.inexact)
        return Number.real(self.approx * float(factor))


_TOKEN = re.compile(
    r"\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|\\[a-zA-Z]+|\\[{}]|[-+*/^()!{}\[\]%]|."
)
_NAN = re.compile(r"^[-+]?(?:nan|\\mathrm\{NaN\}|\\text\{NaN\})$", re.IGNORECASE)
_INF_WORD = re.compile(r"^([-+]?)(?:inf|infinity|\\infty|\\infinity)$", re.IGNORECASE)
_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d+$")
_CURRENCY = re.compile(r"^(-?)(?:\$|USD|US\$|EUR|€|£|¥|₹|Rs\.?)")
_UNIT_WORDS = (
    r"(?:square|sq\.?|cubic|cu\.?)?(?:cm|mm|km|m|kg|mg|g|lbs?|pounds?|oz|ounces?|s|sec|seconds?|mins?|minutes?|"
    r"h|hrs?|hours?|days?|weeks?|months?|years?|dollars?|cents?|euros?|degrees?|units?|meters?|metres?|"
    r"inch(?:es)?|in|feet|foot|ft|yards?|yd|miles?|mph|km/h|kph|m/s|liters?|litres?|ml|mL|L|gallons?|"
    r"people|persons?|students?|apples?|items?|points?|percent|times|ways?|marbles?|books?|cookies?|pages?)"
)
_TRAILING_UNIT = re.compile(
    r"(?:\\(?:text|mbox|mathrm)\{\s*[a-zA-Z][a-zA-Z .\-/]*\}(?:\^\{?\d\}?)?|\s+" + _UNIT_WORDS
    + r"(?:\^\{?\d\}?)?|(?<=\d)(?:cm|mm|km|kg|mg|mph|ft|hrs?|sec|mins?)(?:\^\{?\d\}?)?)\s*$"
)


def strip_units(raw: str) -> tuple[str, bool]:
    """Remove currency marks and trailing unit words from a raw answer; True when `%` is a unit.

    Runs on the raw (un-normalised) answer because spacing is what separates `5 m` from `5m`.
    """
    text = raw.strip().replace("\\$", "$").replace("\\%", "%")
    text = _CURRENCY.sub(r"\1", text).strip()
    for _ in range(3):
        stripped = _TRAILING_UNIT.sub("", text).strip()
        if stripped == text:
            break
        text = stripped
    percent = False
    for suffix in ("%", "percent", "\\text{percent}"):
        if text.endswith(suffix):
            text, percent = text[: -len(suffix)].strip(), True
            break
    return text, percent


class _Parser:
    """Recursive descent over the normalised (whitespace-free) answer, depth- and size-bounded."""

    def __init__(self, text: str, variables: dict[str, Fraction] | None = None) -> None:
        self.tokens = [t for t in _TOKEN.findall(text) if not t.isspace()]
        if len(self.tokens) > MAX_TOKENS:
            raise NotNumeric("too many tokens for the numeric layer")
        self.pos = 0
        self.depth = 0
        self.variables = variables

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise NotNumeric(f"expected {expected or 'a token'}, found {token!r}")
        self.pos += 1
        return token

    def parse(self) -> Number:
        value = self.expr()
        if self.peek() is not None:
            raise NotNumeric(f"unexpected {self.peek()!r}")
        return value

    def expr(self) -> Number:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise TooLarge("expression nested too deeply")
        value = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            value = _add(value, self.term(), negate=op == "-")
        self.depth -= 1
        return value

    def term(self) -> Number:
        value = self.unary()
        while True:
            token = self.peek()
            if token in ("*", "\\cdot", "\\times"):
                self.take()
                value = _mul(value, self.unary())
            elif token in ("/", "\\div"):
                self.take()
                value = _div(value, self.unary())
            elif token is not None and (
                token in _IMPLICIT_FACTOR_STARTS or token[0].isdigit() or is_variable(token) or token in FUNCTIONS
            ):
                if token == "\\frac" and _is_integer(value) and self._mixed_number_follows():
                    fraction = self.unary()  # 3\frac{1}{2} is the mixed number 3 1/2, as in GSM8K/MATH
                    value = _add(value, fraction, negate=value.approx < 0)
                else:
                    value = _mul(value, self.unary())
            else:
                return value

    def _mixed_number_follows(self) -> bool:
        rest = "".join(self.tokens[self.pos : self.pos + 8])
        return re.match(r"\\frac\{\d+\}\{\d+\}", rest) is not None

    def unary(self) -> Number:
        if self.peek() == "-":
            self.take()
            return _neg(self.unary())
        if self.peek() == "+":
            self.take()
            return self.unary()
        return self.power()

    def power(self) -> Number:
        base = self.postfix()
        if self.peek() == "^":
            self.take()
            exponent = self.group() if self.peek() == "{" else self._power_operand()
            return _pow(base, exponent)
        return base

    def _power_operand(self) -> Number:
        token = self.take()
        if token.isdigit():  # x^23 in LaTeX is x^2 * 3: only the first digit is the exponent
            if len(token) > 1:
                self.tokens.insert(self.pos, token[1:])
            return Number.of(Fraction(int(token[0])))
        if token == "-":
            return _neg(self._power_operand())
        self.pos -= 1
        return self.postfix()

    def postfix(self) -> Number:
        value = self.atom()
        while self.peek() == "!":
            self.take()
            value = _factorial(value)
        return value

    def group(self) -> Number:
        self.take("{")
        value = self.expr()
        self.take("}")
        return value

    def atom(self) -> Number:
        token = self.take()
        if token[0].isdigit() or token[0] == ".":
            return _literal(token)
        if token == "(":
            value = self.expr()
            self.take(")")
            return value
        if token == "{":
            self.pos -= 1
            return self.group()
        if token == "\\frac":
            numerator = self.group() if self.peek() == "{" else _literal(self._digit())
            denominator = self.group() if self.peek() == "{" else _literal(self._digit())
            return _div(numerator, denominator)
        if token == "\\sqrt":
            index = Number.of(Fraction(2))
            if self.peek() == "[":
                self.take()
                index = self.expr()
                self.take("]")
            radicand = self.group() if self.peek() == "{" else _literal(self._digit())
            return _root(radicand, index)
        if token == "\\pi":
            return Number.real(math.pi)
        if token == "\\infty":
            return Number.real(math.inf)
        if token == "e":  # as latex2sympy reads it: Euler's number
            return Number.real(math.e)
        if token in FUNCTIONS:
            return self._function(token)
        if self.variables is not None and is_variable(token):
            return Number.of(self.variables[token])
        raise NotNumeric(f"not arithmetic: {token!r}")

    def _function(self, name: str) -> Number:
        """`\\sin^2 x`, `\\log_2 8`, `\\cos(2x)`, `\\sin 2x` (argument: a bracket, or the product that follows)."""
        base = None
        if name == "\\log" and self.peek() == "_":
            self.take()
            base = self.group() if self.peek() == "{" else _literal(self._digit())
        power = None
        if self.peek() == "^":
            self.take()
            power = self.group() if self.peek() == "{" else self._power_operand()
        if self.peek() in ("(", "{"):
            argument = self.atom()
        else:
            argument = self.power()
            while (token := self.peek()) is not None and (token[0].isdigit() or is_variable(token) or token == "\\pi"):
                argument = _mul(argument, self.power())
        try:
            value = FUNCTIONS[name](argument.approx)
            if base is not None:
                value /= math.log(base.approx)
        except (ValueError, ZeroDivisionError, OverflowError):
            raise DomainError(f"{name} undefined at {argument.approx:g}") from None
        result = Number.real(value)
        return _pow(result, power) if power is not None else result

    def _digit(self) -> str:
        token = self.take()
        if not token[0].isdigit():
            raise NotNumeric("expected a digit")
        if len(token) > 1:
            self.tokens.insert(self.pos, token[1:])
        return token[0]


FUNCTIONS: dict[str, Callable[[float], float]] = {
    "\\sin": math.sin, "\\cos": math.cos, "\\tan": math.tan, "\\cot": lambda v: 1 / math.tan(v),
    "\\sec": lambda v: 1 / math.cos(v), "\\csc": lambda v: 1 / math.sin(v), "\\arcsin": math.asin,
    "\\arccos": math.acos, "\\arctan": math.atan, "\\sinh": math.sinh, "\\cosh": math.cosh,
    "\\tanh": math.tanh, "\\ln": math.log, "\\log": math.log, "\\exp": math.exp,
}
_IMPLICIT_FACTOR_STARTS = frozenset({"(", "\\frac", "\\sqrt", "\\pi", "{", "e"})
_GREEK = frozenset(
    "\\" + name for name in ("alpha", "beta", "gamma", "delta", "theta", "lambda", "mu", "phi", "omega", "sigma", "tau")
)


def is_variable(token: str) -> bool:
    """A single letter or a Greek letter; `e` and `i` are left out (Euler's number? the imaginary unit?)."""
    return (len(token) == 1 and token.isascii() and token.isalpha() and token not in "ei") or token in _GREEK


def variables_in(normalised: str) -> set[str]:
    return {t for t in _TOKEN.findall(normalised) if is_variable(t)}


def evaluate_at(normalised: str, point: dict[str, Fraction]) -> Number:
    """Evaluate an expression in variables at a point (exact for rational functions)."""
    return _Parser(normalised, point).parse()


def _literal(token: str) -> Number:
    if token.isdigit() and len(token) <= 4000:
        return Number(Fraction(int(token)), float(int(token)) if len(token) < 300 else math.inf)
    mantissa, _, exponent = token.lower().partition("e")
    if exponent and abs(int(exponent)) > 4000:
        raise TooLarge(f"exponent {exponent} out of range")
    if len(mantissa) > 4000:
        raise TooLarge("number literal too long")
    return Number.of(Fraction(mantissa) * Fraction(10) ** int(exponent or 0), inexact="." in token)


def _is_integer(value: Number) -> bool:
    return value.exact is not None and value.exact.denominator == 1 and not value.inexact


def _check_size(value: Fraction) -> Fraction:
    if value.numerator.bit_length() > MAX_BITS or value.denominator.bit_length() > MAX_BITS:
        raise TooLarge("number too large to evaluate")
    return value


def _combine(a: Number, b: Number, exact_op: str, approx: float) -> Number:
    inexact = a.inexact or b.inexact
    if a.exact is not None and b.exact is not None:
        if exact_op == "+":
            return Number.of(_check_size(a.exact + b.exact), inexact)
        if exact_op == "*":
            return Number.of(_check_size(a.exact * b.exact), inexact)
        if b.exact == 0:
            raise Undefined("division by zero")
        return Number.of(_check_size(a.exact / b.exact), inexact)
    return Number.real(approx)


def _add(a: Number, b: Number, negate: bool) -> Number:
    b = _neg(b) if negate else b
    return _combine(a, b, "+", a.approx + b.approx)


def _neg(a: Number) -> Number:
    return Number(-a.exact if a.exact is not None else None, -a.approx, a.inexact, a.percent)


def _mul(a: Number, b: Number) -> Number:
    return _combine(a, b, "*", a.approx * b.approx if a.approx and b.approx else 0.0)


def _div(a: Number, b: Number) -> Number:
    if b.approx == 0 and (b.exact is None or b.exact == 0):
        raise Undefined("division by zero")
    return _combine(a, b, "/", a.approx / b.approx if math.isfinite(b.approx) else 0.0)


def _pow(base: Number, exponent: Number) -> Number:
    if _is_integer(exponent) and base.exact is not None:
        assert exponent.exact is not None
        e = exponent.exact.numerator
        size = max(base.exact.numerator.bit_length(), base.exact.denominator.bit_length())
        if size > 1 and abs(e) * size > MAX_BITS:
            raise TooLarge("power too large to evaluate")
        if base.exact == 0 and e < 0:
            raise Undefined("division by zero")
        return Number.of(base.exact**e, base.inexact)
    if _is_integer(exponent) and abs(exponent.approx) <= 4000:
        try:
            return Number.real(base.approx ** int(exponent.approx))
        except (OverflowError, ZeroDivisionError) as exc:
            raise TooLarge(str(exc)) from None
    if base.approx < 0:
        raise DomainError("fractional power of a negative number")
    if exponent.approx > 0 and base.approx > 1 and exponent.approx * math.log2(base.approx) > 4000:
        raise TooLarge("power too large to evaluate")
    try:
        return Number.real(base.approx**exponent.approx)
    except (OverflowError, ZeroDivisionError) as exc:
        raise TooLarge(str(exc)) from None


def _root(radicand: Number, index: Number) -> Number:
    if index.approx == 0:
        raise Undefined("zeroth root")
    if radicand.approx < 0:
        raise DomainError("root of a negative number")
    if radicand.exact is not None and _is_integer(index):
        assert index.exact is not None
        n = index.exact.numerator
        num, den = _exact_root(radicand.exact.numerator, n), _exact_root(radicand.exact.denominator, n)
        if num is not None and den is not None:
            return Number.of(Fraction(num, den), radicand.inexact)
    return _pow(radicand, Number.real(1 / index.approx))


def _exact_root(value: int, n: int) -> int | None:
    if n == 2:
        root = math.isqrt(value)
        return root if root * root == value else None
    if value.bit_length() > 2000 or n > 64:
        return None
    guess = round(value ** (1 / n))
    for candidate in (guess - 1, guess, guess + 1):
        if candidate >= 0 and candidate**n == value:
            return candidate
    return None


def _factorial(value: Number) -> Number:
    if not _is_integer(value) or value.approx < 0:
        raise NotNumeric("factorial of a non-natural number")
    n = int(value.approx)
    if n > MAX_FACTORIAL:
        raise TooLarge(f"factorial of {n} too large to evaluate")
    return Number.of(Fraction(math.factorial(n)))


def evaluate(normalised: str) -> Number:
    """Evaluate an arithmetic answer (normalised spelling). Raises NotNumeric, TooLarge or Undefined."""
    if not normalised:
        raise NotNumeric("empty")
    if _NAN.match(normalised):
        raise Undefined("not a number (NaN)")
    inf = _INF_WORD.match(normalised)
    if inf:
        return Number.real(-math.inf if inf.group(1) == "-" else math.inf)
    if _THOUSANDS.match(normalised):
        normalised = normalised.replace(",", "")
    return _Parser(normalised).parse()


def parse_number(normalised_without_units: str, *, decimal_comma: bool = True) -> Number:
    """A whole answer as a number: thousands separators, `3,5` decimal comma, then arithmetic."""
    text = normalised_without_units
    if decimal_comma and _DECIMAL_COMMA.match(text) and not _THOUSANDS.match(text):
        text = text.replace(",", ".")
    return evaluate(text)


def close(gold: Number, answer: Number, rel_tol: float) -> bool:
    """Exact values compare exactly; a value that went through rounding compares within `rel_tol`."""
    if gold.exact is not None and answer.exact is not None:
        if gold.exact == answer.exact:
            return True
        if not (gold.inexact or answer.inexact):
            return False
        diff = abs(gold.exact - answer.exact)
        return diff <= Fraction(rel_tol) * max(abs(gold.exact), abs(answer.exact))
    if math.isinf(gold.approx) or math.isinf(answer.approx):
        return gold.approx == answer.approx
    return math.isclose(gold.approx, answer.approx, rel_tol=rel_tol, abs_tol=0.0)
