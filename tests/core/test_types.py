from __future__ import annotations

import math
import pickle
import re
import typing
from typing import Literal

import numpy as np
import pytest
from pydantic import ValidationError

import rewardforge as rf
from rewardforge import FunctionReward, RewardError, Sample, Score, reward
from rewardforge.core.registry import params_model_of
from rewardforge.core.samples import to_samples
from rewardforge.core.types import message_text


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
    with pytest.raises(RewardError, match=r"unknown param 'scal' \(did you mean 'scale'\?\); scaled takes scale$"):
        scaled.with_params(scal=1)

    @reward
    def bare(completion: str) -> float:
        return 1.0

    with pytest.raises(RewardError, match="unknown param 'scale'; bare takes no params"):
        bare.with_params(scale=1)


def test_missing_and_misspelt_choice_params_say_so() -> None:
    @reward
    def picky(completion: str, *, pattern: str, flags: list[Literal["IGNORECASE", "DOTALL"]] | None = None) -> float:
        return 1.0

    with pytest.raises(RewardError, match=r"^reward 'picky': missing param 'pattern'$"):
        picky.with_params()
    with pytest.raises(RewardError, match=r"invalid param 'flags\[1\]': 'DOTAL' is not one of .*\(did you mean 'DOTALL'\?\)"):
        picky.with_params(pattern="x", flags=["IGNORECASE", "DOTAL"])


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


def test_to_samples_names_index_and_field() -> None:
    with pytest.raises(RewardError, match="sample 1: no 'completion' column"):
        to_samples([{"completion": "ok"}, {"prompt": "no completion"}])
    with pytest.raises(RewardError, match="sample 0: field 'completion': Input should be a valid string"):
        to_samples([{"completion": 5}])


# -- decisions a new user runs into (issue 16) -------------------------------------------------

@pytest.mark.parametrize(
    ("returned", "value"),
    [(True, 1.0), (False, 0.0), (1, 1.0), (np.float32(0.25), 0.25), (np.bool_(True), 1.0), (np.int64(3), 3.0)],
    ids=["True", "False", "int", "numpy-float32", "numpy-bool", "numpy-int64"],
)
def test_booleans_and_numpy_numbers_are_values(returned: object, value: float) -> None:
    """Decided: `return answer == gold` works; True is 1.0 and False 0.0 (README, Writing a reward)."""

    @reward
    def plain(completion: str) -> object:
        return returned

    [verdict] = plain.score([Sample(completion="x")])
    assert verdict.status == "ok" and verdict.value == value and type(verdict.value) is float


@pytest.mark.parametrize(
    ("returned", "reason"),
    [("1.0", "returned str, expected a number, a bool or a Score"), (None, "returned NoneType"),
     (complex(1, 0), "returned complex"), (math.inf, "non-finite value (inf)")],
    ids=["string", "None", "complex", "infinity"],
)
def test_other_return_values_are_errors_that_say_what_came_back(returned: object, reason: str) -> None:
    @reward
    def odd(completion: str) -> object:
        return returned

    [verdict] = odd.score([Sample(completion="x")])
    assert verdict.status == "error" and reason in (verdict.reason or "")


@pytest.mark.parametrize(
    ("completion", "message"),
    [
        ([{"role": "user", "content": "2+2?"}, {"role": "assistant"}], "the last message (assistant) has no content"),
        ([{"role": "assistant", "content": None, "tool_calls": []}], "the last message (assistant) has no content"),
        ([], "an empty message list has no final message"),
        ([{"role": "assistant", "content": 4}], "the last message's content is int, expected text"),
    ],
    ids=["no-content-key", "content-None", "empty-list", "content-not-text"],
)
def test_a_chat_completion_without_final_text_is_an_input_error_not_a_zero(completion: object, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        Sample(completion=completion)  # type: ignore[arg-type]
    with pytest.raises(RewardError, match=re.escape(f"sample 0: field 'completion': {message}")):
        rf.score("math_equivalence", [{"completion": completion, "reference": "4"}])


def test_an_empty_content_string_is_a_legitimate_empty_answer() -> None:
    [verdict] = rf.score("exact_match", [{"completion": [{"role": "assistant", "content": ""}], "reference": "4"}])
    assert verdict.status == "ok" and verdict.value == 0.0


def test_negative_zero_never_reaches_the_output() -> None:
    assert math.copysign(1.0, Score.of(-0.0).value or 1.0) == 1.0
    score = Score(value=-0.0, components={"penalty": -0.0, "other": None})
    assert str(score.value) == "0.0" and str(score.components["penalty"]) == "0.0"
    assert score.components["other"] is None

    @reward(isolation="inline")
    def no_repeats(completion: str) -> float:
        return -1.0 * 0.0  # what `-max_penalty * share` gives for a clean completion

    stack = rf.weighted_sum((no_repeats, 2.0))
    [verdict] = rf.score(stack, [{"completion": "x"}])
    assert b"-0.0" not in verdict.model_dump_json().encode()


def test_params_for_a_built_reward_object_use_its_with_params_or_say_how() -> None:
    judge_like = rf.resolve("math_equivalence")  # a built object with with_params
    [verdict] = rf.score(judge_like, [{"completion": "\\boxed{5}", "reference": "5"}], params={"correct": 2.0})
    assert verdict.value == 2.0
    stack = rf.weighted_sum("exact_match")
    with pytest.raises(RewardError, match=r"params \['scale'\] cannot be applied to a reward object that is already "
                                          r"built \(WeightedSum has no with_params\)"):
        rf.score(stack, [{"completion": "x"}], params={"scale": 2})


def test_reward_param_descriptions_come_from_the_docstring_args_section() -> None:
    @reward
    def keyword(completion: str, reference: str, *, case_sensitive: bool = False, weight: float = 1.0) -> float:
        """1.0 when the keyword appears.

        Args:
            case_sensitive: compare with case.
            weight: what a hit is worth,
                before any scaling.
        """
        return weight

    fields = keyword.params_model.model_fields
    assert fields["case_sensitive"].description == "compare with case."
    assert fields["weight"].description == "what a hit is worth, before any scaling."


def test_every_built_in_param_is_described() -> None:
    """`rewardforge show` prints these; a new param without a description fails here."""
    registry = rf.default_registry()
    undescribed = []
    for name in registry.names():
        model = params_model_of(registry.target(name))
        assert model is not None, f"{name} declares no params model"
        undescribed += [f"{name}.{param}" for param, info in model.model_fields.items() if not info.description]
    assert not undescribed


@pytest.mark.skipif(not hasattr(typing, "get_overloads"), reason="typing.get_overloads needs Python 3.11")
def test_reward_decorator_is_typed_to_return_a_function_reward() -> None:
    bare, configured = typing.get_overloads(reward)
    assert typing.get_type_hints(bare)["return"] is FunctionReward
    assert "FunctionReward" in str(typing.get_type_hints(configured)["return"])
