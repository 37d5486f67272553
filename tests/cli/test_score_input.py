"""`rewardforge score` with input as people have it: bad lines, odd encodings, other column names,
params typed on a shell line (issue 16)."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pandas as pd
import pytest
from rf_cli_support import read_jsonl, write_jsonl
from typer.testing import CliRunner

from rewardforge.cli import app

runner = CliRunner()


def run(*args: str, input: bytes | None = None) -> object:
    return runner.invoke(app, ["score", *args], input=input)


def one_line(output: str) -> str:
    return " ".join(output.split())


SIX_LINES = (b'{"id": 1, "completion": "a", "reference": "a"}\n'
             b'{"id": 2, "completion": "b", "reference": "a"}\n'
             b'{"id": 3, "completion": "c",\n'
             b'{"id": 4, "completion": "a", "reference": "a"}\n'
             b'[4, 5]\n'
             b'{"id": 6, "completion": 6}\n')


def test_on_bad_line_skip_writes_an_error_row_in_place_and_goes_on(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(SIX_LINES)
    target = tmp_path / "out.jsonl"
    result = run("-r", "exact_match", "-i", str(source), "-o", str(target), "--on-bad-line", "skip")
    assert result.exit_code == 0, result.output
    rows = read_jsonl(target)
    assert [row.get("id") for row in rows] == [1, 2, None, 4, None, None]
    assert [row["status"] for row in rows] == ["ok", "ok", "error", "ok", "error", "error"]
    assert rows[2]["reason"] == "line 3: invalid JSON at column 29: unexpected end of data"
    assert rows[2]["info"] == {"input_line": 3, "input_text": '{"id": 3, "completion": "c",'}
    assert rows[4]["reason"] == "line 5: expected a JSON object, got list"
    assert rows[5]["reason"] == "line 6: field 'completion': Input should be a valid string"
    assert "status error" in result.output and "3" in result.output


def test_a_bad_line_stops_the_run_by_default_after_scoring_the_lines_before_it(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(SIX_LINES)
    target = tmp_path / "out.jsonl"
    result = run("-r", "exact_match", "-i", str(source), "-o", str(target))
    assert result.exit_code == 2
    message = one_line(result.output)
    assert "error: line 3: invalid JSON at column 29: unexpected end of data." in message
    assert "line 2 column" not in message  # one line number, the file's
    assert f"The 2 rows before it are in {target}; fix the line and run again with --resume" in message
    source.write_bytes(SIX_LINES.split(b"\n", 1)[0] + b"\n{bad\n")
    one = run("-r", "exact_match", "-i", str(source), "-o", "-")
    assert ("The 1 row before it went to stdout. Fix the line, or pass --on-bad-line skip to write an error row "
            "for it and go on") in one_line(one.output)
    source.write_bytes(SIX_LINES)
    assert "--on-bad-line skip" in message
    assert [row["id"] for row in read_jsonl(target)] == [1, 2]
    source.write_bytes(SIX_LINES.replace(b'"c",\n', b'"c"}\n').replace(b"[4, 5]", b'{"completion": "x"}')
                       .replace(b'"completion": 6', b'"completion": "6"'))
    resumed = run("-r", "exact_match", "-i", str(source), "-o", str(target), "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert [row.get("id") for row in read_jsonl(target)] == [1, 2, 3, 4, None, 6]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"completion": "caf\xe9"}\n', "line 1: not UTF-8: byte 0xe9 at column 20; convert the file to UTF-8"),
        (b'{"completion": "ok"}\n{"completion": "\xed\xa0\x80"}\n', "line 2: not UTF-8: byte 0xed at column 17"),
        (b'{"completion": "ok"}\n{"completion": "\x00\xff"}\n', "line 2: not UTF-8 (it looks like UTF-16): byte 0xff at "
         "column 18; convert the file to UTF-8 (e.g. iconv -f utf-16 -t utf-8)"),
        (b'{"completion": "a", "reference": "a",}\n', "line 1: invalid JSON at column 37: trailing comma is not allowed"),
    ],
    ids=["latin-1", "lone-surrogate", "utf-16", "trailing-comma"],
)
def test_encoding_and_json_errors_say_what_and_where_in_the_file(tmp_path: Path, data: bytes, message: str) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(data)
    result = run("-r", "exact_match", "-i", str(source), "-o", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 2
    assert message in one_line(result.output)
    assert "surrogates not allowed" not in result.output


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("rollouts.parquet", "this is a Parquet file: score it with --backend ray"),
        ("rollouts.jsonl.gz", "this is gzip-compressed: decompress it first (gunzip -k FILE), or pipe it in: "
                              "zcat FILE | rewardforge score -i - ..."),
        ("rollouts.json", "this is a JSON array, not JSONL (one JSON object per line): convert it, e.g. jq -c"),
        ("utf16.jsonl", "this is UTF-16 text: convert it to UTF-8 first (iconv -f utf-16 -t utf-8"),
    ],
)
def test_a_file_that_is_plainly_not_jsonl_is_named_for_what_it_is(tmp_path: Path, name: str, message: str) -> None:
    rows = [{"completion": "Paris", "reference": "Paris"}]
    source = tmp_path / name
    if name.endswith(".parquet"):
        pd.DataFrame(rows).to_parquet(source)
    elif name.endswith(".gz"):
        source.write_bytes(gzip.compress(orjson.dumps(rows[0]) + b"\n"))
    elif name.endswith(".json"):
        source.write_bytes(orjson.dumps(rows, option=orjson.OPT_INDENT_2))
    else:
        source.write_bytes((orjson.dumps(rows[0]).decode() + "\n").encode("utf-16"))
    target = tmp_path / "out.jsonl"
    result = run("-r", "exact_match", "-i", str(source), "-o", str(target), "--on-bad-line", "skip")
    assert result.exit_code == 2
    assert one_line(result.output).startswith(f"error: --input {source}: {message}")
    assert not target.exists()  # not a file of error rows, one per "line" of a binary file


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'\xef\xbb\xbf{"completion": "Paris", "reference": "Paris"}\r\n{"completion": "x"}\r\n')
    target = tmp_path / "out.jsonl"
    result = run("-r", "exact_match", "-i", str(source), "-o", str(target))
    assert result.exit_code == 0, result.output
    assert [row["status"] for row in read_jsonl(target)] == ["ok", "skipped"]


def test_a_field_mapped_to_a_column_no_row_has_is_an_error(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"completion": "a", "answer": "a"}] * 3)
    target = tmp_path / "out.jsonl"
    result = run("-r", "exact_match", "-i", str(source), "-o", str(target), "--field", "reference=answr")
    assert result.exit_code == 2
    assert one_line(result.output) == ("error: --field reference=answr: no row has a column 'answr' (did you mean "
                                       "'answer'?); the input's columns are answer, completion")
    assert not target.exists()


def test_when_most_samples_skip_for_a_missing_field_the_hint_names_the_column(tmp_path: Path) -> None:
    rows = [{"id": i, "completion": "Paris", "answer": "Paris"} for i in range(5)]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    result = run("-r", "exact_match", "-i", str(source), "-o", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 0
    assert ("note: 5 of 5 samples were skipped, 5 of them with no 'reference' value; the input has answer, id: "
            "use --field reference=answer") in one_line(result.output)
    mapped = run("-r", "exact_match", "-i", str(source), "-o", str(tmp_path / "out2.jsonl"),
                 "--field", "reference=answer")
    assert mapped.exit_code == 0 and "note:" not in mapped.output


@pytest.mark.parametrize(
    ("reward", "param", "completion", "reward_value"),
    [
        ("math_equivalence", "rules=boxed", "the answer is 4, so \\boxed{5}", 0.0),  # gold 4; boxed says 5
        ("regex_match", "pattern=#### \\d+", "#### 42", 1.0),  # YAML would read a comment (null)
        ("regex_match", "pattern=yes", "yes", 1.0),  # YAML 1.1 would read a boolean
        ("regex_format", "flags=IGNORECASE", "<THINK>a</THINK><ANSWER>b</ANSWER>", 1.0),  # [IGNORECASE]
    ],
    ids=["list-from-one-value", "hash-sign", "yes", "one-flag"],
)
def test_params_are_read_by_their_declared_type(tmp_path: Path, reward: str, param: str, completion: str,
                                               reward_value: float) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"completion": completion, "reference": "4"}])
    target = tmp_path / "out.jsonl"
    result = run("-r", reward, "-p", param, "-i", str(source), "-o", str(target))
    assert result.exit_code == 0, result.output
    [row] = read_jsonl(target)
    assert row["status"] == "ok" and row["reward"] == reward_value
    if reward == "math_equivalence":
        assert row["info"]["rule"] == "boxed"  # the one rule given, not the characters of 'boxed'


def test_a_rejected_param_says_how_it_was_read_and_how_to_quote_it(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"completion": "#### 42 and #### 7"}])
    target = tmp_path / "o.jsonl"
    untyped = run("-r", "rf_test_rewards:PatternCount", "-p", "pattern=#### \\d+", "-i", str(source), "-o", str(target))
    assert untyped.exit_code == 2
    assert ("pattern must be text, got None (--param pattern=#### \\d+ was read as YAML: null, a NoneType; to pass "
            "it as text, quote it: --param 'pattern=\"#### \\\\d+\"')") in one_line(untyped.output)
    quoted = run("-r", "rf_test_rewards:PatternCount", "-p", 'pattern="#### \\\\d+"', "-i", str(source), "-o", str(target))
    assert quoted.exit_code == 0, quoted.output
    assert read_jsonl(target)[0]["reward"] == 2.0
    listed = run("-r", "regex_format", "-p", "flags=[DOTALL, yes]", "-i", str(source), "-o", str(tmp_path / "p.jsonl"))
    assert listed.exit_code == 2
    assert ("invalid param 'flags[1]': Input should be a valid string (--param flags=[DOTALL, yes] was read as "
            "YAML: [DOTALL, true]; quote each item that must stay text") in one_line(listed.output)
    number = run("-r", "tag_format", "-p", "penalty=yes", "-i", str(source), "-o", str(tmp_path / "q.jsonl"))
    assert number.exit_code == 2  # not silently True == 1.0
    assert "invalid param 'penalty': Input should be a valid number" in one_line(number.output)


def test_a_misnamed_or_misspelt_param_gets_a_suggestion_not_quoting_advice(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"completion": "Paris", "reference": "paris"}])
    misnamed = run("-r", "exact_match", "-p", "case_sensitiv=true", "-i", str(source), "-o", str(tmp_path / "a.jsonl"))
    assert misnamed.exit_code == 2
    assert one_line(misnamed.output) == (
        "error: reward 'exact_match': unknown param 'case_sensitiv' (did you mean 'case_sensitive'?); exact_match "
        "takes case_sensitive, strip_punctuation, collapse_whitespace")
    misspelt = run("-r", "regex_match", "-p", "pattern=a", "-p", "flags=[DOTAL]", "-i", str(source),
                   "-o", str(tmp_path / "b.jsonl"))
    assert misspelt.exit_code == 2
    assert one_line(misspelt.output).endswith("'DOTAL' is not one of 'IGNORECASE', 'MULTILINE', 'DOTALL' or 'VERBOSE' "
                                              "(did you mean 'DOTALL'?)")


def test_a_number_param_in_scientific_notation_is_a_number() -> None:
    from rewardforge.cli.console import parse_params
    from rewardforge.core.registry import params_model_of, target_of

    model = params_model_of(target_of("math_equivalence"))
    assert parse_params(["rel_tol=1e-6"], model).values == {"rel_tol": 1e-06}  # YAML 1.1 alone reads it as text
    assert parse_params(["rel_tol=yes"], model).values == {"rel_tol": "yes"}   # rejected later, never True == 1.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-size", "0"], "Invalid value for '--batch-size'"),
        (["-r", "math_equivalance"], "unknown reward 'math_equivalance' (did you mean 'math_equivalence'?)"),
        (["-r", "exact_match", "--field", "refrence=answer"], "(did you mean 'reference'?)"),
    ],
    ids=["batch-size-0", "unknown-reward", "unknown-field"],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"completion": "a"}])
    base = [] if "-r" in args else ["-r", "exact_match"]
    result = run(*base, *args, "-i", str(source), "-o", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 2
    assert message in one_line(result.output)


def test_stack_errors_reach_the_cli_with_file_component_and_key(tmp_path: Path) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text("type: weighted_sum\ncomponents:\n  - reward: exact_match\n    weight: {at: 10, befor: 0}\n")
    source = write_jsonl(tmp_path / "in.jsonl", [{"completion": "a"}])
    result = run("-r", str(stack), "-i", str(source), "-o", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 2
    assert one_line(result.output) == (f"error: {stack}: components[0] (exact_match).weight: unknown key 'befor' "
                                       "(did you mean 'before'?)")


def test_groups_are_never_split_across_batches(tmp_path: Path) -> None:
    """A group-relative reward must see a whole GRPO group, whatever --batch-size says."""
    rows = [{"completion": "x" * (1 + i % 4), "group_id": i // 4, "metadata": {"correct": True}} for i in range(12)]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    target = tmp_path / "out.jsonl"
    result = run("-r", "kimi_length", "-i", str(source), "-o", str(target), "--batch-size", "3")
    assert result.exit_code == 0, result.output
    scored = read_jsonl(target)
    assert [row["status"] for row in scored] == ["ok"] * 12
    assert {(row["info"]["min_length"], row["info"]["max_length"]) for row in scored} == {(1, 4)}
    assert [row["reward"] for row in scored[:4]] == [0.5, pytest.approx(1 / 6), pytest.approx(-1 / 6), -0.5]
