"""A deliberately hackable reward, to see the probes catch it.

It means to pay for a boxed final answer, and its golden cases pass: a boxed answer earns 1.0, an
unboxed one 0.0. But it never looks inside the box, so an empty box, a box of every digit or a box
hidden in the reasoning all earn full credit, and a policy would find that within a few steps.

    rewardforge test examples/hackable_reward.py:boxed_answer --probes    # exits 1, listing the hacks
"""

from rewardforge import reward


@reward(cases=[
    {"completion": "2 + 2 = 4, so the answer is $\\boxed{4}$.", "reference": "4", "expected": 1.0},
    {"completion": "2 + 2 = 4, so the answer is 4.", "reference": "4", "expected": 0.0, "note": "not boxed"},
])
def boxed_answer(completion: str, reference: str) -> float:
    """1.0 for a boxed final answer. The bug: it checks that there is a box, not what is in it."""
    return 1.0 if "\\boxed{" in completion else 0.0
