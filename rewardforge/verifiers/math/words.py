"""Numbers written in words: English and a few other languages, Chinese numerals, Roman numerals.

Rules:
- `words_to_number` reads a phrase made ONLY of number words ("twelve", "negative five",
  "one hundred and five", "two point five", "2.5 million", "十二", "负三点五", "doce"); any other
  word makes it None, so prose is never mistaken for a number.
- Scale words multiply the number before them ("2.5 million" = 2,500,000; "3 thousand").
- Roman numerals (`roman_to_int`) are read only in canonical form (`IV`, not `IIII`), upper case,
  at least two letters: a lone `C` or `D` is far more often a choice letter or a point's name.
- Everything is a dictionary lookup over at most `MAX_WORDS` words: no regex can backtrack here.
"""

from __future__ import annotations

import re
from fractions import Fraction

MAX_WORDS = 24

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "a": 1, "an": 1,
    # Spanish, French, German, Portuguese, Italian: the small numbers a final statement uses
    "cero": 0, "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7,
    "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12, "trece": 13, "catorce": 14, "quince": 15,
    "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "sept": 7, "huit": 8, "neuf": 9,
    "dix": 10, "onze": 11, "douze": 12, "treize": 13, "quatorze": 14, "quinze": 15, "seize": 16,
    "null": 0, "eins": 1, "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "sechs": 6, "sieben": 7, "acht": 8,
    "neun": 9, "zehn": 10, "elf": 11, "zwölf": 12,
    "dois": 2, "duas": 2, "quatro": 4, "oito": 8, "nove": 9, "dez": 10,
    "due": 2, "tre": 3, "quattro": 4, "sei": 6, "sette": 7, "otto": 8, "dieci": 10,
}
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
    "veinte": 20, "treinta": 30, "cuarenta": 40, "cincuenta": 50, "vingt": 20, "trente": 30,
    "quarante": 40, "cinquante": 50, "zwanzig": 20, "dreißig": 30, "vierzig": 40, "fünfzig": 50,
}
_HUNDRED = {"hundred": 100, "cien": 100, "ciento": 100, "cent": 100, "hundert": 100}
_SCALES = {
    "thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12,
    "mil": 10**3, "mille": 10**3, "tausend": 10**3, "millón": 10**6, "millones": 10**6, "millions": 10**6,
    "thousands": 10**3, "billions": 10**9, "milliard": 10**9, "milliarden": 10**9, "millionen": 10**6,
}
_NEGATIVE = {"negative", "minus", "menos", "moins", "negativ"}
_POINT = {"point", "punto", "virgule", "komma", "vírgula"}
_FILLER = {"and", "y", "et", "und", "e"}
_FRACTIONS = {"half": Fraction(1, 2), "halves": Fraction(1, 2), "third": Fraction(1, 3), "thirds": Fraction(1, 3),
              "quarter": Fraction(1, 4), "quarters": Fraction(1, 4), "fourth": Fraction(1, 4),
              "fourths": Fraction(1, 4), "fifth": Fraction(1, 5), "fifths": Fraction(1, 5)}
_DIGIT_WORDS = {**_UNITS}
_SPLIT = re.compile(r"[\s\-‐]+")
_DECIMAL = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)$")

#: Every word this module knows: callers use it to find a run of number words in prose.
NUMBER_WORDS = frozenset(_UNITS) | frozenset(_TENS) | frozenset(_HUNDRED) | frozenset(_SCALES) | _NEGATIVE | _POINT \
    | frozenset(_FRACTIONS)
SCALE_WORDS = frozenset(_SCALES)


def words_to_number(phrase: str) -> Fraction | None:
    """The value of a phrase of number words (optionally led by a decimal: "2.5 million"), else None."""
    words = [w for w in _SPLIT.split(phrase.casefold().strip().rstrip(".")) if w]
    if not words or len(words) > MAX_WORDS:
        return None
    if len(words) == 1 and not words[0].isascii():
        chinese = _chinese(words[0])
        if chinese is not None:
            return chinese
    sign = 1
    if words[0] in _NEGATIVE:
        sign, words = -1, words[1:]
    if not words:
        return None
    value = _words_value(words)
    return None if value is None else sign * value


