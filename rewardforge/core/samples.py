"""Samples from data as it comes: rows with extra columns, a Hugging Face `Dataset`, a pandas
`DataFrame`, or any iterable of dicts.

The rules, the same for `rf.score(...)` and for each line of `rewardforge score`:

- `field_map` maps a Sample field to the column that holds it: `{"reference": "answer"}` is the
  CLI's `--field reference=answer`.
- Columns that are not Sample fields (and not mapped to one) go into `metadata`, where rewards and
  judge templates can read them; keys of an explicit `metadata` column win over them.
- A missing value (`None`; NaN or NA in a DataFrame) is a missing field.
- `completion` is required. A row without it, or with a field of the wrong type, is an error that
  names the sample (or line), the column and the problem.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from rewardforge.core.errors import SampleError, did_you_mean, first_error
from rewardforge.core.types import Sample

#: Sample fields in the order a row is read.
SAMPLE_COLUMNS = ("prompt", "completion", "reference", "metadata", "group_id")


def check_field_map(field_map: Mapping[str, str] | None) -> dict[str, str]:
    """A validated `{sample field: column}` mapping; unknown fields are refused with a suggestion.

    >>> check_field_map({"reference": "answer"})
    {'reference': 'answer'}
    >>> check_field_map({"refrence": "answer"})
    Traceback (most recent call last):
    ...
    rewardforge.core.errors.SampleError: field_map: 'refrence' is not a sample field (did you mean 'reference'?); the fields are prompt, completion, reference, metadata, group_id
    """
    mapping = dict(field_map or {})
    for field, column in mapping.items():
        if field not in SAMPLE_COLUMNS:
            raise SampleError(f"field_map: {field!r} is not a sample field{did_you_mean(field, SAMPLE_COLUMNS)}; "
                              f"the fields are {', '.join(SAMPLE_COLUMNS)}")
        if not isinstance(column, str) or not column:
            raise SampleError(f"field_map: {field!r} must map to a column name, got {column!r}")
    return mapping


@dataclass(frozen=True)
class Converted:
    """A Sample and the Sample fields its row had no value for (to explain skips later)."""

    sample: Sample
    absent: frozenset[str]


def sample_from_row(row: Mapping[str, Any], field_map: Mapping[str, str]) -> Converted:
    """One row as a Sample. Raises SampleError naming the column at fault (the caller adds where)."""
    values: dict[str, Any] = {}
    absent = set()
    for field in SAMPLE_COLUMNS:
        value = row.get(field_map.get(field, field))
        if value is None:
            absent.add(field)
        else:
            values[field] = value
    if "completion" in absent:
        column = field_map.get("completion", "completion")
        if column in row:
            what = f"field {column!r}" if column == "completion" else f"column {column!r} (completion)"
            raise SampleError(f"{what} is empty (None or NaN): every sample needs a completion to score")
        columns = ", ".join(map(str, row)) or "none"
        raise SampleError(f"no {column!r} column{did_you_mean(column, map(str, row))} (the row has: {columns}); "
                          "say which column holds it, e.g. field_map={'completion': 'response'} "
                          "(--field completion=response)")
    consumed = {field_map.get(field, field) for field in SAMPLE_COLUMNS}
    extra = {key: value for key, value in row.items() if key not in consumed and value is not None}
    if extra:
        metadata = values.get("metadata")
        if metadata is None:
            values["metadata"] = extra
        elif isinstance(metadata, dict):
            values["metadata"] = {**extra, **metadata}
    try:
        sample = Sample.model_validate(values)
    except ValidationError as exc:
        loc, message = first_error(exc)
        field = str(loc[0]) if loc else "?"
        column = field_map.get(field, field)
        where = f"field {field!r}" if column == field else f"column {column!r} ({field})"
        raise SampleError(f"{where}: {message}") from None
    return Converted(sample, frozenset(absent))


def to_samples(items: Any, field_map: Mapping[str, str] | None = None) -> list[Sample]:
    """Samples from a list of Samples or dicts, a Hugging Face Dataset, a pandas DataFrame, or any
    iterable of mappings.

    >>> rows = [{"question": "2+2?", "completion": "4", "answer": "4", "id": 7}]
    >>> [sample] = to_samples(rows, field_map={"prompt": "question", "reference": "answer"})
    >>> sample.prompt, sample.reference, sample.metadata
    ('2+2?', '4', {'id': 7})
    >>> to_samples({"completion": "4"})
    Traceback (most recent call last):
    ...
    rewardforge.core.errors.SampleError: samples must be a collection of samples, got one dict; wrap it in a list: [sample]
    """
    mapping = check_field_map(field_map)
    samples: list[Sample] = []
    columns: set[str] = set()
    for index, item in enumerate(_rows(items)):
        if isinstance(item, Sample):
            samples.append(item)
            continue
        if not isinstance(item, Mapping):
            raise SampleError(f"sample {index}: expected a dict or a Sample, got {type(item).__name__}")
        columns.update(map(str, item))
        try:
            samples.append(sample_from_row(item, mapping).sample)
        except SampleError as exc:
            raise SampleError(f"sample {index}: {exc}") from None
    for field, column in mapping.items():
        if samples and column not in columns:
            raise SampleError(f"field_map {field}={column!r}: no sample has a column {column!r}"
                              f"{did_you_mean(column, columns)}; the columns are {', '.join(sorted(columns))}")
    return samples


def _rows(items: Any) -> Iterable[Any]:
    if isinstance(items, str | bytes):
        raise SampleError(f"samples must be a collection of samples, got {type(items).__name__}")
    if isinstance(items, Sample | Mapping):
        kind = "Sample" if isinstance(items, Sample) else "dict"
        raise SampleError(f"samples must be a collection of samples, got one {kind}; wrap it in a list: [sample]")
    if type(items).__module__.startswith("pandas") and hasattr(items, "to_dict"):
        if not hasattr(items, "columns"):
            raise SampleError(f"samples must be a DataFrame or a collection of rows, got a pandas {type(items).__name__}")
        return ({str(k): _plain(v) for k, v in row.items()} for row in items.to_dict(orient="records"))
    if not isinstance(items, Iterable):
        raise SampleError(f"samples must be a collection of samples, got {type(items).__name__}")
    return items


def _plain(value: Any) -> Any:
    """A DataFrame cell as plain Python: numpy scalars and arrays unwrapped, NaN / NA / NaT as None."""
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and math.isnan(value):
        return None
    if type(value).__name__ in {"NAType", "NaTType"}:
        return None
    return value
