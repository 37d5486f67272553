"""Quantities: an answer read as a number, whatever it is wrapped in, and how two numbers compare.

`read_number` takes the canonical (spaced) spelling of an answer and removes what is not the value:
- currency (`\\$5`, `5 dollars`, `€`, `USD`), trailing unit words and `\\text{}` units (`24 cm^2`,
  `6 \\times 10^{-7} m`, `12 km/h`, `700 nm`, `3.2 eV`, `5 Mpc`), and percent in every spelling (`28\\%`, `28 %`, "28 percent",
  "28 pct"), recorded on the Number;
- thousands separators (`1,000`, `1 000`, `1\\,000`, `1{,}000`) and an UNAMBIGUOUS decimal comma
  (`3,5`, `0,111`, `1000,99`: never `1,000`, which is a thousands group);
- scale words and number words ("2.5 million", "twelve", "negative five", "十二"), `4.5 x 10^4`.

`close` is the one tolerance rule: exact values (integers, fractions, `\\frac{1}{2006!}`) compare
EXACTLY; a value written as a rounded decimal or computed through floats (`\\pi`, `\\sqrt{2}`,
complex values) compares within `rel_tol` (default 1e-6, relative). Percent is gold-first:
a gold `28\\%` accepts 28, 28% and 0.28 (not 0.28%); a bare gold 0.28 accepts 0.28 and 28%, but not 28.
"""

from __future__ import annotations

import cmath
import functools
import math
import re
from fractions import Fraction

from rewardforge.verifiers.math.normalize import squeeze
from rewardforge.verifiers.math.numeric import THOUSANDS, NotNumeric, Number, NumericError, evaluate
from rewardforge.verifiers.math.words import words_to_number

MAX_NUMBER_CHARS = 400

_CURRENCY = re.compile(r"^(-?)\s?(?:\$|USD|US\$|EUR|€|£|¥|₹|Rs\.?)\s?")
_CURRENCY_AFTER = re.compile(r"\s?(?:\$|€|£|¥|₹)$")
_UNIT_WORDS = (
    r"(?:square|sq\.?|cubic|cu\.?)?\s?(?:cm|mm|km|m|kg|mg|g|lbs?|pounds?|oz|ounces?|s|sec|seconds?|mins?|minutes?|"
    r"h|hrs?|hours?|days?|weeks?|months?|years?|dollars?|cents?|euros?|yuan|yen|rupees?|degrees?|units?|"
    r"meters?|metres?|centimeters?|kilometers?|inch(?:es)?|in|feet|foot|ft|yards?|yd|miles?|mph|km/h|kph|m/s|"
    r"liters?|litres?|ml|mL|L|gallons?|people|persons?|students?|apples?|items?|points?|times|ways?|marbles?|"
    r"books?|cookies?|pages?|sq units|square units|cm2|m2|"
    # science (Minerva-style answers): lengths, frequency, energy, power, charge, pressure, amounts, astronomy
    r"nm|μm|µm|um|pm|fm|Å|angstroms?|Hz|kHz|MHz|GHz|J|kJ|MJ|eV|keV|MeV|GeV|TeV|erg|ergs|cal|kcal|W|kW|MW|mW|"
    r"V|kV|mV|mA|Pa|kPa|MPa|atm|bar|mbar|torr|Torr|K|N|kN|mol|mmol|M|mM|Mpc|kpc|pc|AU|ly|"
    r"light[- ]years?|joules?|watts?|volts?|newtons?|kelvins?|moles?|grams?|kilograms?|photons?|atoms?|molecules?)"
)
_TRAILING_UNIT = re.compile(
    r"(?:\s?\\(?:text|mbox|mathrm)\{\s?[a-zA-Z][a-zA-Z .\-/]*\}|\s" + _UNIT_WORDS
    + r"|(?<=\d)(?:cm|mm|km|kg|mg|mph|ft|hrs?|sec|mins?|m|s|g))(?:\s?\^\s?\{?\d\}?)?\s?$"
)
_PERCENT = re.compile(r"\s?(?:%|percent(?:age)?|pct|per cent)$", re.IGNORECASE)
_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d+$")
#: A decimal comma nobody would read as a thousands group: `1,22`, `1000,99`, `0,111` (never `1,000`).
UNAMBIGUOUS_DECIMAL_COMMA = re.compile(r"^-?(?:0|[1-9]\d*),(?:\d{1,2}|\d{4,})$|^-?0,\d+$")
_TIMES_TEN = re.compile(r"(\d)\s?[xX]\s?(10\s?\^)")
_SPACED_THOUSANDS = re.compile(r"(?<!\d)(\d{1,3}(?: \d{3})+)(?![\d])")


