"""Where prompts come from: toy splits that never overlap, JSONL with mapped columns, clear errors."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

import rewardforge as rf
from rewardforge.trainer import ConfigError
from rewardforge.trainer.config import DataConfig, ModelConfig, RolloutConfig, TinyModelConfig
from rewardforge.trainer.data import draw_prompts, load_rows
from rewardforge.trainer.policy import load_policy
from rewardforge.trainer.rollout import make_backend
from rewardforge.trainer.toys import position_match


@pytest.mark.parametrize(("task", "params"), [("arithmetic", {"high": 30}), ("sort", {"length": 3, "pool": 500}),
                                              ("arithmetic", {"high": 99, "carries": False})])
def test_toy_splits_are_disjoint_and_stable(task: str, params: dict) -> None:
    train = load_rows(DataConfig(task=task, params=params))
    heldout = load_rows(DataConfig(task=task, params=params, split="heldout"))
    assert not {r["prompt"] for r in train} & {r["prompt"] for r in heldout}
    assert 0.1 < len(heldout) / (len(train) + len(heldout)) < 0.3
    assert load_rows(DataConfig(task=task, params=params, split="heldout")) == heldout
    assert all(row["completion"] is not None and row["reference"] for row in train)


def test_no_carry_sums_have_no_carry() -> None:
    rows = load_rows(DataConfig(task="arithmetic", params={"high": 99, "carries": False}))
    for row in rows:
        a, b = map(int, row["prompt"].rstrip("=").split("+"))
        assert a % 10 + b % 10 < 10 and a // 10 + b // 10 < 10, row


def test_jsonl_columns_are_mapped_and_the_rest_is_metadata(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in [
        {"question": "1+1?", "answer": "2", "level": 1}, {"question": "2+2?", "answer": "4", "level": 3}]))
    rows = load_rows(DataConfig(path=path, fields={"prompt": "question", "reference": "answer"}))
    assert rows[1] == {"prompt": "2+2?", "reference": "4", "completion": None, "metadata": {"level": 3}}
    with pytest.raises(ConfigError, match="need a completion"):
        load_rows(DataConfig(path=path, fields={"prompt": "question"}), need_completion=True)
    with pytest.raises(ConfigError, match="row 1 has no 'prompt' column"):
        load_rows(DataConfig(path=path))
    path.write_text('{"prompt": "a"}\n{oops\n')
    with pytest.raises(ConfigError, match="line 2: invalid JSON"):
        load_rows(DataConfig(path=path))


def test_prompt_draws_depend_on_seed_step_and_round_only() -> None:
    rows = [{"prompt": str(i)} for i in range(100)]
    first = draw_prompts(rows, 8, seed=0, step=5, round_=0)
    assert first == draw_prompts(rows, 8, seed=0, step=5, round_=0)
    assert first != draw_prompts(rows, 8, seed=0, step=6, round_=0)
    assert first != draw_prompts(rows, 8, seed=0, step=5, round_=1)
    assert len(draw_prompts(rows[:3], 8, seed=0, step=1, round_=0)) == 8  # fewer rows than a batch: with repeats


@pytest.mark.parametrize(("completion", "reference", "value"), [
    ("1234", "1234", 1.0), ("1243", "1234", 0.5), ("123", "1234", 0.75), ("12345", "1234", 0.8), ("", "1234", 0.0),
])
def test_position_match_gives_partial_credit(completion: str, reference: str, value: float) -> None:
    (verdict,) = rf.score(position_match, [{"completion": completion, "reference": reference}])
    assert verdict.status == "ok" and verdict.value == pytest.approx(value)


def test_vllm_is_refused_with_the_reason_when_it_cannot_run() -> None:
    model = ModelConfig(tiny=TinyModelConfig(alphabet="ab", hidden_size=8, intermediate_size=8, heads=2))
    policy = load_policy(model, 0)
    with pytest.raises(ConfigError, match="vllm"):
        make_backend(RolloutConfig(backend="vllm"), model, policy, 0)

