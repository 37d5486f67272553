"""`rewardforge list`, `show`, `--help` and `--version` as a new user reads them (issue 16)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import rewardforge as rf
from rewardforge.cli import app

runner = CliRunner()
BUILTINS = rf.default_registry().names()


def invoke(*args: str) -> object:
    return runner.invoke(app, list(args), env={"COLUMNS": "80"})


def test_list_is_one_line_per_reward_that_fits_80_columns() -> None:
    result = invoke("list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines] == BUILTINS
    assert all(len(line) <= 80 for line in lines)
    math_line = next(line for line in lines if line.startswith("math_equivalence "))
    assert math_line.split()[1] == "math"  # the kind, then what it scores
    assert "final answer" in math_line


def test_list_filters_by_tag_and_by_a_search_word() -> None:
    shaping = invoke("list", "--tag", "shaping")
    assert shaping.exit_code == 0
    assert [line.split()[0] for line in shaping.output.splitlines()] == [
        name for name in BUILTINS if "shaping" in rf.default_registry().entries[name].tags]
    both = invoke("list", "--tag", "shaping", "--tag", "batched")
    assert [line.split()[0] for line in both.output.splitlines()] == ["kimi_length"]
    word = invoke("list", "sandbox")
    assert [line.split()[0] for line in word.output.splitlines()] == ["code_tests"]
    typo = invoke("list", "--tag", "shapng")
    assert typo.exit_code == 2 and "no reward has the tag 'shapng' (did you mean 'shaping'?)" in typo.output
    nothing = invoke("list", "mth")
    assert nothing.exit_code == 1 and "no reward matches 'mth' (did you mean 'math'?)" in nothing.output


def test_list_json_is_machine_readable() -> None:
    result = invoke("list", "--json", "--tag", "math")
    assert result.exit_code == 0
    entries = json.loads(result.output)
    assert [e["name"] for e in entries] == ["math_equivalence", "numeric_closeness"]
    assert {"name", "kind", "tags", "summary", "description", "source", "target", "params"} <= set(entries[0])
    assert entries[0]["target"] == "rewardforge.rewards.math:MathEquivalence" and entries[0]["source"] == "builtin"


def test_show_gives_param_descriptions_from_the_param_models() -> None:
    result = runner.invoke(app, ["show", "exact_match"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert re.search(r"case_sensitive\s+│\s+bool\s+│\s+False\s+│\s+compare with case", result.output)
    judge = runner.invoke(app, ["show", "llm_judge"], env={"COLUMNS": "200"})
    assert "rubric" in judge.output and "binary | scale | reference | ranking | custom" in judge.output
    assert "what the judge is asked" in judge.output and "golden cases" in judge.output


def test_show_prints_no_empty_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = tmp_path / "rf_show_plain.py"
    module.write_text("import rewardforge as rf\n\n@rf.reward\ndef plain(completion: str) -> float:\n"
                      '    """Always 1."""\n    return 1.0\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    result = invoke("show", "rf_show_plain:plain")
    assert result.exit_code == 0, result.output
    assert "params: none" in result.output and "Always 1." in result.output
    assert "┏" not in result.output  # no table at all: nothing to tabulate


def test_show_takes_dotted_paths_and_stack_files(tmp_path: Path) -> None:
    dotted = invoke("show", "rf_test_rewards:sleepy")
    assert dotted.exit_code == 0, dotted.output
    assert "seconds" in dotted.output and "Sleeps" in dotted.output
    stack = tmp_path / "stack.yaml"
    stack.write_text("name: mine\ntype: weighted_sum\ncomponents:\n  - reward: exact_match\n    name: answer\n"
                     "  - reward: tag_format\n    weight: {at: 100, before: 0.0, after: 0.5}\n"
                     "    params: {mode: partial}\n")
    shown = invoke("show", str(stack))
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())
    assert "mine (weighted_sum, on_skipped=renormalize, on_error=propagate)" in text
    assert "answer: × 1.0 exact_match" in text
    assert "tag_format: × 0.0 before step 100, 0.5 from it tag_format {'mode': 'partial'}" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [(["show", "math_equivalance"], "unknown reward 'math_equivalance' (did you mean 'math_equivalence'?)"),
     (["show", "nowhere.yaml"], "reward stack file not found: nowhere.yaml"),
     (["show", "no_such_module_xyz:thing"], "cannot import 'no_such_module_xyz'")],
    ids=["typo", "missing-stack", "bad-dotted-path"],
)
def test_show_unknown_names_exit_2_with_a_suggestion(args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


@pytest.mark.parametrize("command", [[], ["list"], ["show"], ["score"], ["test"], ["demo"], ["export"],
                                     ["export", "openrlhf"]],
                         ids=["top", "list", "show", "score", "test", "demo", "export", "export-openrlhf"])
def test_help_placeholders_read_like_the_readme(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    assert not re.search(r"<\w+(\[.*?\])?>", result.output), result.output  # no <bool>, <list[str]>
    assert "{" not in result.output.splitlines()[1]  # the usage line: NAME, not {name}


def test_score_help_names_what_each_option_takes() -> None:
    text = " ".join(runner.invoke(app, ["score", "--help"], env={"COLUMNS": "200"}).output.split())
    for placeholder in ("--reward -r NAME", "--input -i FILE", "--param -p KEY=VALUE", "--field FIELD=COLUMN",
                        "--timeout SECONDS", "--on-bad-line fail|skip", "--resume", "--force"):
        assert placeholder in text, placeholder
    usage = runner.invoke(app, ["show", "--help"], prog_name="rewardforge").output
    assert "Usage: rewardforge show [OPTIONS] NAME" in " ".join(usage.split())


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0 and result.output.strip() == f"rewardforge {rf.__version__}"
