"""Reading a judge's verdict out of its text, by the format the template declared.

Parsing is strict on purpose: a verdict we cannot read unambiguously is `VerdictError` (the
reward reports it as `error: unparseable` with the raw text), never a guess and never a 0.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from rewardforge.core.errors import RewardforgeError

FormatKind = Literal["yes_no", "json", "tag", "last_number"]


class VerdictError(RewardforgeError, ValueError):
    """The judge's text holds no verdict in the declared format."""


@dataclass(frozen=True)
class VerdictFormat:
    """How a verdict is written and which numeric scale maps to [0, 1].

    - `yes_no`: the reply's last non-empty line is Yes or No (optionally "Verdict: Yes", "**No**.").
    - `json`: the last JSON object in the reply holds the verdict under `key`.
    - `tag`: the last <tag>...</tag> holds the verdict.
    - `last_number`: the last number in the reply ("7/10" reads as 7 when 10 is the scale's top).
    Inside json and tag, a verdict may be yes/no/true/false or a number on [low, high].
    """

    kind: FormatKind = "yes_no"
    key: str = "score"
    tag: str = "score"
    low: float = 1.0
    high: float = 10.0


_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
_OUT_OF = re.compile(r"([-+]?\d+(?:\.\d+)?)\s*(?:/|out of)\s*(\d+(?:\.\d+)?)", re.IGNORECASE)
_LABEL_PREFIX = re.compile(r"^(?:final\s+)?(?:verdict|answer|judgement|judgment|decision)\s*[:=-]\s*", re.I)
_WORDS = {"yes": 1.0, "no": 0.0, "true": 1.0, "false": 0.0}


def strip_reasoning(text: str) -> str:
    """Drop <think>...</think> blocks (and an unclosed reasoning prefix ending in </think>)."""
    text = _THINK.sub("", text)
    closing = text.lower().rfind("</think>")
    return text[closing + len("</think>") :] if closing >= 0 else text


def parse_verdict(text: str, fmt: VerdictFormat) -> float:
    """The verdict in [0, 1]; raises VerdictError saying what was wrong."""
    body = strip_reasoning(text).strip()
    if not body:
        raise VerdictError("the judge returned no text")
    if fmt.kind == "yes_no":
        return _yes_no(body)
    if fmt.kind == "json":
        verdict = _last_json_object(body)
        if fmt.key not in verdict:
            raise VerdictError(f"the JSON verdict has no {fmt.key!r} field")
        return _scalar(verdict[fmt.key], fmt)
    if fmt.kind == "tag":
        return _scalar(_last_tag(body, fmt.tag), fmt)
    return _scale(_last_number(body, fmt.high), fmt)


def parse_ranking(text: str, n: int, key: str = "ranking") -> list[int]:
    """A best-first ranking of candidates 1..n from the last JSON object; every candidate exactly once."""
    body = strip_reasoning(text).strip()
    ranking = _last_json_object(body).get(key)
    if not isinstance(ranking, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in ranking):
        raise VerdictError(f"{key!r} must be a list of response numbers, got {ranking!r}")
    if sorted(ranking) != list(range(1, n + 1)):
        raise VerdictError(f"{key!r} must list each of 1..{n} exactly once, got {ranking}")
    return ranking


def _yes_no(body: str) -> float:
    last = [line for line in body.splitlines() if line.strip()][-1]
    word = _LABEL_PREFIX.sub("", last.strip(" \t*_`#>\"'")).strip(" \t*_`\"'.!").lower()
    if word in ("yes", "no"):
        return _WORDS[word]
    raise VerdictError(f"expected a final Yes or No, got {last.strip()[:80]!r}")


def _last_json_object(body: str) -> dict[str, Any]:
    """The last top-level JSON object, scanning left to right so nested objects are not mistaken for it."""
    decoder = json.JSONDecoder()
    found: dict[str, Any] | None = None
    start = body.find("{")
    while start >= 0:
        try:
            value, end = decoder.raw_decode(body, start)
        except ValueError:
            start = body.find("{", start + 1)
            continue
        if isinstance(value, dict):
            found = value
        start = body.find("{", end)
    if found is None:
        raise VerdictError("no JSON object in the reply")
    return found


def _last_tag(body: str, tag: str) -> str:
    name = re.escape(tag)
    found = re.findall(rf"<{name}>(.*?)</{name}>", body, re.DOTALL | re.IGNORECASE)
    if not found:
        raise VerdictError(f"no <{tag}>...</{tag}> in the reply")
    return str(found[-1]).strip()


def _last_number(body: str, high: float) -> float:
    numbers = list(_NUMBER.finditer(body))
    if not numbers:
        raise VerdictError("no number in the reply")
    tail = list(_OUT_OF.finditer(body))
    if tail and tail[-1].end() >= numbers[-1].end() and float(tail[-1].group(2)) == high:
        return float(tail[-1].group(1))
    return float(numbers[-1].group())


def _scalar(value: Any, fmt: VerdictFormat) -> float:
    """A verdict value as found inside JSON or a tag: a yes/no word, a boolean or a number."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return _scale(float(value), fmt)
    text = str(value).strip().strip(".!*").strip().lower()
    if text in _WORDS:
        return _WORDS[text]
    match = _OUT_OF.fullmatch(text)
    if match and float(match.group(2)) == fmt.high:
        return _scale(float(match.group(1)), fmt)
    try:
        number = float(text)
    except ValueError:
        raise VerdictError(f"verdict {str(value)[:80]!r} is neither yes/no nor a number") from None
    return _scale(number, fmt)


def _scale(number: float, fmt: VerdictFormat) -> float:
    if not fmt.low <= number <= fmt.high:
        raise VerdictError(f"score {number:g} is outside {fmt.low:g}..{fmt.high:g}")
    return (number - fmt.low) / (fmt.high - fmt.low)
