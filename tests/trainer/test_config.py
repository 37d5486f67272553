"""Configs from YAML: overrides, variants, paths relative to the file, and errors that name the key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest
import yaml
from rf_trainer_support import tiny_dict

from rewardforge.kernels import IMPORTANCE_SAMPLING_LEVELS, LOSS_TYPES
from rewardforge.trainer import ConfigError, load_runs
from rewardforge.trainer.config import LossConfig
from rewardforge.trainer.scoring import build_reward


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_overrides_reach_nested_keys_and_create_sections(tmp_path: Path) -> None:
    path = _write(tmp_path / "run.yaml", tiny_dict())
    (config,) = load_runs(path, {"loss.beta": 0.04, "rollout.temperature": 0.7, "sft.examples": 10}).values()
    assert config.loss.beta == 0.04 and config.rollout.temperature == 0.7
    assert config.sft is not None and config.sft.examples == 10


@pytest.mark.parametrize(("overrides", "message"), [
    ({"loss.betta": 0.1}, "loss: unknown key 'betta' (did you mean 'beta'?)"),
    ({"rollout.grup_size": 3}, "rollout: unknown key 'grup_size' (did you mean 'group_size'?)"),
    ({"stepz": 3}, "config: unknown key 'stepz' (did you mean 'steps'?)"),
    ({"rollout.group_size": 1}, "rollout.group_size: Input should be greater than or equal to 2"),
    ({"loss.loss_type": "ppo"}, "loss.loss_type"),
    ({"loss.loss_type": "cispo"}, "epsilon_high is cispo's absolute cap"),
    ({"model.name_or_path": "x"}, "exactly one of model.name_or_path and model.tiny"),
    ({"steps.x": 1}, "steps is not a section"),
], ids=["typo", "typo-section", "typo-top", "range", "choice", "cispo-cap", "two-models", "not-a-section"])
def test_mistakes_are_named(tmp_path: Path, overrides: dict, message: str) -> None:
    path = _write(tmp_path / "run.yaml", tiny_dict())
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_runs(path, overrides)


def test_variants_share_the_file_and_override_what_they_name(tmp_path: Path) -> None:
    data = tiny_dict(variants={"sparse": {"reward": "exact_match"}, "dense": {"loss": {"beta": 0.1}}})
    runs = load_runs(_write(tmp_path / "cmp.yaml", data), {"steps": 7})
    assert list(runs) == ["sparse", "dense"]
    assert runs["sparse"].reward == "exact_match" and runs["sparse"].loss.beta == 0.0
    assert runs["dense"].loss.beta == 0.1 and runs["dense"].reward == data["reward"]
    assert {run.steps for run in runs.values()} == {7}


def test_paths_in_the_file_are_relative_to_it_and_paths_given_by_hand_are_not(tmp_path: Path) -> None:
    folder = tmp_path / "configs"
    folder.mkdir()
    data = tiny_dict(data={"task": None, "path": "prompts.jsonl"})
    del data["data"]["task"], data["data"]["params"]
    path = _write(folder / "run.yaml", data)
    (config,) = load_runs(path).values()
    assert config.data.path == folder / "prompts.jsonl"
    (config,) = load_runs(path, {"data.path": "elsewhere.jsonl"}).values()
    assert config.data.path == Path("elsewhere.jsonl")


def test_unreadable_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"config file not found: {tmp_path / 'missing.yaml'}")):
        load_runs(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("steps: [1\n")
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / 'bad.yaml'}: not valid YAML")):
        load_runs(tmp_path / "bad.yaml")


def test_the_loss_choices_are_the_kernels_own() -> None:
    fields = LossConfig.model_fields
    assert set(get_args(fields["loss_type"].annotation)) == set(LOSS_TYPES)
    assert set(get_args(fields["importance_sampling_level"].annotation)) == set(IMPORTANCE_SAMPLING_LEVELS)


def test_reward_forms() -> None:
    assert build_reward("exact_match").name == "exact_match"
    single = build_reward({"reward": "regex_match", "params": {"pattern": "a+"}})
    assert single.name == "regex_match"
    stack = build_reward({"type": "weighted_sum", "name": "s", "components": [{"reward": "exact_match"}]})
    assert stack.name == "s"
    with pytest.raises(ConfigError, match=r"reward: .*nope"):
        build_reward("nope")
    with pytest.raises(ConfigError, match="not weight"):
        build_reward({"reward": "exact_match", "weight": 2})
