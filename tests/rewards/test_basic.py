"""The simple built-ins (exact_match, regex_match): a broken pattern is refused when the reward is
built, as regex_format does, not turned into an error on every sample of a run."""

import pytest

import rewardforge as rf
from rewardforge.core.types import RewardError
from rewardforge.rewards.basic import regex_match


def test_regex_match_rejects_a_broken_pattern_when_built() -> None:
    with pytest.raises(RewardError, match=r"invalid param 'pattern': invalid regex '\(unclosed'"):
        rf.resolve("regex_match", {"pattern": "(unclosed"})
    with pytest.raises(RewardError, match="pattern"):
        regex_match.with_params(pattern="a[")


def test_regex_match_flags_and_modes() -> None:
    samples = [{"completion": "ANSWER: 42\n"}, {"completion": "so answer: 42"}]
    loose = rf.resolve("regex_match", {"pattern": r"answer: \d+", "flags": ["IGNORECASE"]})
    assert [s.value for s in rf.score(loose, samples)] == [1.0, 0.0]
    anywhere = rf.resolve("regex_match", {"pattern": r"answer: \d+", "mode": "search"})
    assert [s.value for s in rf.score(anywhere, samples)] == [0.0, 1.0]
    # VERBOSE changes what compiles: a pattern valid only with it is accepted, and works with it
    verbose = rf.resolve("regex_match", {"pattern": r"answer: \d+ #(", "mode": "search", "flags": ["VERBOSE"]})
    assert [s.value for s in rf.score(verbose, [{"completion": "answer:42"}])] == [1.0]
