"""The public surface: what `import rewardforge` exports, the one exception tree, shipped types."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

import rewardforge as rf
from rewardforge.core.workers import WorkerCrashed, WorkerTimeout
from rewardforge.integrations.common import ScoreStatusError
from rewardforge.records import RecordError
from rewardforge.rewards.counting import TokenizerError
from rewardforge.sandbox.base import SandboxError
from rewardforge.sandbox.image import ImageBuildError
from rewardforge.verifiers.code.cases import TestSpecError
from rewardforge.verifiers.judge.parse import VerdictError

# Frozen on purpose: moving a file must not silently drop (or add) an export. Change it knowingly.
PUBLIC = {
    "Aggregate", "BaseReward", "Component", "FunctionReward", "Gate", "LinearSchedule", "Registry", "Reward",
    "RewardContext", "RewardError", "RewardforgeError", "Sample", "SampleError", "Score", "StepSchedule",
    "UsageError", "VerdictCache", "WeightedSum", "__version__", "ascore", "default_registry", "gate", "maximum",
    "minimum", "product", "resolve", "reward", "score", "weighted_sum",
}


def test_all_is_the_frozen_public_surface() -> None:
    assert set(rf.__all__) == PUBLIC
    assert len(rf.__all__) == len(set(rf.__all__))


def test_every_public_name_is_in_all_and_every_name_in_all_exists() -> None:
    defined = {name for name, value in vars(rf).items()
               if not name.startswith("_") and not isinstance(value, types.ModuleType)}
    assert defined == PUBLIC - {"__version__"}
    for name in rf.__all__:
        assert getattr(rf, name) is not None


def test_the_package_ships_its_types() -> None:
    assert (Path(rf.__file__).parent / "py.typed").is_file()


@pytest.mark.parametrize(
    ("error", "builtin"),
    [(rf.RewardError, Exception), (rf.SampleError, ValueError), (rf.UsageError, ValueError),
     (RecordError, ValueError), (SandboxError, RuntimeError), (ImageBuildError, RuntimeError),
     (WorkerTimeout, TimeoutError), (WorkerCrashed, RuntimeError), (TokenizerError, ValueError),
     (TestSpecError, ValueError), (VerdictError, ValueError), (ScoreStatusError, RuntimeError)],
    ids=lambda value: value.__name__,
)
def test_one_exception_tree_that_keeps_the_old_builtin_bases(error: type[Exception], builtin: type) -> None:
    assert issubclass(error, rf.RewardforgeError), "one thing to catch"
    assert issubclass(error, builtin), "except clauses written against older versions still work"
    assert error.__name__ in (rf.core.errors.__doc__ or ""), "the tree in core/errors.py lists it"


def test_a_bad_sample_is_still_a_reward_error_as_before() -> None:
    with pytest.raises(rf.RewardError):
        rf.score("exact_match", [{"prompt": "no completion"}])


def test_a_bad_timeout_and_a_bad_param_are_caught_by_one_root() -> None:
    for call in (lambda: rf.score("exact_match", [{"completion": "a"}], timeout=0),
                 lambda: rf.score("regex_match", [{"completion": "a"}], params={"pattern": 3})):
        with pytest.raises(rf.RewardforgeError):
            call()
    with pytest.raises(ValueError):  # as before the tree existed
        rf.score("exact_match", [{"completion": "a"}], timeout=-1)
