"""JSONL records in and out: reading samples with column mapping, and writing scored rows.

Errors name the line and the field, so a malformed file is fixed in one look.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
from pydantic import ValidationError

from rewardforge.core.types import Sample, Score, first_error

SAMPLE_COLUMNS = ("prompt", "completion", "reference", "metadata", "group_id")
# orjson reads an integer outside the 64-bit range as a float (2**70 + 1 becomes 2**70): lines that may hold
# one are read again by the stdlib, which keeps every integer exact.
_LONG_INTEGER = re.compile(rb"\d{19,}")


class RecordError(ValueError):
    """A line of input that cannot become a Sample."""


@dataclass
class Record:
    line: int
    row: dict[str, Any]
    sample: Sample


def parse_field_map(pairs: list[str]) -> dict[str, str]:
    """`["reference=answer"]` -> {"reference": "answer"}: Sample field <- input column."""
    mapping = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or not field or not column:
            raise RecordError(f"--field {pair!r}: expected FIELD=COLUMN, e.g. reference=answer")
        if field not in SAMPLE_COLUMNS:
            raise RecordError(f"--field {pair!r}: {field!r} is not one of {', '.join(SAMPLE_COLUMNS)}")
        mapping[field] = column
    return mapping


def to_sample(row: Mapping[str, Any], field_map: Mapping[str, str], *, line: int) -> Sample:
    values = {}
    for field in SAMPLE_COLUMNS:
        column = field_map.get(field, field)
        if column in row:
            values[field] = row[column]
    if "completion" not in values:
        column = field_map.get("completion", "completion")
        raise RecordError(f"line {line}: missing field {column!r}")
    try:
        return Sample.model_validate(values)
    except ValidationError as exc:
        loc, message = first_error(exc)
        where = str(loc[0]) if loc else "?"
        raise RecordError(f"line {line}: field {field_map.get(where, where)!r}: {message}") from None


def read_records(stream: IO[bytes], field_map: Mapping[str, str]) -> Iterator[Record]:
    """Yield records lazily, so that a bad line N fails only after lines before it were handled."""
    for number, raw in enumerate(stream, start=1):
        if not raw.strip():
            continue
        try:
            row = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise RecordError(f"line {number}: invalid JSON: {exc}") from None
        if _LONG_INTEGER.search(raw):
            row = json.loads(raw)
        if not isinstance(row, dict):
            raise RecordError(f"line {number}: expected a JSON object, got {type(row).__name__}")
        yield Record(number, row, to_sample(row, field_map, line=number))


def scored_row(row: dict[str, Any], score: Score) -> dict[str, Any]:
    """The input row plus the verdict's fields."""
    return {
        **row,
        "reward": score.value,
        "status": score.status,
        "reason": score.reason,
        "components": score.components,
        "info": score.info,
    }


def dump_line(row: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(row, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS, default=repr) + b"\n"
    except TypeError:  # an integer outside 64 bits: the stdlib writes it exactly
        return json.dumps(row, default=repr, ensure_ascii=False).encode() + b"\n"


def count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for raw in handle if raw.strip())
