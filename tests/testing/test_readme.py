"""The README's test-kit sections say what the code does: each snippet is run here."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from rf_test_support import RF, ROOT

from rewardforge.core.registry import RegistryFile
from rewardforge.testing import assert_golden
from rewardforge.testing.scaffold import write_plugin

README = (ROOT / "README.md").read_text()


def block(after: str, language: str) -> str:
    """The first ```language block after the heading or sentence `after`."""
    tail = README[README.index(after):]
    match = re.search(rf"```{language}\n(.*?)```", tail, re.S)
    assert match, f"no {language} block after {after!r}"
    return match.group(1)


def test_the_hackable_example_output_is_what_the_command_prints() -> None:
    shown = block("This reward means to pay for a boxed final answer", "console")
    command, *printed = shown.split("\n$ echo $?")[0].splitlines()
    assert command == "$ COLUMNS=100 rewardforge test examples/hackable_reward.py:boxed_answer --probes"
    result = subprocess.run([*RF, "test", "examples/hackable_reward.py:boxed_answer", "--probes"], cwd=ROOT,
                            env={**os.environ, "COLUMNS": "100"}, capture_output=True, text=True)
    assert result.returncode == 1 and shown.rstrip().endswith("$ echo $?\n1")
    assert [line.rstrip() for line in result.stdout.rstrip("\n").splitlines()] == printed


def test_the_registry_yaml_example_is_valid_and_its_cases_pass(tmp_path: Path) -> None:
    example = yaml.safe_load(block("### Golden cases (`registry.yaml`)", "yaml"))
    [entry] = RegistryFile.model_validate(example).rewards
    assert entry.orderings and entry.range == (0.0, 1.0)
    write_plugin("my-rewards", tmp_path / "my-rewards")  # the reward the example names, as the scaffold writes it
    reward = f"{tmp_path}/my-rewards/src/my_rewards/rewards.py:{entry.target.split(':')[1]}"
    results = assert_golden(reward, entry.cases())
    assert len(results) == 5


def test_the_pytest_snippet_passes(tmp_path: Path) -> None:
    snippet = block("### In pytest", "python")
    test_file = tmp_path / "test_readme_snippet.py"
    test_file.write_text(snippet)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert re.search(r"\b1[0-9] passed", result.stdout), result.stdout[-500:]  # the parametrised cases included
