"""Numeric layer: evaluate an arithmetic answer, exactly where possible, with hard size limits.

- Rationals stay exact (`Fraction`), so `1/2004!` and `1/2006!` differ, as do `10^{20}+1` and
  `10^{20}`; irrational parts (`\\sqrt{2}`, `\\pi`, `\\ln 3`) fall back to floats.
- `i` is the imaginary unit and values may be complex, so `e^{i\\pi} = -1`, `\\ln(-1) = i\\pi` and a
  polar `8e^{3\\pi i/2}` equals the rectangular `-8i`; roots and logarithms of negatives take the
  principal complex value (as sympy does).
- Every operation checks a size budget BEFORE it computes, so a power tower, `9!!!!!!!!`,
  `(10^{400})!` or `\\sqrt[3]{2^{1500}}` raises `TooLarge` at once instead of allocating gigabytes
  or overflowing a float: this layer runs in the caller's process, which has no timeout.
- All failures are `NumericError`s: `NotNumeric` (not arithmetic: undecided here), `TooLarge`,
  `Undefined` (division by zero, NaN).
"""

from __future__ import annotations

import cmath
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

MAX_BITS = 40_000  # ~12,000 digits: 2006! fits, 10^{10^{10}} does not
MAX_FACTORIAL = 3_000
MAX_TOKENS = 400
MAX_DEPTH = 60
MAX_LITERAL_DIGITS = 4_000

Value = float | complex


class NumericError(ValueError):
    """The root of this layer's failures."""


class NotNumeric(NumericError):
    """The answer is not (only) arithmetic: it has variables, functions, structure. Undecided here."""


class DomainError(NotNumeric):
    """A value outside every domain this layer handles; left to sympy."""


class TooLarge(NumericError):
    """The value is too big to evaluate safely (power towers, huge factorials)."""


class Undefined(NumericError):
    """The value does not exist: division by zero, NaN."""


@dataclass(frozen=True)
class Number:
    """A parsed number. `exact` is set for rationals; `approx` always (may be +-inf, or complex).

    `inexact` marks values written as rounded decimals or computed through floats: only those
    are compared with a tolerance. `percent` records a trailing `%` (value as written, not /100).
    """

    exact: Fraction | None
    approx: Value
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
    def real(value: Value) -> Number:
        if isinstance(value, complex):
            if cmath.isnan(value):
                raise Undefined("not a number")
            if abs(value.imag) <= 1e-13 * max(1.0, abs(value.real)):
                value = value.real
        if isinstance(value, float) and math.isnan(value):
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
THOUSANDS = re.compile(r"^[-+]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?$")
_REPEATING = re.compile(r"(\d*)\.(\d*)(?:\\overline\{(\d+)\}|\\dot\{(\d)\})")
_PARENTHESISED_PERIOD = re.compile(r"^(-?)(\d*)\.(\d*)\((\d+)\)$")
_ELLIPSIS = re.compile(r"^(-?\d*)\.(\d*?)(\d+?)\3+\d*(?:\\dots|\.\.\.|…)$")


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
                    value = _add(value, fraction, negate=_real(value) < 0)
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

    def argument(self) -> Number:
        return self.group() if self.peek() == "{" else _literal(self._digit())

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
            numerator = self.argument()
            return _div(numerator, self.argument())
        if token in ("\\binom", "\\dbinom", "\\tbinom"):
            n = self.argument()
            return _binomial(n, self.argument())
        if token == "\\sqrt":
            index = Number.of(Fraction(2))
            if self.peek() == "[":
                self.take()
                index = self.expr()
                self.take("]")
            return _root(self.argument(), index)
        if token == "\\pi":
            return Number.real(math.pi)
        if token == "\\infty":
            return Number.real(math.inf)
        if token == "e":  # as latex2sympy reads it: Euler's number
            return Number.real(math.e)
        if token == "i":
            return Number.real(1j)
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
            base = self.argument()
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
            value = _apply(name, argument.approx)
            if base is not None:
                value /= cmath.log(base.approx) if isinstance(base.approx, complex) or base.approx <= 0 else math.log(
                    base.approx)
        except (ValueError, ZeroDivisionError, OverflowError):
            raise DomainError(f"{name} undefined at {argument.approx}") from None
        result = Number.real(value)
        return _pow(result, power) if power is not None else result

    def _digit(self) -> str:
        token = self.take()
        if not token[0].isdigit():
            raise NotNumeric("expected a digit")
        if len(token) > 1:
            self.tokens.insert(self.pos, token[1:])
        return token[0]


def _apply(name: str, x: Value) -> Value:
    """A function at a point: real where it is defined on the reals, principal complex value otherwise."""
    real_math, complex_math = FUNCTIONS[name]
    if isinstance(x, float):
        try:
            return real_math(x)
        except ValueError:
            pass
    return complex_math(complex(x))


