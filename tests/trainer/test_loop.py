"""Three-step runs of a tiny model through the real loop: what a run writes, resume, status policies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from rf_trainer_support import tiny_config

import rewardforge as rf
from rewardforge.trainer import ConfigError, RewardFailure, train
from rewardforge.trainer.metrics import FIELDS

TIMINGS = {"step_time_s", "reward_time_s"}


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    train(tiny_config(loss={"beta": 0.04}), out)
    return out


def test_metrics_file_has_exactly_the_listed_fields(finished_run: Path) -> None:
    rows = _lines(finished_run / "metrics.jsonl")
    assert [row["step"] for row in rows] == [1, 2, 3]
    components = ["reward/accuracy/mean", "reward/format/mean"]
    expected = [*FIELDS[:3], *components, *FIELDS[3:]]
    assert expected[:5] == ["step", "reward/mean", "reward/std", "reward/accuracy/mean", "reward/format/mean"]
    for row in rows:
        assert list(row) == expected
        assert row["kl"] is not None and row["kl"] >= 0  # beta > 0: a reference model exists
        assert 0 <= row["truncated_frac"] <= 1 and 0 <= row["frac_zero_std"] <= 1
        assert 1 <= row["completion_length/mean"] <= row["completion_length/max"] <= 6
        assert row["entropy"] > 0 and row["lr"] == pytest.approx(1e-2)
        assert row["step_time_s"] > 0 and row["reward_time_s"] >= 0
        assert 0 <= row["clip_frac/low"] <= 1 and 0 <= row["clip_frac/high"] <= 1


def test_a_run_leaves_plots_evals_and_checkpoints(finished_run: Path) -> None:
    png = (finished_run / "reward_curve.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    evals = _lines(finished_run / "eval.jsonl")
    assert [(e["step"], e["stage"], e["n"]) for e in evals] == [(0, "before training", 4), (3, "after GRPO", 4)]
    assert sorted(p.name for p in (finished_run / "checkpoints").iterdir()) == ["step-000002", "step-000003"]
    assert (finished_run / "checkpoints" / "step-000003" / "reference.pt").is_file()
    summary = json.loads((finished_run / "summary.json").read_text())
    assert sum(summary["statuses"].values()) == 3 * 2 * 4


def test_rollouts_file_holds_every_completion_and_scores_again_the_same(finished_run: Path) -> None:
    lines = _lines(finished_run / "rollouts.jsonl")
    assert [line["step"] for line in lines] == [1] * 8 + [2] * 8 + [3] * 8  # 2 prompts x 4 completions a step
    assert list(lines[0]) == ["prompt", "reference", "completion", "reward", "status", "reason", "components",
                              "step", "round", "group", "advantage", "length", "truncated"]
    for step in (1, 2, 3):
        for group in (0, 1):
            rows = [line for line in lines if line["step"] == step and line["group"] == group]
            assert len(rows) == 4 and len({line["prompt"] for line in rows}) == 1
            assert sum(line["advantage"] for line in rows) == pytest.approx(0, abs=1e-6)  # z-scores in a group
    # the same lines, scored again outside training, give the components training saw
    again = rf.score("tag_format", lines, params={"tags": ["answer"]})
    assert [score.value for score in again] == [line["components"]["format"] for line in lines]
    assert all(line["reward"] == pytest.approx(line["components"]["accuracy"] + 0.2 * line["components"]["format"])
               for line in lines if line["status"] == "ok")


def test_resume_repeats_the_next_step_exactly(finished_run: Path, tmp_path: Path) -> None:
    crashed = tmp_path / "crashed"
    shutil.copytree(finished_run, crashed)
    shutil.rmtree(crashed / "checkpoints" / "step-000003")  # as if the run died during step 3
    train(tiny_config(loss={"beta": 0.04}), crashed, resume=True)
    want, got = _lines(finished_run / "metrics.jsonl"), _lines(crashed / "metrics.jsonl")
    assert [row["step"] for row in got] == [1, 2, 3]  # the dead step's line was replaced, not duplicated
    for key in set(want[2]) - TIMINGS:
        assert got[2][key] == want[2][key], key
    assert _lines(crashed / "eval.jsonl")[-1]["accuracy"] == _lines(finished_run / "eval.jsonl")[-1]["accuracy"]
    assert _lines(crashed / "rollouts.jsonl") == _lines(finished_run / "rollouts.jsonl")  # step 3's lines once


def test_a_run_folder_is_never_mixed_with_another(finished_run: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="already holds a run"):
        train(tiny_config(), finished_run)
    with pytest.raises(ConfigError, match="no checkpoint"):
        train(tiny_config(), tmp_path / "empty", resume=True)
    with pytest.raises(ConfigError, match="'loss' section differs"):
        train(tiny_config(loss={"beta": 0.5}), finished_run, resume=True)


def test_erroring_reward_samples_are_dropped_and_counted(tmp_path: Path) -> None:
    config = tiny_config(reward="rf_trainer_support:flaky", steps=2, eval={"data": None},
                         scoring={"on_error": "drop", "on_skipped": "zero", "max_dropped_frac": 1.0})
    result = train(config, tmp_path / "drop")
    errors = result.statuses["error"]
    assert errors > 0 and result.statuses["ok"] > 0, result.statuses
    rows = _lines(tmp_path / "drop" / "metrics.jsonl")
    assert all(row["reward/mean"] in (None, *[i / 8 for i in range(9)]) or 0 <= row["reward/mean"] <= 1
               for row in rows)
    summary = json.loads((tmp_path / "drop" / "summary.json").read_text())
    assert summary["statuses"]["error"] == errors


def test_fail_policy_and_a_broken_reward_stop_the_run(tmp_path: Path) -> None:
    with pytest.raises(RewardFailure, match="on_error is 'fail'"):
        train(tiny_config(reward="rf_trainer_support:flaky", eval={"data": None}, scoring={"on_error": "fail"}),
              tmp_path / "fail")
    with pytest.raises(RewardFailure, match="max_dropped_frac"):
        train(tiny_config(reward="rf_trainer_support:flaky", eval={"data": None},
                          scoring={"on_error": "drop", "max_dropped_frac": 0.0}), tmp_path / "broken")


def test_dynamic_sampling_refills_groups_without_signal(tmp_path: Path) -> None:
    config = tiny_config(steps=2, eval={"data": None}, reward={"reward": "tag_format", "params": {"tags": ["answer"]}},
                         advantage={"dynamic_sampling": True, "max_sampling_rounds": 3})
    torch.manual_seed(0)
    rows = _lines(train(config, tmp_path / "dapo").out_dir / "metrics.jsonl")
    # a random tiny policy rarely writes the tags: most groups are all-zero and get refilled
    assert any(row["frac_zero_std"] > 0 for row in rows)


def test_lora_trains_the_adapter_only_and_resumes(tmp_path: Path) -> None:
    config = tiny_config(steps=2, model={"lora": {"r": 4, "alpha": 8}}, loss={"beta": 0.04}, eval={"data": None},
                         output={"checkpoint_every": 1})
    train(config, tmp_path / "lora")
    saved = torch.load(tmp_path / "lora" / "checkpoints" / "step-000002" / "policy.pt", weights_only=True)
    assert saved and all("lora_" in name for name in saved)  # the base model reloads from its source
    assert not (tmp_path / "lora" / "checkpoints" / "step-000002" / "reference.pt").exists()  # adapter off
    rows = _lines(tmp_path / "lora" / "metrics.jsonl")
    assert rows[1]["kl"] > 0  # the adapter moved the policy away from the base model
    shutil.rmtree(tmp_path / "lora" / "checkpoints" / "step-000002")
    train(config, tmp_path / "lora", resume=True)
    again = _lines(tmp_path / "lora" / "metrics.jsonl")
    assert {k: v for k, v in again[1].items() if k not in TIMINGS} == {k: v for k, v in rows[1].items()
                                                                       if k not in TIMINGS}


def test_the_rollout_engine_gets_the_weights_after_every_optimizer_step(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from rewardforge.trainer import loop
    from rewardforge.trainer.rollout import TransformersBackend

    synced: list[int] = []

    class Recording(TransformersBackend):  # stands in for vLLM, which needs a GPU
        def sync(self, policy: Any) -> None:
            synced.append(len(synced))

    monkeypatch.setattr(loop, "make_backend", lambda config, *_: Recording(config))
    train(tiny_config(steps=2, loss={"mu": 3}, eval={"data": None}), tmp_path / "sync")
    assert len(synced) == 2 * 3  # steps x mu optimizer steps, nothing before (no warm start here)
