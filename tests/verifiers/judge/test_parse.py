"""Verdict parsing: each declared format, reasoning blocks, and the refusals that keep guesses out."""

from __future__ import annotations

import pytest

from rewardforge.verifiers.judge.parse import (
    VerdictError,
    VerdictFormat,
    parse_ranking,
    parse_verdict,
    strip_reasoning,
)

YES_NO = VerdictFormat("yes_no")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Yes", 1.0),
        ("No", 0.0),
        ("yes.", 1.0),
        ("**No**", 0.0),
        ("The response is right.\nVerdict: Yes", 1.0),
        ("Final answer: no!", 0.0),
        ("<think>It says 5, but maybe... No wait. Yes</think>\nNo", 0.0),
        ("reasoning without an opening tag </think> Yes", 1.0),
    ],
)
def test_yes_no_reads_the_final_line(text: str, value: float) -> None:
    assert parse_verdict(text, YES_NO) == value


@pytest.mark.parametrize(
    "text",
    ["", "   ", "Maybe", "Yes and no", "Yes, but the answer has an error", "<think>Yes</think>", "I think yes, the"],
)
def test_yes_no_refuses_anything_ambiguous(text: str) -> None:
    with pytest.raises(VerdictError):
        parse_verdict(text, YES_NO)


def test_tag_format_takes_the_last_tag_and_maps_the_scale() -> None:
    fmt = VerdictFormat("tag", tag="score", low=1, high=10)
    assert parse_verdict("Good.\n<score>10</score>", fmt) == 1.0
    assert parse_verdict("<score>1</score>", fmt) == 0.0
    assert parse_verdict("Quoting <score>2</score> from the text; my rating: <score>7</score>", fmt) == pytest.approx(6 / 9)
    assert parse_verdict("<SCORE> 4 </SCORE>", fmt) == pytest.approx(3 / 9)
    assert parse_verdict("<score>8/10</score>", fmt) == pytest.approx(7 / 9)
    assert parse_verdict("<verdict>Yes</verdict>", VerdictFormat("tag", tag="verdict")) == 1.0


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("Score: 7", "no <score>"),
        ("<score>11</score>", "outside"),
        ("<score>0</score>", "outside"),
        ("<score>great</score>", "neither"),
    ],
)
def test_tag_format_errors_say_why(text: str, why: str) -> None:
    with pytest.raises(VerdictError, match=why):
        parse_verdict(text, VerdictFormat("tag", tag="score"))


def test_json_format_reads_the_last_top_level_object() -> None:
    fmt = VerdictFormat("json", key="score", low=0, high=5)
    assert parse_verdict('Reasoning... {"score": 5}', fmt) == 1.0
    assert parse_verdict('{"score": 1} then I changed my mind: {"details": {"x": 1}, "score": 4}', fmt) == 0.8
    assert parse_verdict('```json\n{"score": "yes"}\n```', fmt) == 1.0
    assert parse_verdict('{"score": false}', fmt) == 0.0
    with pytest.raises(VerdictError, match="no 'score' field"):
        parse_verdict('{"rating": 3}', fmt)
    with pytest.raises(VerdictError, match="no JSON object"):
        parse_verdict("{score: 3", fmt)
    with pytest.raises(VerdictError, match="outside"):
        parse_verdict('{"score": 6}', fmt)


def test_last_number_format() -> None:
    fmt = VerdictFormat("last_number", low=1, high=10)
    assert parse_verdict("I'd give it a 6.", fmt) == pytest.approx(5 / 9)
    assert parse_verdict("Rating: 7/10", fmt) == pytest.approx(6 / 9)
    assert parse_verdict("Rating: 9 out of 10", fmt) == pytest.approx(8 / 9)
    with pytest.raises(VerdictError, match="no number"):
        parse_verdict("excellent", fmt)
    with pytest.raises(VerdictError, match="outside"):
        parse_verdict("step 12 of 12", fmt)


def test_ranking_must_be_a_permutation() -> None:
    assert parse_ranking('{"ranking": [2, 3, 1]}', 3) == [2, 3, 1]
    assert parse_ranking('<think>{"ranking": [1]}</think> {"ranking": [3, 1, 2]}', 3) == [3, 1, 2]
    for bad in ('{"ranking": [1, 2]}', '{"ranking": [1, 1, 2]}', '{"ranking": [0, 1, 2]}',
                '{"ranking": "2,1,3"}', '{"ranking": [true, 2, 3]}', "2 > 1 > 3"):
        with pytest.raises(VerdictError):
            parse_ranking(bad, 3)


def test_strip_reasoning() -> None:
    assert strip_reasoning("<think>a\nb</think>answer") == "answer"
    assert strip_reasoning("plain") == "plain"
