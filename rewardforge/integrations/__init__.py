"""Trainer adapters: any rewardforge reward in TRL, verl, OpenRLHF, Prime Intellect's verifiers and slime.

| trainer | entry point | skipped / error become (default) |
| --- | --- | --- |
| TRL | `to_trl(reward)`, `to_trl_components(stack)` | None (NaN, left out of the group baseline) |
| verl | `compute_score` / `acompute_score` (`custom_reward_function`) | 0.0, counted in `rf_skipped` / `rf_error` |
| OpenRLHF | `OpenRLHFReward`, `reward_func`; `rewardforge export openrlhf` | 0.0, counted in `extra_logs` |
| verifiers | `reward_fn(reward)` | 0.0, counted in `trace.metrics` |
| slime | `to_slime(reward)`, `rm`, `group_rm` | 0.0, counted with `--reward-key` |

`on_skipped=` / `on_error=` take None (TRL only), a float, or "raise" in every adapter. No adapter
imports its trainer: each speaks the trainer's calling convention, so importing this package is cheap.

The HTTP reward server (`server`, `rewardforge serve`) and Ray Data scoring (`ray`) are imported
by their module names, not from here: they need the `[server]` and `[ray]` extras.
"""

from rewardforge.integrations.common import BoundReward, FieldMap, ScoreStatusError, StatusPolicy
from rewardforge.integrations.openrlhf import OpenRLHFReward
from rewardforge.integrations.slime import SlimeReward, to_slime
from rewardforge.integrations.trl import AsyncTRLReward, TRLReward, to_trl, to_trl_components
from rewardforge.integrations.verifiers import VerifiersReward, reward_fn
from rewardforge.integrations.verl import acompute_score, compute_score

__all__ = [
    "AsyncTRLReward",
    "BoundReward",
    "FieldMap",
    "OpenRLHFReward",
    "ScoreStatusError",
    "SlimeReward",
    "StatusPolicy",
    "TRLReward",
    "VerifiersReward",
    "acompute_score",
    "compute_score",
    "reward_fn",
    "to_slime",
    "to_trl",
    "to_trl_components",
]