def strip_units(text: str) -> tuple[str, bool]:
    """Remove currency marks and trailing unit words; True when a percent sign or word was there."""
    text = _CURRENCY.sub(r"\1", text.strip()).strip()
    text = _CURRENCY_AFTER.sub("", text).strip()
    percent = False
    for _ in range(3):
        stripped = _PERCENT.sub("", text).strip()
        if stripped != text:
            text, percent = stripped, True
        stripped = _TRAILING_UNIT.sub("", text).strip()
        if stripped == text:
            break
        text = stripped
    return text, percent


@functools.lru_cache(maxsize=65_536)  # a GRPO group compares its gold again and again
def read_number(canonical: str) -> Number | None:
    """The value of an answer (canonical spelling) with units removed; None when it is not arithmetic.

    Raises TooLarge or Undefined for a value that cannot be evaluated safely."""
    if len(canonical) > MAX_NUMBER_CHARS:
        return None
    if re.search(r"\d, \d", canonical):
        return None  # "32, 349" is a list; a thousands group has no space after its comma
    text, percent = strip_units(canonical)
    words = words_to_number(text) if re.search(r"[^\W\d_]", text) else None
    if words is not None:
        value = Number.of(words)
    else:
        text = _TIMES_TEN.sub(r"\1\\times \2", text)
        text = _SPACED_THOUSANDS.sub(lambda m: m.group(1).replace(" ", ""), text)
        try:
            value = _parse(squeeze(text))
        except RecursionError:
            raise NumericError("expression nested too deeply") from None
        except NotNumeric:
            return None
    return Number(value.exact, value.approx, value.inexact, percent) if percent else value


def _parse(text: str) -> Number:
    if _DECIMAL_COMMA.match(text) and not THOUSANDS.match(text):
        text = text.replace(",", ".")
    return evaluate(text)


def readings(value: Number) -> list[Number]:
    """The values a number may mean: `50%` means 50 or 0.5 (percent is compared either way)."""
    return [value, value.scaled(Fraction(1, 100))] if value.percent else [value]


def numbers_equal(gold: Number, answer: Number, rel_tol: float) -> bool:
    """Percent, gold-first: a gold `50%` may be written 50, 50% or 0.5 (but `0.5%` is 0.005); a bare
    gold 0.5 accepts 50%. With `%` on both sides the written values must agree."""
    if gold.percent and answer.percent:
        return close(gold, answer, rel_tol)
    return any(close(g, a, rel_tol) for g in readings(gold) for a in readings(answer))


def close(gold: Number, answer: Number, rel_tol: float) -> bool:
    """Exact values compare exactly; a value that went through rounding compares within `rel_tol`."""
    if gold.exact is not None and answer.exact is not None:
        if gold.exact == answer.exact:
            return True
        if not (gold.inexact or answer.inexact):
            return False
        diff = abs(gold.exact - answer.exact)
        return diff <= Fraction(rel_tol) * max(abs(gold.exact), abs(answer.exact))
    g, a = gold.approx, answer.approx
    if not (cmath.isfinite(g) and cmath.isfinite(a)):
        return g == a
    if isinstance(g, float) and isinstance(a, float):
        return math.isclose(g, a, rel_tol=rel_tol, abs_tol=0.0)
    return abs(g - a) <= rel_tol * max(abs(g), abs(a)) or abs(g - a) < 1e-12


def relative_error(gold: Number, answer: Number) -> float:
    """|answer - gold| / |gold|, with an exact 0 gold treated as scale 1 (no division by zero)."""
    g, a = gold.approx, answer.approx
    if not (cmath.isfinite(g) and cmath.isfinite(a)):
        return math.inf
    return abs(a - g) / (abs(g) or 1.0)
