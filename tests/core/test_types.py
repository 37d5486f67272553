from __future__ import annotations

import math
import pickle

import pytest
from pydantic import ValidationError

from rewardforge import FunctionReward, RewardError, Sample, Score, reward
from rewardforge.core.types import ensure_samples, message_text


def test_score_value_matches_status() -> None:
    assert Score.of(0.5).ok
    with pytest.raises(ValidationError, match="needs a value"):
        Score(status="ok")
    with pytest.raises(ValidationError, match="carries no value"):
        Score(value=0.0, status="error")
    with pytest.raises(ValidationError, match="finite"):
        Score(value=math.nan)


def test_chat_completion_text_is_last_message() -> None:
    sample = Sample(completion=[{"role": "assistant", "content": "hi"}, {"role": "assistant", "content": "42"}])
    assert sample.completion_text == "42"
    assert message_text([{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image"}]}]) == "a"


def test_per_sample_reward_with_params() -> None:
    @reward
    def scaled(completion: str, reference: str, *, scale: float = 1.0) -> float:
        return scale * (completion == reference)

    assert isinstance(scaled, FunctionReward)
    samples = [Sample(completion="a", reference="a"), Sample(completion="b", reference="a")]
    assert [s.value for s in scaled.with_params(scale=2).score(samples)] == [2.0, 0.0]
    assert scaled.fields == frozenset({"completion", "reference"})


def test_invalid_param_error_names_the_param() -> None:
    @reward
    def scaled(completion: str, *, scale: float = 1.0) -> float:
        return scale

    with pytest.raises(RewardError, match="invalid param 'scale'"):
        scaled.with_params(scale="lots")
    with pytest.raises(RewardError, match="invalid param 'unknown'"):
        scaled.with_params(unknown=1)


def test_required_param_must_be_given_before_scoring() -> None:
    @reward
    def needs(completion: str, *, pattern: str) -> float:
        return 1.0

    with pytest.raises(RewardError, match=r"needs param\(s\) \['pattern'\]"):
        needs.score([Sample(completion="x")])
    assert needs.with_params(pattern="x").score([Sample(completion="x")])[0].value == 1.0


def test_exception_becomes_error_with_its_text_never_zero() -> None:
    @reward
    def broken(completion: str) -> float:
        raise KeyError("judge exploded")

    [verdict] = broken.score([Sample(completion="x")])
    assert verdict.status == "error" and verdict.value is None
    assert "KeyError" in (verdict.reason or "") and "judge exploded" in (verdict.reason or "")


@pytest.mark.parametrize("returned", [math.nan, math.inf, None, "1.0"])
def test_odd_return_values_become_errors(returned: object) -> None:
    @reward
    def odd(completion: str) -> object:
        return returned

    [verdict] = odd.score([Sample(completion="x")])
    assert verdict.status == "error"


def test_unknown_positional_input_is_rejected_at_decoration() -> None:
    with pytest.raises(RewardError, match="not inputs"):

        @reward
        def bad(completion: str, threshold: float) -> float:
            return 0.0


def test_batched_reward_sees_the_whole_batch_and_count_is_checked() -> None:
    @reward(batched=True)
    def relative(samples: list[Sample]) -> list[float]:
        longest = max(len(s.completion_text) for s in samples)
        return [len(s.completion_text) / longest for s in samples]

    values = [s.value for s in relative.score([Sample(completion="ab"), Sample(completion="abcd")])]
    assert values == [0.5, 1.0]

    @reward(batched=True)
    def short(samples: list[Sample]) -> list[float]:
        return [1.0]

    verdicts = short.score([Sample(completion="a"), Sample(completion="b")])
    assert all(v.status == "error" and "1 results for 2 samples" in (v.reason or "") for v in verdicts)


def test_function_reward_pickles_by_reference_with_params() -> None:
    from rf_test_rewards import sleepy

    configured = sleepy.with_params(seconds=0.25)
    restored = pickle.loads(pickle.dumps(configured))
    assert restored.params == {"seconds": 0.25} and restored.fn is sleepy.fn


def test_ensure_samples_names_index_and_field() -> None:
    with pytest.raises(RewardError, match="sample 1: field 'completion'"):
        ensure_samples([{"completion": "ok"}, {"prompt": "no completion"}])
