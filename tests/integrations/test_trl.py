"""The TRL adapter inside TRL's own trainers: GRPOTrainer and RLOOTrainer run two steps on the CPU
with a random tiny model, and the rewards TRL used are checked against `rf.score` on the very
completions it generated."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

trl = pytest.importorskip("trl", reason="the TRL tests need trl (in the dev extra)")
datasets = pytest.importorskip("datasets")

from rf_integration_support import DATA, random_causal_lm, word_tokenizer  # noqa: E402

import rewardforge as rf  # noqa: E402
from rewardforge.integrations import to_trl, to_trl_components  # noqa: E402
from rewardforge.integrations.common import last_assistant_text  # noqa: E402

pytestmark = pytest.mark.slow  # two real training steps per case

STACK = str(DATA / "qa_stack.yaml")
ANSWERS = ["Paris", None, "Yes", "4"]  # None: exact_match skips, so TRL must see NaN


def text_dataset() -> Any:
    prompts = ["Task capital of France ?", "the capital is", "Yes or No ?", "Task 4 ?"]
    return datasets.Dataset.from_dict({"prompt": prompts, "answer": ANSWERS, "level": [1, 2, 3, 4]})


def chat_dataset() -> Any:
    prompts = [[{"role": "user", "content": text}] for text in ["capital of France ?", "the capital is",
                                                                 "Yes or No ?", "Task 4 ?"]]
    return datasets.Dataset.from_dict({"prompt": prompts, "answer": ANSWERS, "level": [1, 2, 3, 4]})


def recording(trainer_cls: type) -> type:
    """The trainer class, keeping what its own `_calculate_rewards` computed at each step."""

    class Recording(trainer_cls):  # type: ignore[misc, valid-type]
        calls: list[dict[str, Any]]

        def _calculate_rewards(self, inputs: Any, prompts: Any, completions: Any, completion_ids_list: Any) -> Any:
            result = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
            self.calls.append({"inputs": inputs, "prompts": prompts, "completions": completions,
                               "rewards": result.tolist()})
            return result

    Recording.calls = []
    return Recording


def train(trainer_name: str, dataset: Any, reward_funcs: list[Any], tmp_path: Path, **config: Any) -> Any:
    config_cls = getattr(trl, f"{trainer_name}Config")
    args = config_cls(
        output_dir=str(tmp_path), per_device_train_batch_size=4, num_generations=2, max_completion_length=6,
        max_steps=2, logging_steps=1, report_to=[], use_cpu=True, save_strategy="no", beta=0.0,
        learning_rate=1e-3, seed=0, dataloader_num_workers=0, **config)
    trainer_cls = recording(getattr(trl, f"{trainer_name}Trainer"))
    trainer = trainer_cls(model=random_causal_lm(), reward_funcs=reward_funcs, args=args, train_dataset=dataset,
                          processing_class=word_tokenizer())
    trainer.train()
    return trainer


def same(used: float, expected: float | None) -> bool:
    if expected is None:
        return math.isnan(used)
    return not math.isnan(used) and abs(used - expected) < 1e-5


def assert_rewards_match(trainer: Any, columns: list[tuple[Any, dict[str, Any]]]) -> None:
    """Every reward TRL used equals rf.score on the same completion and row: NaN exactly where skipped."""
    assert len(trainer.calls) == 2, "two training steps, two reward calls"
    for call in trainer.calls:
        for column, (reward, params) in enumerate(columns):
            samples = [{"prompt": p, "completion": last_assistant_text(c),
                        "reference": row["answer"]} for p, c, row in zip(call["prompts"], call["completions"],
                                                                        call["inputs"], strict=True)]
            scores = rf.score(reward, samples, **params)
            for row, score in zip(call["rewards"], scores, strict=True):
                assert same(row[column], score.value), (column, row, score)


def logged(trainer: Any) -> dict[str, list[Any]]:
    """Every value TRL logged, per key, over the steps."""
    merged: dict[str, list[Any]] = {}
    for entry in trainer.state.log_history:
        for key, value in entry.items():
            merged.setdefault(key, []).append(value)
    return merged


@pytest.mark.parametrize(("trainer_name", "dataset", "asynchronous"), [
    ("GRPO", text_dataset, False),
    ("GRPO", chat_dataset, True),
    ("RLOO", chat_dataset, False),
    ("RLOO", text_dataset, True),
], ids=["grpo-text-sync", "grpo-chat-async", "rloo-chat-sync", "rloo-text-async"])
def test_trainer_uses_the_scores_rf_gives(trainer_name: str, dataset: Callable[[], Any], asynchronous: bool,
                                          tmp_path: Path) -> None:
    stack = to_trl(STACK, asynchronous=asynchronous)
    exact = to_trl("exact_match", asynchronous=asynchronous)
    trainer = train(trainer_name, dataset(), [stack, exact], tmp_path)

    assert_rewards_match(trainer, [(STACK, {}), ("exact_match", {})])
    exact_column = [row[1] for call in trainer.calls for row in call["rewards"]]
    answers = [row["answer"] for call in trainer.calls for row in call["inputs"]]
    assert any(a is None for a in answers), "the batches held rows without an answer"
    assert all(math.isnan(v) for v, a in zip(exact_column, answers, strict=True) if a is None), \
        "a skipped sample reached TRL as NaN, not 0"

    logs = logged(trainer)
    assert "rewards/qa_stack/mean" in logs and "rewards/exact_match/mean" in logs  # TRL's own names
    for key in ("rf/qa_stack/skipped_frac", "rf/qa_stack/error_frac", "rf/exact_match/skipped_frac",
                "rf/qa_stack/repetition/mean"):
        assert key in logs, f"{key} missing from TRL's logs: {sorted(logs)}"
    assert max(logs["rf/exact_match/skipped_frac"]) > 0


def test_components_split_for_normalize_then_sum(tmp_path: Path) -> None:
    funcs, weights = to_trl_components(STACK)
    assert [f.__name__ for f in funcs] == ["gated", "repetition"] and weights == [1.0, 0.5]
    trainer = train("GRPO", chat_dataset(), funcs, tmp_path, reward_weights=weights,
                    multi_objective_aggregation="normalize_then_sum")

    gate_stack = {"type": "gate", "name": "gated",
                  "gate": {"reward": "regex_match", "name": "format",
                           "params": {"pattern": r"(?s).*\b(Yes|No|Paris|Lyon)\b.*"}},
                  "then": {"reward": "exact_match", "name": "accuracy"}}
    from rewardforge.core.stack import parse_stack

    assert_rewards_match(trainer, [(parse_stack(gate_stack), {}), ("repetition_penalty", {})])
    logs = logged(trainer)
    assert "rewards/gated/mean" in logs and "rewards/repetition/mean" in logs
    assert "rf/gated/format/mean" in logs, "the gate's own part is logged through log_metric"
