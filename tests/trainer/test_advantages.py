"""Every advantage estimator against values worked out by hand.

Three groups of G=4: g1 = [1, 0, 0, 1] (mean 1/2, unbiased std sqrt(1/3)); g2 = [.5, .5, .5, .5] (zero
std: no signal); g3 = [2, dropped, 0, 1] (kept [2, 0, 1]: mean 1, unbiased std 1). eps = 0 unless said.
"""

from __future__ import annotations

import math

import pytest
import torch

from rewardforge.trainer.advantages import ESTIMATORS, compute_advantages

NAN = math.nan
REWARDS = torch.tensor([1, 0, 0, 1, 0.5, 0.5, 0.5, 0.5, 2, NAN, 0, 1], dtype=torch.float64)
Z1 = 0.5 / math.sqrt(1 / 3)  # g1's z-score magnitude: 0.8660...
# batch std: 11 kept rewards [1,0,0,1, .5,.5,.5,.5, 2,0,1], mean 7/11; sum of squared deviations
# 3*(4/11)^2 + 3*(7/11)^2 + 4*(3/22)^2 + (15/11)^2 = 39/11, over 10 -> 39/110.
BATCH_STD = math.sqrt(39 / 110)

EXPECTED = {
    "grpo": [Z1, -Z1, -Z1, Z1, 0, 0, 0, 0, 1, 0, -1, 0],
    "dr_grpo": [0.5, -0.5, -0.5, 0.5, 0, 0, 0, 0, 1, 0, -1, 0],
    # r_i minus the mean of the others: 1 - mean(0, 0, 1), 0 - mean(1, 0, 1); in g3, 2 - mean(0, 1),
    # 0 - mean(2, 1) and 1 - mean(2, 0)
    "rloo": [2 / 3, -2 / 3, -2 / 3, 2 / 3, 0, 0, 0, 0, 1.5, 0, -1.5, 0],
    "batch": [0.5 / BATCH_STD, -0.5 / BATCH_STD, -0.5 / BATCH_STD, 0.5 / BATCH_STD, 0, 0, 0, 0, 1 / BATCH_STD, 0,
              -1 / BATCH_STD, 0],
    "max_only": [Z1, 0, 0, Z1, 0, 0, 0, 0, 1, 0, 0, 0],  # only each group's best: never pushed down
}


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_estimator_matches_hand_values(estimator: str) -> None:
    out = compute_advantages(REWARDS, 4, estimator, eps=0.0)
    torch.testing.assert_close(out.values, torch.tensor(EXPECTED[estimator], dtype=torch.float64), rtol=1e-12,
                               atol=1e-12)
    assert out.zero_std.tolist() == [False, True, False]


def test_rloo_is_reward_minus_leave_one_out_mean() -> None:
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=torch.float64)
    out = compute_advantages(rewards, 4, "rloo")
    loo = [float(rewards[i] - (rewards.sum() - rewards[i]) / 3) for i in range(4)]
    assert out.values.tolist() == pytest.approx(loo, abs=1e-12)


def test_eps_is_added_to_the_std() -> None:
    out = compute_advantages(REWARDS[:4], 4, "grpo", eps=0.1)
    assert float(out.values[0]) == pytest.approx(0.5 / (math.sqrt(1 / 3) + 0.1), abs=1e-12)


def test_dropped_samples_and_tiny_groups_carry_no_signal() -> None:
    rewards = torch.tensor([1.0, NAN, NAN, NAN, NAN, NAN, NAN, NAN], dtype=torch.float64)
    out = compute_advantages(rewards, 4, "grpo")
    assert out.values.tolist() == [0.0] * 8
    assert out.zero_std.tolist() == [True, True]  # one kept sample, then none


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ValueError, match="estimator"):
        compute_advantages(REWARDS, 4, "ppo")
    with pytest.raises(ValueError, match="groups"):
        compute_advantages(REWARDS, 5, "grpo")
