"""The README's scoring examples run and print what they say, and its CLI commands work as shown."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from rf_test_support import ROOT
from typer.testing import CliRunner

from rewardforge.cli import app

README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def run_python(code: str) -> str:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {})
    return printed.getvalue()


def test_the_scoring_in_python_examples_print_what_they_say() -> None:
    first, dataset = blocks(section("Scoring in Python"), "python")
    expected = "\n".join(line.removeprefix("# ") for line in first.splitlines() if line.startswith("# ")) + "\n"
    assert run_python(first) == expected
    assert run_python("import rewardforge as rf\n" + dataset) == "[1.0, 0.0]\n"


def test_the_readme_links_only_to_what_the_repository_has() -> None:
    assert "../" not in README and "DESIGN.md" not in README
    assert "\n## Layout\n" in README and "(#layout)" in README


def cli_commands() -> list[list[str]]:
    [block] = blocks(section("The command line"), "bash")
    joined = block.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        command = line.split("#")[0].strip()
        # test, new-plugin, demo and train have their own tests (tests/testing, tests/cli/test_cli.py,
        # tests/trainer: a training run takes minutes, so there it runs with a shortened config)
        if command.startswith("rewardforge ") and not command.startswith(
                ("rewardforge test", "rewardforge demo", "rewardforge new-plugin", "rewardforge train")):
            commands.append(shlex.split(command)[1:])
    return commands


@pytest.mark.parametrize("args", cli_commands(), ids=lambda args: " ".join(args)[:40])
def test_the_command_line_section_runs_as_written(args: list[str], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.jsonl").write_text('{"completion": "Paris", "answer": "paris"}\n'
                                       '{"completion": "Lyon", "answer": "Paris"}\n')
    for name in ("stack.yaml", "math_stack.yaml"):
        (tmp_path / name).write_text("type: weighted_sum\ncomponents:\n  - reward: exact_match\n"
                                     "  - reward: tag_format\n    weight: 0.2\n")
    (tmp_path / "rollouts.jsonl").write_text('{"completion": "<think>a</think><answer>4</answer>", "reference": "4"}\n')
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    if args[0] == "score" and "out.jsonl" in args:
        rows = (tmp_path / "out.jsonl").read_text().splitlines()
        assert len(rows) == 2 and '"reward":0.0' in rows[0]  # case_sensitive=true: "Paris" is not "paris"
    if "--report" in args:
        assert (tmp_path / "report.html").read_text().lower().startswith("<!doctype html>")


def test_the_engine_limits_example_runs_as_a_script_and_prints_what_it_says(tmp_path: Path) -> None:
    [block] = blocks(section("The engine"), "python")
    script = tmp_path / "limits_example.py"  # a script, as users run it: the reward lives in __main__
    script.write_text(block)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    expected = re.search(r"print\(.*\)\s+# (.*)", block)
    assert expected is not None and result.stdout.strip() == expected.group(1)
