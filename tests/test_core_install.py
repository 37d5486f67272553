"""rewardforge with only its core dependencies, as `pip install rewardforge` (no extras) leaves it.

Every optional dependency is made unimportable in the command and in its worker processes (a
`sitecustomize` on PYTHONPATH), so this checks what a user without extras gets: the CLI starts, the
rewards that need nothing more work, and one that needs an extra names the extra to install.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

#: Top-level modules of the extras (and of the dev tools), none of which the core may need.
OPTIONAL = ("sympy", "latex2sympy2_extended", "math_verify", "lingua", "openai", "httpx", "jinja2", "torch",
            "transformers", "vllm", "docker", "ray", "triton", "fastapi", "uvicorn", "prometheus_client",
            "verifiers", "trl", "liger_kernel", "numpy", "pandas", "datasets", "hypothesis")

BLOCKER = f'''
import sys
from importlib.abc import MetaPathFinder

class _NotInstalled(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {set(OPTIONAL)!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
'''


@pytest.fixture(scope="module")
def bare_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("bare")
    (folder / "sitecustomize.py").write_text(BLOCKER)
    (folder / "in.jsonl").write_text('{"completion": "so \\\\boxed{1/2}", "reference": "0.5"}\n')
    return {**os.environ, "PYTHONPATH": str(folder), "COLUMNS": "200", "RF_TEST_CWD": str(folder)}


@pytest.fixture(scope="module")
def bare(bare_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    command = str(Path(sys.executable).parent / "rewardforge")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([command, *args], env=bare_env, capture_output=True, text=True,
                              cwd=bare_env["RF_TEST_CWD"], timeout=300)

    return run


def test_the_blocker_hides_the_extras_in_every_process(bare_env: dict[str, str]) -> None:
    hidden = subprocess.run([sys.executable, "-c", "import jinja2"], env=bare_env, capture_output=True, text=True,
                            timeout=60)
    assert hidden.returncode == 1 and "No module named 'jinja2'" in hidden.stderr
    assert subprocess.run([sys.executable, "-c", "import jinja2"], capture_output=True).returncode == 0


def test_the_cli_starts_and_core_rewards_score_without_any_extra(bare: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    assert bare("list").returncode == 0
    for reward in ("exact_match", "math_equivalence"):
        result = bare("score", "-r", reward, "-i", "in.jsonl", "-o", "-")
        assert result.returncode == 0, result.stderr
        [row] = map(orjson.loads, result.stdout.splitlines())
        assert row["status"] in ("ok",) and row["reward"] == (1.0 if reward == "math_equivalence" else 0.0)


def test_a_reward_whose_extra_is_missing_names_the_extra(bare: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    result = bare("score", "-r", "language_consistency", "-i", "in.jsonl", "-o", "-")
    assert result.returncode == 0, result.stderr
    [row] = map(orjson.loads, result.stdout.splitlines())
    assert row["status"] == "error"
    assert row["reason"].endswith("lingua comes with an extra: pip install 'rewardforge[language]'")
    judge = bare("score", "-r", "llm_judge", "-i", "in.jsonl", "-o", "-")
    assert judge.returncode == 2
    assert "jinja2 comes with an extra: pip install 'rewardforge[judge]'" in judge.stderr
    tested = bare("test", "--all")  # one reward that cannot be built fails the run (1); it does not abort it (2)
    assert tested.returncode == 1, tested.stderr
    assert "exact_match" in tested.stdout and "pip install 'rewardforge[judge]'" in " ".join(tested.stdout.split())
