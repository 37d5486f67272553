from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from rf_test_support import RF, ROOT
from typer.testing import CliRunner

from rewardforge.cli import app

runner = CliRunner()


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def test_score_writes_input_plus_verdict_and_a_summary(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [
        {"id": 1, "completion": "Paris", "answer": "Paris"},
        {"id": 2, "completion": "Lyon", "answer": "Paris"},
        {"id": 3, "completion": "Rome"},
    ])
    target = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["score", "-r", "exact_match", "-i", str(source), "-o", str(target),
                                 "--field", "reference=answer"])
    assert result.exit_code == 0, result.output
    rows = read_jsonl(target)
    assert [r["id"] for r in rows] == [1, 2, 3]
    assert [r["reward"] for r in rows] == [1.0, 0.0, None]
    assert [r["status"] for r in rows] == ["ok", "ok", "skipped"]
    assert rows[2]["reason"] == "no reference to compare with"
    assert {"components", "info"} <= set(rows[0])
    assert "reward mean" in result.output and "status skipped" in result.output


def test_params_are_typed_from_strings(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"completion": "ANSWER: 7"}])
    target = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["score", "-r", "regex_match", "-i", str(source), "-o", str(target),
                                 "--param", "pattern=answer: \\d", "--param", "flags=[IGNORECASE]"])
    assert result.exit_code == 0, result.output
    assert read_jsonl(target)[0]["reward"] == 1.0


def test_bad_json_line_exits_2_naming_the_line_and_keeps_earlier_rows(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"completion": "a", "reference": "a"}\n{"completion": "b", "reference": "b"}\n{oops\n')
    target = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["score", "-r", "exact_match", "-i", str(source), "-o", str(target),
                                 "--batch-size", "1"])
    assert result.exit_code == 2
    assert "line 3: invalid JSON" in result.output
    assert [r["reward"] for r in read_jsonl(target)] == [1.0, 1.0]


@pytest.mark.parametrize(
    ("args", "rows", "message"),
    [
        (["-r", "exact_match"], [{"text": "no completion"}], "line 1: no 'completion' column (the row has: text)"),
        (["-r", "exact_match", "--field", "completion=text"], [{"other": 1}], "line 1: no 'text' column"),
        (["-r", "exact_match"], [{"completion": "a"}, [1, 2]], "line 2: expected a JSON object"),
        (["-r", "exact_match"], [{"completion": 5}], "line 1: field 'completion'"),
        (["-r", "no_such_reward"], [{"completion": "a"}], "unknown reward 'no_such_reward'"),
        (["-r", "regex_match", "--param", "pattern=x", "--param", "mode=sideways"], [{"completion": "a"}],
         "invalid param 'mode'"),
        (["-r", "regex_match"], [{"completion": "a"}], "missing param 'pattern'"),
        (["-r", "exact_match", "--param", "novalue"], [{"completion": "a"}], "expected KEY=VALUE"),
        (["-r", "exact_match", "--field", "answer=reference"], [{"completion": "a"}], "'answer' is not one of"),
        (["-r", "exact_match", "--timeout", "0"], [{"completion": "a"}], "--timeout must be positive"),
    ],
)
def test_malformed_input_gives_one_line_error_and_exit_2(
    tmp_path: Path, args: list[str], rows: list[object], message: str
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    result = runner.invoke(app, ["score", *args, "-i", str(source), "-o", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def test_missing_input_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["score", "-r", "exact_match", "-i", str(tmp_path / "nope.jsonl"), "-o", "-"])
    assert result.exit_code == 2 and "input file not found" in result.output


def test_timeout_flag_kills_hung_samples_and_reports_them(tmp_path: Path, cli_env: dict[str, str]) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"completion": "hang"}, {"completion": "quick"}])
    target = tmp_path / "out.jsonl"
    result = subprocess.run([*RF, "score", "-r", "rf_test_rewards:sleepy", "-i", str(source), "-o", str(target),
                             "--timeout", "1"], env=cli_env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    rows = read_jsonl(target)
    assert rows[0]["status"] == "error" and rows[0]["reason"].startswith("timeout")
    assert rows[1]["reward"] == 1.0
    assert "status error" in result.stderr


def test_list_show_and_test_commands() -> None:
    listed = runner.invoke(app, ["list"])
    assert listed.exit_code == 0 and "exact_match" in listed.output
    shown = runner.invoke(app, ["show", "regex_match"])
    assert shown.exit_code == 0 and "pattern" in shown.output and "required" in shown.output
    assert "golden cases" in shown.output
    assert runner.invoke(app, ["show", "nothing"]).exit_code == 2
    tested = runner.invoke(app, ["test", "exact_match", "regex_match"])
    assert tested.exit_code == 0, tested.output
    assert "5/5" in tested.output


def test_demo_runs_as_a_new_user_would(cli_env: dict[str, str], tmp_path: Path) -> None:
    command = str(Path(sys.executable).parent / "rewardforge")
    # the toy GRPO run that follows the scoring demo is tested with a shortened config in tests/trainer
    result = subprocess.run([command, "demo", "--no-train"], env=cli_env, capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "demo_stack" in result.stdout and "reward mean" in result.stdout
    assert (ROOT / "examples" / "demo.jsonl").is_file()


def test_rewards_of_the_current_directory_by_module_or_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    """As `python -m` would: `-r my_rewards:keyword` finds my_rewards.py where the command runs, and
    `-r sub/rewards.py:keyword` names a file, as `rewardforge test` takes it; both run in workers."""
    code = ("import rewardforge as rf\n\n@rf.reward\ndef keyword(completion: str, reference: str) -> float:\n"
            "    return float(reference in completion)\n")
    (tmp_path / "my_rewards.py").write_text(code)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "rewards.py").write_text(code)
    source = write_jsonl(tmp_path / "in.jsonl", [{"completion": "Paris!", "reference": "Paris"}])
    command = str(Path(sys.executable).parent / "rewardforge")
    env = {key: value for key, value in cli_env.items() if key != "PYTHONPATH"}  # an empty entry would be '.'
    for spec in ("my_rewards:keyword", "sub/rewards.py:keyword"):
        result = subprocess.run([command, "score", "-r", spec, "-i", "in.jsonl", "-o", "-"], env=env,
                                capture_output=True, text=True, cwd=tmp_path, timeout=120)
        assert result.returncode == 0, result.stderr
        assert [row["reward"] for row in map(orjson.loads, result.stdout.splitlines())] == [1.0]
    misspelt = subprocess.run([command, "show", "sub/rewards.py:keywrd"], env=env, capture_output=True,
                              text=True, cwd=tmp_path, timeout=120)
    assert misspelt.returncode == 2
    assert "'sub/rewards.py' has no attribute 'keywrd' (did you mean 'keyword'?)" in misspelt.stderr
    assert source.is_file()
