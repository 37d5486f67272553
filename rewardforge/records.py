"""JSONL records in and out: reading samples with column mapping, and writing scored rows.

Errors name the line and the problem in the words of the file (`line 3: invalid JSON at column 7:
...`, `line 4: not UTF-8 ...`), so a malformed file is fixed in one look. A UTF-8 byte-order mark
on the first line is accepted. How a row becomes a Sample (mapping, extra columns into metadata)
is `core/samples.py`'s rule, the same as for `rf.score`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from rewardforge.core.errors import RewardforgeError, SampleError, did_you_mean
from rewardforge.core.samples import SAMPLE_COLUMNS, sample_from_row
from rewardforge.core.types import Sample, Score

# orjson reads an integer outside the 64-bit range as a float (2**70 + 1 becomes 2**70): lines that may hold
# one are read again by the stdlib, which keeps every integer exact.
_LONG_INTEGER = re.compile(rb"\d{19,}")
#: The keys `scored_row` adds to an input row.
VERDICT_KEYS = ("reward", "status", "reason", "components", "info")
_BOM = b"\xef\xbb\xbf"


class RecordError(RewardforgeError, ValueError):
    """A line of input that cannot become a Sample."""


@dataclass
class Record:
    line: int
    row: dict[str, Any]
    sample: Sample
    #: Sample fields the row has no value for (to explain skips: "no `reference` column").
    absent: frozenset[str] = field(default_factory=frozenset)


@dataclass
class BadLine:
    """A line that cannot become a Sample, kept in place so that output lines stay in input order."""

    line: int
    problem: str
    text: str


def parse_field_map(pairs: list[str]) -> dict[str, str]:
    """`["reference=answer"]` -> {"reference": "answer"}: Sample field <- input column."""
    mapping = {}
    for pair in pairs:
        name, sep, column = pair.partition("=")
        if not sep or not name or not column:
            raise RecordError(f"--field {pair!r}: expected FIELD=COLUMN, e.g. reference=answer")
        if name not in SAMPLE_COLUMNS:
            raise RecordError(f"--field {pair!r}: {name!r} is not one of {', '.join(SAMPLE_COLUMNS)}"
                              f"{did_you_mean(name, SAMPLE_COLUMNS)}")
        mapping[name] = column
    return mapping


def to_sample(row: Mapping[str, Any], field_map: Mapping[str, str], *, line: int) -> Record:
    try:
        converted = sample_from_row(row, field_map)
    except SampleError as exc:
        raise RecordError(f"line {line}: {exc}") from None
    return Record(line, dict(row), converted.sample, converted.absent)


def iter_rows(stream: IO[bytes], field_map: Mapping[str, str]) -> Iterator[Record | BadLine]:
    """Every non-blank line, lazily, as a Record or, when it cannot become a Sample, a BadLine."""
    for number, raw in enumerate(stream, start=1):
        item = read_line(number, raw, field_map)
        if item is not None:
            yield item


def read_line(number: int, raw: bytes, field_map: Mapping[str, str]) -> Record | BadLine | None:
    """Line `number` of a file (blank lines counted) as a Record or a BadLine; None when it is blank.

    Every reader of JSONL input goes through here (the CLI, Ray's workers), so a line reads the same
    everywhere."""
    row = parse_line(number, raw)
    if row is None or isinstance(row, BadLine):
        return row
    try:
        return to_sample(row, field_map, line=number)
    except RecordError as exc:
        text = raw[len(_BOM):] if number == 1 and raw.startswith(_BOM) else raw
        return BadLine(number, str(exc), _preview(text.rstrip(b"\r\n")))


def parse_line(number: int, raw: bytes) -> dict[str, Any] | BadLine | None:
    """Line `number` as a JSON object, a BadLine saying why not, or None when it is blank."""
    if number == 1 and raw.startswith(_BOM):
        raw = raw[len(_BOM):]
    raw = raw.rstrip(b"\r\n")
    if not raw.strip():
        return None
    try:
        row = load_row(raw)
    except orjson.JSONDecodeError as exc:
        return BadLine(number, f"line {number}: {_json_problem(raw, exc)}", _preview(raw))
    if not isinstance(row, dict):
        return BadLine(number, f"line {number}: expected a JSON object, got {type(row).__name__}", _preview(raw))
    return row


#: File signatures of what is often handed to a JSONL reader by mistake, and what to do instead.
_NOT_JSONL = (
    (b"PAR1", "a Parquet file: score it with --backend ray (it reads Parquet), or convert it with pandas: "
              "pd.read_parquet(path).to_json(out, orient='records', lines=True)"),
    (b"\xff\xfe", "UTF-16 text: convert it to UTF-8 first (iconv -f utf-16 -t utf-8 FILE > out.jsonl)"),
    (b"\xfe\xff", "UTF-16 text: convert it to UTF-8 first (iconv -f utf-16 -t utf-8 FILE > out.jsonl)"),
    (b"\x1f\x8b", "gzip-compressed: decompress it first (gunzip -k FILE), or pipe it in: "
                  "zcat FILE | rewardforge score -i - ..."),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed: decompress it first (zstd -d FILE), or pipe it in: "
                          "zstdcat FILE | rewardforge score -i - ..."),
    (b"BZh", "bzip2-compressed: decompress it first (bunzip2 -k FILE), or pipe it in: "
             "bzcat FILE | rewardforge score -i - ..."),
    (b"\xfd7zXZ\x00", "xz-compressed: decompress it first (unxz -k FILE), or pipe it in: "
                      "xzcat FILE | rewardforge score -i - ..."),
    (b"PK\x03\x04", "a zip archive: extract the JSONL file from it first"),
)


def not_jsonl(head: bytes) -> str | None:
    """What a file is, judged by its first bytes, when it is plainly not JSONL (and what to do);
    None when it may be JSONL. A JSON array gets its own advice: JSONL is one object per line."""
    for magic, what in _NOT_JSONL:
        if head.startswith(magic):
            return f"this is {what}"
    if head.removeprefix(_BOM).lstrip().startswith(b"["):
        return ("this is a JSON array, not JSONL (one JSON object per line): convert it, e.g. "
                "jq -c '.[]' in.json > in.jsonl")
    return None


def load_row(raw: bytes) -> Any:
    """One JSON line, with every integer exact (beyond 64 bits too); raises orjson.JSONDecodeError."""
    row = orjson.loads(raw)
    return json.loads(raw) if _LONG_INTEGER.search(raw) else row


def read_records(stream: IO[bytes], field_map: Mapping[str, str]) -> Iterator[Record]:
    """Yield records lazily, so that a bad line N fails only after lines before it were handled."""
    for item in iter_rows(stream, field_map):
        if isinstance(item, BadLine):
            raise RecordError(item.problem)
        yield item


def read_rows(stream: IO[bytes]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, JSON object) for each non-blank line, lazily, for rows that are not samples yet
    (a trainer's prompts); a bad line raises RecordError naming it, in the words `read_line` uses."""
    for number, raw in enumerate(stream, start=1):
        row = parse_line(number, raw)
        if isinstance(row, BadLine):
            raise RecordError(row.problem)
        if row is not None:
            yield number, row


def _json_problem(raw: bytes, exc: orjson.JSONDecodeError) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        column = len(raw[: bad.start].decode("utf-8", errors="replace")) + 1
        utf16 = raw[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in raw
        kind, source = (" (it looks like UTF-16)", "utf-16") if utf16 else ("", "latin1")
        return (f"not UTF-8{kind}: byte 0x{raw[bad.start]:02x} at column {column}; "
                f"convert the file to UTF-8 (e.g. iconv -f {source} -t utf-8)")
    return f"invalid JSON at column {exc.colno}: {exc.msg}"


def _preview(raw: bytes, limit: int = 200) -> str:
    text = raw.decode("utf-8", errors="replace")
    return text if len(text) <= limit else text[:limit] + "…"


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


def bad_line_row(bad: BadLine) -> dict[str, Any]:
    """The output line for an input line that could not be read: an error naming the line."""
    return scored_row({}, Score.error(bad.problem, info={"input_line": bad.line, "input_text": bad.text}))


def dump_line(row: dict[str, Any], *, sort_keys: bool = False) -> bytes:
    """One JSON line; `sort_keys` gives one spelling per content (to compare rows)."""
    option = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    try:
        return orjson.dumps(row, option=option, default=repr) + b"\n"
    except TypeError:  # an integer outside 64 bits: the stdlib writes it exactly
        return json.dumps(row, default=repr, ensure_ascii=False, sort_keys=sort_keys).encode() + b"\n"


def count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for raw in handle if raw.strip())
