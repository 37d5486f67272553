"""What every adapter shares: the status policy, Samples from trainer arguments, the trainer objects
that must never enter a Sample, picklability into a spawned process, and an async form that does
not block its caller's loop."""

from __future__ import annotations

import asyncio
import logging
import math
import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest
from rf_integration_support import DATA, call
from rf_test_support import worst_loop_stall

import rewardforge as rf
from rewardforge.integrations import (
    OpenRLHFReward,
    ScoreStatusError,
    StatusPolicy,
    compute_score,
    reward_fn,
    to_slime,
    to_trl,
    to_trl_components,
)
from rewardforge.integrations.common import FieldMap, last_assistant_text, make_sample

STACK = str(DATA / "qa_stack.yaml")
OK, SKIPPED, ERROR = rf.Score.of(0.5), rf.Score.skipped("no gold"), rf.Score.error("judge down")


@pytest.mark.parametrize(("on_skipped", "on_error", "expected"), [
    (None, None, [0.5, None, None]),          # TRL's default: NaN in the trainer
    (0.0, 0.0, [0.5, 0.0, 0.0]),              # verl, OpenRLHF, slime, verifiers default
    (-1.0, 0, [0.5, -1.0, 0.0]),              # ints are floats
], ids=["none", "zero", "mixed"])
def test_policy_values(on_skipped: Any, on_error: Any, expected: list[float | None]) -> None:
    policy = StatusPolicy.make(on_skipped, on_error)
    assert policy.values([OK, SKIPPED, ERROR], reward_name="r") == expected


@pytest.mark.parametrize(("on_skipped", "on_error", "status"), [
    ("raise", 0.0, "skipped"), (0.0, "raise", "error"),
], ids=["skipped", "error"])
def test_policy_raise_names_the_status_and_reason(on_skipped: Any, on_error: Any, status: str) -> None:
    with pytest.raises(ScoreStatusError, match=f"1 of 3 samples {status}"):
        StatusPolicy.make(on_skipped, on_error).values([OK, SKIPPED, ERROR], reward_name="r")


