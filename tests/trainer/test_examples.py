"""The training examples and the README's training snippet, run for real with tiny overrides."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rf_test_support import ROOT
from typer.testing import CliRunner

from rewardforge.cli import app, demo
from rewardforge.trainer import load_runs

EXAMPLES = ROOT / "examples"
#: Enough to go through every stage of a toy config (warm start, GRPO, held-out eval) in seconds.
TINY = {"steps": 2, "prompts_per_step": 2, "rollout.group_size": 2, "sft.examples": 8, "sft.epochs": 1,
        "eval.size": 4, "eval.every": 0, "model.tiny.hidden_size": 16, "model.tiny.intermediate_size": 32,
        "output.save_model": False}


@pytest.mark.parametrize(("name", "runs"), [
    ("grpo_toy.yaml", ["grpo_toy"]),
    ("sort_toy.yaml", ["exact_match", "position_match"]),
    ("grpo_qwen_gsm8k.yaml", ["grpo_qwen_gsm8k"]),  # for a GPU: validated here, run there
])
def test_example_configs_are_valid(name: str, runs: list[str]) -> None:
    loaded = load_runs(EXAMPLES / name)
    assert list(loaded) == runs
    assert len({config.seed for config in loaded.values()}) == 1


def test_the_gsm8k_example_is_a_real_gpu_setup() -> None:
    (config,) = load_runs(EXAMPLES / "grpo_qwen_gsm8k.yaml").values()
    assert config.rollout.backend == "vllm" and config.model.name_or_path == "Qwen/Qwen2.5-0.5B-Instruct"
    assert config.data.hf == "openai/gsm8k" and config.data.fields == {"prompt": "question", "reference": "answer"}


def test_readme_python_snippet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (ROOT / "README.md").read_text()
    (snippet,) = [block for block in re.findall(r"```python\n(.*?)```", readme, re.S)
                  if "from rewardforge.trainer import" in block]
    assert '{"steps": 50}' in snippet and 'Path("out/toy50")' in snippet
    snippet = snippet.replace('{"steps": 50}', repr(TINY))
    snippet = snippet.replace('Path("out/toy50")', f"Path({str(tmp_path / 'toy')!r})")
    monkeypatch.chdir(ROOT)  # the snippet names examples/ relative to a checkout, as the README reader runs it
    exec(compile(snippet, "README.md", "exec"), {})
    assert (tmp_path / "toy" / "metrics.jsonl").is_file()


def test_demo_trains_the_toy_after_scoring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "SHORT_TOY", TINY)
    result = CliRunner().invoke(app, ["demo", "--train-dir", str(tmp_path / "toy")])
    assert result.exit_code == 0, result.output
    assert "demo_stack" in result.output and "GRPO on a toy task" in result.output
    assert "held-out accuracy after SFT" in result.output and "after GRPO" in result.output
    assert (tmp_path / "toy" / "reward_curve.png").is_file()
