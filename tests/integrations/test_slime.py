"""Contract test of the slime adapter (slime needs GPUs, so its own code cannot run here).

What is mirrored from slime's source (THUDM/slime, read at the commit fetched for this test):
- `slime.rollout.rm_hub.async_rm`: `rm = load_function(args.custom_rm_path)`, then
  `await rm(args, sample, **kwargs)`; `batched_async_rm` with `--group-rm`: `await rm(args, samples)`;
- `slime.utils.misc.load_function`: `module, _, attr = path.rpartition(".")`, import, getattr;
- `slime.utils.types.Sample`: `prompt` (str or messages), `response`, `label`, `metadata`,
  `group_index`, `reward: float | dict`; `get_reward_value(args)` reads `reward[args.reward_key]`
  when `--reward-key` is set;
- `remote_rm` posts `{"prompt", "response", "label"}`.
"""

from __future__ import annotations

import asyncio
import importlib
from argparse import Namespace
from dataclasses import dataclass, field
from typing import Any

import pytest
from rf_integration_support import DATA

import rewardforge as rf
from rewardforge.integrations import ScoreStatusError, to_slime
from rewardforge.integrations.slime import to_sample

STACK = str(DATA / "qa_stack.yaml")


@dataclass
class SlimeSample:
    """The fields of slime's Sample that a reward model reads."""

    prompt: str | list[dict[str, str]] = ""
    response: str = ""
    label: str | None = None
    metadata: dict = field(default_factory=dict)
    group_index: int | None = None
    reward: float | dict[str, Any] | None = None

    def get_reward_value(self, args: Namespace) -> Any:
        return self.reward if not args.reward_key else self.reward[args.reward_key]


def load_function(path: str) -> Any:
    module_path, _, attr = path.rpartition(".")
    return getattr(importlib.import_module(module_path), attr)


def args(**extra: Any) -> Namespace:
    options = {"custom_rm_path": "rewardforge.integrations.slime.rm", "rm_type": None, "reward_key": None,
               "group_rm": False, **extra}
    return Namespace(**options)


SAMPLES = [SlimeSample(prompt="Capital?", response="Paris", label="Paris", group_index=0),
           SlimeSample(prompt=[{"role": "user", "content": "Capital?"}], response="Yes", label=None, group_index=0,
                       metadata={"level": 2, "callback": object()}),
           SlimeSample(prompt="Capital?", response="4 5 4 5 4", label="4", group_index=1)]


def expected(sample: SlimeSample) -> rf.Score:
    [score] = rf.score(STACK, [{"completion": sample.response, "reference": sample.label}])
    return score


def test_per_sample_rm_by_path_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REWARDFORGE_REWARD", STACK)
    monkeypatch.setattr("rewardforge.integrations.slime._from_env", {})
    rm = load_function(args().custom_rm_path)
    for sample in SAMPLES:
        value = asyncio.run(rm(args(), sample))
        score = expected(sample)
        assert value == pytest.approx(score.value if score.ok else 0.0)


def test_group_rm_returns_one_reward_per_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REWARDFORGE_REWARD", STACK)
    monkeypatch.setattr("rewardforge.integrations.slime._from_env", {})
    group_rm = load_function("rewardforge.integrations.slime.group_rm")
    values = asyncio.run(group_rm(args(group_rm=True), SAMPLES))
    assert values == pytest.approx([s.value if s.ok else 0.0 for s in map(expected, SAMPLES)])


def test_reward_key_carries_statuses_with_every_sample() -> None:
    rm = to_slime(STACK, on_skipped=-1.0)
    slime_args = args(reward_key="score")
    for sample in SAMPLES:
        sample.reward = asyncio.run(rm(slime_args, sample))
        score = expected(sample)
        assert sample.get_reward_value(slime_args) == pytest.approx(score.value if score.ok else -1.0)
        assert sample.reward["rf_skipped"] == float(score.status == "skipped")
        assert set(sample.reward) == {"score", "gated", "gated.format", "gated.accuracy", "repetition",
                                      "rf_ok", "rf_skipped", "rf_error"}


def test_remote_payload_and_sample_convert_alike() -> None:
    sample = SAMPLES[1]
    from_object = to_sample(sample)
    from_payload = to_sample({"prompt": sample.prompt, "response": sample.response, "label": sample.label})
    assert from_object.completion == from_payload.completion == "Yes"
    assert from_object.metadata == {"level": 2}, "a non-data object in slime's metadata stays out of the Sample"
    assert from_object.group_id == 0


def test_raise_policy_raises_in_the_rollout() -> None:
    rm = to_slime("exact_match", on_skipped="raise")
    with pytest.raises(ScoreStatusError, match="skipped"):
        asyncio.run(rm(args(), SlimeSample(response="Paris", label=None)))