def _words_value(words: list[str]) -> Fraction | None:
    if _DECIMAL.match(words[0]):  # "2.5 million": a written number with scale words
        if len(words) == 1 or not all(w in _SCALES for w in words[1:]):
            return None
        value = Fraction(words[0])
        for word in words[1:]:
            value *= _SCALES[word]
        return value
    if any(w in _POINT for w in words):
        at = next(i for i, w in enumerate(words) if w in _POINT)
        whole = _integer(words[:at]) if at else 0
        digits = [_DIGIT_WORDS.get(w) for w in words[at + 1 :]]
        if whole is None or not digits or any(d is None or d > 9 for d in digits):
            return None
        return whole + Fraction(int("".join(str(d) for d in digits)), 10 ** len(digits))
    if words[-1] in _FRACTIONS and len(words) >= 2:  # "three quarters", "one half"
        count = _integer(words[:-1])
        return None if count is None else count * _FRACTIONS[words[-1]]
    integer = _integer(words)
    return None if integer is None else Fraction(integer)


def _integer(words: list[str]) -> int | None:
    total = current = 0
    seen = False
    for word in words:
        if word in _FILLER and seen:
            continue
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word in _HUNDRED:
            current = max(current, 1) * 100
        elif word in _SCALES:
            total += max(current, 1) * _SCALES[word]
            current = 0
        elif word.isdigit() and len(word) <= 12:  # "5 thousand"
            current += int(word)
        else:
            return None
        seen = True
    return total + current if seen else None


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_CN_SCALES = {"万": 10**4, "萬": 10**4, "亿": 10**8, "億": 10**8}


def _chinese(text: str) -> Fraction | None:
    """十二 -> 12, 一百零五 -> 105, 两千 -> 2000, 负三点五 -> -3.5, 三分之一 -> 1/3."""
    sign = 1
    if text[:1] in ("负", "負", "-"):
        sign, text = -1, text[1:]
    if "分之" in text:
        denominator, _, numerator = text.partition("分之")
        d, n = _chinese_integer(denominator), _chinese_integer(numerator)
        return None if not d or n is None else sign * Fraction(n, d)
    whole, _, fraction = text.partition("点")
    integer = _chinese_integer(whole) if whole else 0
    if integer is None or (fraction and not all(c in _CN_DIGITS for c in fraction)):
        return None
    value = Fraction(integer)
    if fraction:
        value += Fraction(int("".join(str(_CN_DIGITS[c]) for c in fraction)), 10 ** len(fraction))
    return sign * value


def _chinese_integer(text: str) -> int | None:
    if not text or len(text) > MAX_WORDS or not all(c in _CN_DIGITS or c in _CN_UNITS or c in _CN_SCALES for c in text):
        return None
    total = section = digit = 0
    for char in text:
        if char in _CN_DIGITS:
            digit = _CN_DIGITS[char]
        elif char in _CN_UNITS:
            section += (digit or 1) * _CN_UNITS[char]
            digit = 0
        else:
            total += (section + digit) * _CN_SCALES[char]
            section = digit = 0
    return total + section + digit


_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def roman_to_int(text: str) -> int | None:
    """`XIV` -> 14 for a canonical upper-case numeral of two or more letters, else None."""
    if not 2 <= len(text) <= 15 or any(c not in _ROMAN for c in text):
        return None
    total = 0
    for i, char in enumerate(text):
        value = _ROMAN[char]
        total += -value if i + 1 < len(text) and _ROMAN[text[i + 1]] > value else value
    return total if 0 < total < 4000 and int_to_roman(total) == text else None


def int_to_roman(value: int) -> str:
    out = []
    for number, letters in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"),
                            (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        count, value = divmod(value, number)
        out.append(letters * count)
    return "".join(out)