@pytest.mark.parametrize(("value", "allow_none", "message"), [
    ("zero", True, "on_skipped must be None, a finite float or 'raise'"),
    (float("nan"), True, "finite"),
    (True, True, "finite float"),
    (None, False, "NaN reward, which verl does not accept"),
], ids=["word", "nan", "bool", "none-where-nan-is-refused"])
def test_policy_refuses_bad_values(value: Any, allow_none: bool, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StatusPolicy.make(value, 0.0, allow_none=allow_none, trainer="verl")


def test_adapters_refuse_none_where_the_trainer_cannot_take_nan() -> None:
    for build in (lambda: OpenRLHFReward("exact_match", on_skipped=None),
                  lambda: to_slime("exact_match", on_error=None),
                  lambda: reward_fn("exact_match", on_skipped=None)):
        with pytest.raises(ValueError, match="does not accept"):
            build()
    with pytest.raises(ValueError, match="NaN"):
        compute_score("d", "x", "x", reward="exact_match", on_skipped=None)


def test_field_map_is_checked() -> None:
    assert FieldMap.make("solution") == FieldMap(reference="solution")
    assert FieldMap.make(field_map={"reference": "gold", "metadata": ["level"]}).metadata == ("level",)
    with pytest.raises(ValueError, match="reference, metadata or group_id"):
        FieldMap.make(field_map={"answer": "x"})
    with pytest.raises(ValueError, match="list of column names"):
        FieldMap.make(field_map={"metadata": "level"})


@pytest.mark.parametrize(("completion", "judged"), [
    ("plain text", "plain text"),
    ([{"role": "assistant", "content": "first"}, {"role": "tool", "content": "tool out"},
      {"role": "assistant", "content": "final"}, {"role": "tool", "content": "late tool"}], "final"),
    ([{"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "image"}, {"type": "text", "text": "b"}]}],
     "ab"),
    ([], ""),
], ids=["text", "tools-after", "content-parts", "empty"])
def test_the_last_assistant_message_is_judged(completion: Any, judged: str) -> None:
    assert last_assistant_text(completion) == judged


def test_trainer_objects_never_enter_a_sample_even_in_a_worker() -> None:
    """TRL passes a lambda logger and its state next to the data: a process-isolated reward under a
    timeout must still work (those objects cannot be pickled to the worker)."""
    fn = to_trl("regex_match", params={"pattern": "P.*"}, timeout=30)
    logged: dict[str, float] = {}
    values = fn(["q", "q"], ["Paris", "Lyon"], completion_ids=[[1, 2], [3]], answer=["Paris", "Paris"],
                level=[1, 2], image=[object(), object()], trainer_state=threading.Lock(),
                log_metric=lambda k, v: logged.__setitem__(k, v), log_extra=lambda k, v: None)
    assert values == [1.0, 0.0]
    assert logged == {"rf/regex_match/skipped_frac": 0.0, "rf/regex_match/error_frac": 0.0}
    [sample] = fn.samples(["q"], ["Paris"], [[1, 2]], {"answer": ["Paris"], "level": [1], "image": [object()],
                                                        "log_metric": [print]})
    assert sample.metadata == {"level": 1, "completion_ids": [1, 2]} and sample.reference == "Paris"


def test_explicit_metadata_columns_must_exist_and_be_data() -> None:
    fields = FieldMap.make(field_map={"metadata": ["level"]})
    assert make_sample("p", "c", {"level": 3, "extra": 1}, fields).metadata == {"level": 3}
    with pytest.raises(KeyError, match="did not pass"):
        make_sample("p", "c", {"extra": 1}, fields)
    with pytest.raises(TypeError, match="non-data objects"):
        make_sample("p", "c", {"level": object()}, fields)


def test_missing_reference_column_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    fn = to_trl("exact_match", reference_column="solutoin", name="typo_check")
    with caplog.at_level(logging.WARNING, logger="rewardforge.integrations"):
        assert fn(["q"], ["a"], solution=["a"]) == [None]
        fn(["q"], ["a"], solution=["a"])
    warnings = [r.message for r in caplog.records if "solutoin" in r.message]
    assert len(warnings) == 1 and "'solution'" in warnings[0]


def test_trl_raise_policy_and_schedule() -> None:
    with pytest.raises(ScoreStatusError, match="exact_match"):
        to_trl("exact_match", on_skipped="raise")(["q"], ["a"], answer=[None])
    funcs, weights = to_trl_components(rf.weighted_sum(
        rf.Component(rf.resolve("exact_match"), rf.StepSchedule(at=10, before=0.0, after=2.0), name="late"),
        rf.Component(rf.resolve("regex_match", {"pattern": "a"}), 0.5, name="fmt")))
    assert weights == [1.0, 0.5]
    early, late = type("S", (), {"global_step": 3})(), type("S", (), {"global_step": 10})()
    assert funcs[0](["q"], ["a"], answer=["a"], trainer_state=early) == [None], "off before step 10: not computed"
    assert funcs[0](["q"], ["a"], answer=["a"], trainer_state=late) == [2.0]
    with pytest.raises(rf.RewardError, match="splits a weighted_sum; 'gate' is a Gate"):
        to_trl_components(rf.gate(rf.resolve("regex_match", {"pattern": "a"}), rf.resolve("exact_match")))


def test_adapters_survive_a_pickle_round_trip_into_a_spawned_process() -> None:
    """TRL's async GRPO and verl's Ray workers ship reward functions to fresh processes."""
    funcs, _ = to_trl_components(STACK)
    jobs: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = [
        (to_trl(STACK), (["q", "q"], ["Paris", "Yes"]), {"answer": ["Paris", None]}),
        (to_trl(STACK, asynchronous=True), (["q"], ["Paris is"]), {"answer": ["Paris"]}),
        (funcs[0], (["q"], ["Paris"]), {"answer": ["Paris"]}),
        (to_trl(rf.resolve("regex_match", {"pattern": "P.*"})), (["q"], ["Paris"]), {}),
        (OpenRLHFReward(STACK).response, (["P: Paris"], ["P:"], ["Paris"]), {}),
        (compute_score, ("geo", "Paris", "Paris"), {"reward": STACK}),
        (to_slime(STACK), (None, {"response": "Paris", "label": "Paris"}), {}),
    ]
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        remote = [pool.submit(call, fn, *a, **kw).result(timeout=180) for fn, a, kw in jobs]
    local = [call(fn, *a, **kw) for fn, a, kw in jobs]
    assert remote == local
    assert remote[0][1] is None and remote[0][0] is not None


def test_async_form_never_blocks_the_callers_loop() -> None:
    """A reward that takes 0.6 s per call runs in workers; the loop keeps ticking meanwhile."""
    fn = to_trl("rf_test_rewards:sleepy", params={"seconds": 0.6}, asynchronous=True, timeout=30)

    worst_gap, values = asyncio.run(worst_loop_stall(fn(["q"] * 2, ["a", "b"])))
    assert values == [1.0, 1.0]
    assert worst_gap < 0.3, f"the loop stalled for {worst_gap:.2f}s"


def test_sync_form_works_from_a_thread_with_a_timeout() -> None:
    """Trainers call rewards from threads; nothing relies on signals in the caller's thread."""
    result: list[Any] = []
    fn = to_trl("rf_test_rewards:sleepy", params={"seconds": 5.0}, timeout=0.5, on_error=-1.0)
    thread = threading.Thread(target=lambda: result.append(fn(["q"], ["a"])))
    started = time.monotonic()
    thread.start()
    thread.join(60)
    assert result == [[-1.0]], "the timeout became an error, scored by the policy"
    assert time.monotonic() - started < 4.5
    assert not math.isnan(result[0][0])