FUNCTIONS: dict[str, tuple[Callable[[float], float], Callable[[complex], complex]]] = {
    "\\sin": (math.sin, cmath.sin), "\\cos": (math.cos, cmath.cos), "\\tan": (math.tan, cmath.tan),
    "\\cot": (lambda v: 1 / math.tan(v), lambda v: 1 / cmath.tan(v)),
    "\\sec": (lambda v: 1 / math.cos(v), lambda v: 1 / cmath.cos(v)),
    "\\csc": (lambda v: 1 / math.sin(v), lambda v: 1 / cmath.sin(v)),
    "\\arcsin": (math.asin, cmath.asin), "\\arccos": (math.acos, cmath.acos), "\\arctan": (math.atan, cmath.atan),
    "\\sinh": (math.sinh, cmath.sinh), "\\cosh": (math.cosh, cmath.cosh), "\\tanh": (math.tanh, cmath.tanh),
    "\\ln": (math.log, cmath.log), "\\log": (math.log, cmath.log), "\\exp": (math.exp, cmath.exp),
}
_IMPLICIT_FACTOR_STARTS = frozenset({"(", "\\frac", "\\sqrt", "\\pi", "{", "e", "i", "\\binom", "\\dbinom"})
_GREEK = frozenset(
    "\\" + name for name in ("alpha", "beta", "gamma", "delta", "theta", "lambda", "mu", "phi", "omega", "sigma", "tau")
)


def is_variable(token: str) -> bool:
    """A single letter or a Greek letter; `e` and `i` are left out (Euler's number, the imaginary unit)."""
    return (len(token) == 1 and token.isascii() and token.isalpha() and token not in "ei") or token in _GREEK


def variables_in(normalised: str) -> set[str]:
    return {t for t in _TOKEN.findall(normalised) if is_variable(t)}


def evaluate_at(normalised: str, point: dict[str, Fraction]) -> Number:
    """Evaluate an expression in variables at a point (exact for rational functions)."""
    return _Parser(normalised, point).parse()


def _literal(token: str) -> Number:
    if token.isdigit():
        if len(token) > MAX_LITERAL_DIGITS:
            raise TooLarge("number literal too long")
        return Number(Fraction(int(token)), float(int(token)) if len(token) < 300 else math.inf)
    mantissa, _, exponent = token.lower().partition("e")
    if exponent and abs(int(exponent)) > MAX_LITERAL_DIGITS:
        raise TooLarge(f"exponent {exponent} out of range")
    if len(mantissa) > MAX_LITERAL_DIGITS:
        raise TooLarge("number literal too long")
    return Number.of(Fraction(mantissa) * Fraction(10) ** int(exponent or 0), inexact="." in token)


def _real(value: Number) -> float:
    return value.approx.real if isinstance(value.approx, complex) else value.approx


def _is_integer(value: Number) -> bool:
    return value.exact is not None and value.exact.denominator == 1 and not value.inexact


def _check_size(value: Fraction) -> Fraction:
    if value.numerator.bit_length() > MAX_BITS or value.denominator.bit_length() > MAX_BITS:
        raise TooLarge("number too large to evaluate")
    return value


def _float_op(op: Callable[[], Value]) -> Number:
    try:
        return Number.real(op())
    except OverflowError:
        raise TooLarge("number too large to evaluate") from None
    except ZeroDivisionError:
        raise Undefined("division by zero") from None


def _combine(a: Number, b: Number, exact_op: str, approx: Callable[[], Value]) -> Number:
    inexact = a.inexact or b.inexact
    if a.exact is not None and b.exact is not None:
        if exact_op == "+":
            return Number.of(_check_size(a.exact + b.exact), inexact)
        if exact_op == "*":
            return Number.of(_check_size(a.exact * b.exact), inexact)
        if b.exact == 0:
            raise Undefined("division by zero")
        return Number.of(_check_size(a.exact / b.exact), inexact)
    return _float_op(approx)


def _add(a: Number, b: Number, negate: bool) -> Number:
    b = _neg(b) if negate else b
    return _combine(a, b, "+", lambda: a.approx + b.approx)


def _neg(a: Number) -> Number:
    return Number(-a.exact if a.exact is not None else None, -a.approx, a.inexact, a.percent)


def _mul(a: Number, b: Number) -> Number:
    return _combine(a, b, "*", lambda: a.approx * b.approx if a.approx and b.approx else 0.0)


