"""Rewards plugged into a verifiers task by file path (`.../vf_rewards.py:correct`), as users do."""

from pathlib import Path

from rewardforge.integrations import reward_fn

correct = reward_fn("exact_match")
shaped = reward_fn(str(Path(__file__).with_name("qa_stack.yaml")))
strict = reward_fn("exact_match", on_skipped="raise")
