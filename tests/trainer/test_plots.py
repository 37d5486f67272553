"""The curves a run draws: what the smoothing does to a spike."""

from __future__ import annotations

import pytest

from rewardforge.trainer.plots import rolling


def test_kl_curve_is_a_rolling_median_so_one_spike_is_no_plateau() -> None:
    kl = [0.1] * 9 + [20.0] + [0.1] * 9 + [None]
    assert max(v for v in rolling(kl, 10, median=True) if v is not None) == pytest.approx(0.1)
    assert max(v for v in rolling(kl, 10) if v is not None) == pytest.approx(2.09)  # the mean it replaces
    assert rolling([None, 1.0, 3.0], 2) == [None, 1.0, 2.0]