def _div(a: Number, b: Number) -> Number:
    if b.approx == 0 and (b.exact is None or b.exact == 0):
        raise Undefined("division by zero")
    return _combine(a, b, "/", lambda: a.approx / b.approx if cmath.isfinite(b.approx) else 0.0)


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
    if not cmath.isfinite(exponent.approx):
        raise TooLarge("power with an infinite exponent")
    magnitude = abs(base.approx)
    growth = abs(exponent.approx) * math.log2(magnitude) if magnitude > 1 and cmath.isfinite(magnitude) else 0.0
    if growth > 4000:
        raise TooLarge("power too large to evaluate")
    if isinstance(base.approx, float) and isinstance(exponent.approx, float) and (base.approx >= 0 or _is_integer(exponent)):
        return _float_op(lambda: base.approx**exponent.approx)
    return _float_op(lambda: complex(base.approx) ** complex(exponent.approx) if base.approx != 0 else 0.0)


def _root(radicand: Number, index: Number) -> Number:
    if index.approx == 0:
        raise Undefined("zeroth root")
    if radicand.exact is not None and radicand.exact >= 0 and _is_integer(index):
        assert index.exact is not None
        n = index.exact.numerator
        if n > 0:
            num, den = integer_root(radicand.exact.numerator, n), integer_root(radicand.exact.denominator, n)
            if num is not None and den is not None:
                return Number.of(Fraction(num, den), radicand.inexact)
    if radicand.exact is not None and _is_integer(index) and radicand.exact < 0 and index.exact is not None:
        n = index.exact.numerator
        if n % 2 == 1:  # an odd root of a negative number is real: \sqrt[3]{-8} = -2
            return _neg(_root(_neg(radicand), index))
    return _pow(radicand, _div(Number.of(Fraction(1)), index))


def integer_root(value: int, n: int) -> int | None:
    """The exact integer n-th root of a non-negative int, or None; integer arithmetic only (no float overflow)."""
    if value < 2:
        return value
    if n > value.bit_length():
        return None
    if n == 2:
        root = math.isqrt(value)
        return root if root * root == value else None
    low, high = 1, 1 << (value.bit_length() // n + 1)
    while low <= high:
        middle = (low + high) // 2
        power = middle**n
        if power == value:
            return middle
        if power < value:
            low = middle + 1
        else:
            high = middle - 1
    return None


def _binomial(n: Number, k: Number) -> Number:
    if not _is_integer(k) or k.exact is None:
        raise NotNumeric("binomial with a non-integer lower index")
    count = k.exact.numerator
    if count < 0:
        return Number.of(Fraction(0))
    if count > MAX_FACTORIAL:
        raise TooLarge(f"binomial with {count} factors too large to evaluate")
    value = Number.of(Fraction(1))
    for j in range(count):  # n (n-1) ... (n-k+1) / k!: also right for a variable or fractional n
        value = _mul(value, _add(n, Number.of(Fraction(j)), negate=True))
    return _div(value, Number.of(Fraction(math.factorial(count))))


def _factorial(value: Number) -> Number:
    if not _is_integer(value) or value.exact is None or value.exact < 0:
        raise NotNumeric("factorial of a non-natural number")
    if value.exact > MAX_FACTORIAL:
        raise TooLarge("factorial too large to evaluate")
    return Number.of(Fraction(math.factorial(int(value.exact))))


def repeating_decimal(text: str) -> str:
    """`0.\\overline{3}`, `0.1\\dot{6}`, `0.(3)`, `0.333...` as exact fractions (`\\frac{1}{3}`)."""
    def exact(whole: str, fixed: str, period: str) -> str:
        numerator = int(whole + fixed + period or "0") - int(whole + fixed or "0")
        denominator = int("9" * len(period) + "0" * len(fixed))
        return f"\\frac{{{numerator}}}{{{denominator}}}"

    ellipsis = _ELLIPSIS.match(text) if len(text) <= 64 else None  # backreferences: only on short text
    if ellipsis:
        sign = "-" if ellipsis.group(1).startswith("-") else ""
        whole = ellipsis.group(1).lstrip("-")
        return sign + exact(whole, ellipsis.group(2), ellipsis.group(3))
    parenthesised = _PARENTHESISED_PERIOD.match(text)
    if parenthesised:
        return parenthesised.group(1) + exact(*parenthesised.group(2, 3, 4))
    if "\\overline" not in text and "\\dot" not in text:
        return text
    return _REPEATING.sub(lambda m: exact(m.group(1), m.group(2), m.group(3) or m.group(4)), text)


def evaluate(normalised: str) -> Number:
    """Evaluate an arithmetic answer (normalised spelling). Raises NotNumeric, TooLarge or Undefined."""
    if not normalised:
        raise NotNumeric("empty")
    if _NAN.match(normalised):
        raise Undefined("not a number (NaN)")
    inf = _INF_WORD.match(normalised)
    if inf:
        return Number.real(-math.inf if inf.group(1) == "-" else math.inf)
    if THOUSANDS.match(normalised):
        normalised = normalised.replace(",", "")
    return _Parser(repeating_decimal(normalised)).parse()
