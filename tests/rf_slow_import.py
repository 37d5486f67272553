"""A reward module that is slow to import, like one that pulls in sympy or transformers."""

import time

from rewardforge import reward

time.sleep(1.5)


@reward
def quick_after_import(completion: str) -> float:
    return 1.0
