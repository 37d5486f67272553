"""The Python API takes data as it comes: extra columns, a field map, Hugging Face datasets,
pandas DataFrames and any iterable of dicts (core/samples.py, through rf.score)."""

from __future__ import annotations

import math
import re
import traceback
from collections.abc import Iterator

import datasets
import numpy as np
import pandas as pd
import pytest

import rewardforge as rf
from rewardforge import SampleError
from rewardforge.core.samples import to_samples

ROWS = [
    {"question": "Capital of France?", "completion": "Paris", "answer": "Paris", "id": 1, "source": "geo"},
    {"question": "Capital of France?", "completion": "Lyon", "answer": "Paris", "id": 2, "source": "geo"},
    {"question": "Capital of Spain?", "completion": "Madrid", "answer": None, "id": 3, "source": "geo"},
]
MAPPING = {"prompt": "question", "reference": "answer"}


@rf.reward(isolation="inline")
def sees_metadata(completion: str, metadata: dict) -> float:
    """Scores how many extra columns reached metadata, to show they arrive."""
    return float(len(metadata))


def values(scores: list[rf.Score]) -> list[float | None]:
    return [s.value for s in scores]


def test_rows_with_extra_columns_are_accepted_and_the_extras_go_to_metadata() -> None:
    rows = [{"completion": "Paris", "reference": "Paris", "id": 7, "source": "geo"}]
    [verdict] = rf.score("exact_match", rows)
    assert verdict.value == 1.0
    [sample] = to_samples(rows)
    assert sample.metadata == {"id": 7, "source": "geo"}
    [counted] = rf.score(sees_metadata, rows)
    assert counted.value == 2.0


def test_an_explicit_metadata_column_wins_over_extra_columns() -> None:
    [sample] = to_samples([{"completion": "x", "metadata": {"id": "kept"}, "id": 1, "lang": "en"}])
    assert sample.metadata == {"id": "kept", "lang": "en"}


def test_field_map_is_the_same_mapping_as_the_cli_field_option() -> None:
    verdicts = rf.score("exact_match", ROWS, field_map=MAPPING)
    assert values(verdicts) == [1.0, 0.0, None]
    assert verdicts[2].status == "skipped"  # answer None is a missing reference, never a 0
    [sample, *_] = to_samples(ROWS, field_map=MAPPING)
    assert sample.prompt == "Capital of France?" and sample.reference == "Paris"
    assert sample.metadata == {"id": 1, "source": "geo"}  # mapped columns are not copied into metadata


def test_a_hugging_face_dataset_is_scored_as_it_is() -> None:
    dataset = datasets.Dataset.from_list(ROWS)
    assert values(rf.score("exact_match", dataset, field_map=MAPPING)) == [1.0, 0.0, None]


def test_a_pandas_dataframe_is_scored_row_by_row_with_nan_as_missing() -> None:
    frame = pd.DataFrame(ROWS)
    assert math.isnan(frame.loc[2, "answer"]) or frame.loc[2, "answer"] is None  # pandas' own missing marker
    verdicts = rf.score("exact_match", frame, field_map=MAPPING)
    assert values(verdicts) == [1.0, 0.0, None]
    [sample, *_] = to_samples(frame, field_map=MAPPING)
    assert sample.metadata == {"id": 1, "source": "geo"} and type(sample.metadata["id"]) is int


def test_dataframe_cells_holding_numpy_values_become_plain_python() -> None:
    frame = pd.DataFrame({"completion": ["4"], "reference": [np.int64(4)], "group_id": [np.int64(3)],
                          "tags": [np.array(["a", "b"])]})
    [sample] = to_samples(frame)
    assert sample.reference == 4 and type(sample.reference) is int
    assert sample.group_id == 3 and sample.metadata == {"tags": ["a", "b"]}


def test_any_iterable_of_dicts_works_including_a_generator() -> None:
    def rows() -> Iterator[dict]:
        yield {"completion": "a", "reference": "a"}
        yield {"completion": "b", "reference": "a"}

    assert values(rf.score("exact_match", rows())) == [1.0, 0.0]
    assert values(rf.score("exact_match", ({"completion": c, "reference": "a"} for c in "ab"))) == [1.0, 0.0]


@pytest.mark.parametrize(
    ("samples", "field_map", "message"),
    [
        ({"completion": "Paris"}, None, "got one dict; wrap it in a list"),
        (rf.Sample(completion="Paris"), None, "got one Sample; wrap it in a list"),
        ("Paris", None, "got str"),
        ([{"completion": "a"}, "b"], None, "sample 1: expected a dict or a Sample, got str"),
        ([{"text": "a"}], None, "sample 0: no 'completion' column (the row has: text)"),
        ([{"completion": 5}], None, "sample 0: field 'completion': Input should be a valid string"),
        ([{"response": 5}], {"completion": "response"}, "sample 0: column 'response' (completion)"),
        ([{"completion": "a", "answer": "a"}], {"reference": "answr"},
         "no sample has a column 'answr' (did you mean 'answer'?)"),
        ([{"completion": "a"}], {"refrence": "answer"}, "'refrence' is not a sample field (did you mean 'reference'?)"),
        ([{"completion": None}], None, "sample 0: field 'completion' is empty (None or NaN)"),
        (pd.DataFrame({"response": ["a", None]}), {"completion": "response"},
         "sample 1: column 'response' (completion) is empty (None or NaN)"),
    ],
    ids=["one-dict", "one-sample", "a-string", "not-a-mapping", "no-completion", "bad-type", "bad-mapped-type",
         "mapped-column-absent", "unknown-field", "empty-completion", "nan-in-mapped-column"],
)
def test_malformed_samples_say_which_sample_and_which_column(samples: object, field_map: dict | None,
                                                             message: str) -> None:
    with pytest.raises(SampleError, match=re.escape(message)) as info:
        rf.score("exact_match", samples, field_map=field_map)
    assert isinstance(info.value, rf.RewardError) and isinstance(info.value, ValueError)
    shown = "".join(traceback.format_exception(info.value))  # what a REPL or notebook prints
    assert "During handling" not in shown and "no running event loop" not in shown
