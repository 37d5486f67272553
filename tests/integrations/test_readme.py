"""Every snippet of the README's "Use with your trainer" section runs: Python blocks are executed,
the verl YAML is fed to `compute_score` the way verl would, and `rewardforge` commands are run."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from rf_test_support import RF

from rewardforge.integrations import compute_score

ROOT = Path(__file__).resolve().parents[2]


def section_blocks() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Use with your trainer", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(\w+)\n(.*?)```", section, flags=re.DOTALL)


BLOCKS = section_blocks()


def test_the_section_has_its_snippets() -> None:
    assert [lang for lang, _ in BLOCKS] == ["python", "yaml", "bash", "python", "python"]


@pytest.mark.parametrize("code", [c for lang, c in BLOCKS if lang == "python"], ids=["trl", "verifiers", "slime"])
def test_python_snippet_runs_and_prints_what_it_says(code: str, monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.chdir(ROOT)
    (tmp_path / "my_rewards.py").write_text(code)  # the verifiers snippet plugs `my_rewards:correct`
    monkeypatch.syspath_prepend(str(tmp_path))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme_snippet"})
    # each `print(...)   # expected` line printed what its comment says
    expected = [line.split("#", 1)[1].strip() for line in code.splitlines()
                if line.startswith("print(") and "#" in line.split(")")[-1]]
    assert printed.getvalue().splitlines() == expected


def test_verifiers_snippet_config_loads_the_plugged_reward(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("verifiers.v1")
    from verifiers.v1.utils.loaders import plugged_fn

    code = next(c for lang, c in BLOCKS if lang == "python" and "reward_fn" in c)
    (tmp_path / "my_rewards.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    fn = plugged_fn(namespace["config"].rewards["correct"].fn)
    assert fn.__name__ == "math_equivalence"


def test_verl_yaml_is_what_verl_passes_to_compute_score() -> None:
    [block] = [c for lang, c in BLOCKS if lang == "yaml"]
    custom = yaml.safe_load(block)["reward"]["custom_reward_function"]
    assert custom["path"] == "pkg://rewardforge.integrations.verl" and custom["name"] == "compute_score"
    result = compute_score("gsm8k", "so \\boxed{4}", "4", {}, **custom["reward_kwargs"])
    assert result == {"score": 1.0, "rf_ok": 1.0, "rf_skipped": 0.0, "rf_error": 0.0}


def test_bash_snippet_commands_run(tmp_path: Path) -> None:
    [block] = [c for lang, c in BLOCKS if lang == "bash"]
    commands = [line for line in block.splitlines() if line.startswith("rewardforge ")]
    assert commands
    for command in commands:
        done = subprocess.run([*RF, *shlex.split(command)[1:]], cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
    assert "reward_func = OpenRLHFReward(" in (tmp_path / "reward.py").read_text()
