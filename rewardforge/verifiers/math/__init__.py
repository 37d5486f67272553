"""Math answer checking, split the way Math-Verify splits it: extraction, then comparison.

`extract_answer` finds the final answer in a completion (`extract.py`); `verify` and `verify_many`
compare it with the gold through layers from cheapest to dearest (`equivalence.py`): normalised
strings, numbers, identity testing at random points, structures, and sympy in a killable worker.
"""

from rewardforge.verifiers.math.equivalence import MathSettings, Verdict, verify, verify_many
from rewardforge.verifiers.math.extract import DEFAULT_RULES, Extraction, extract_answer

__all__ = ["DEFAULT_RULES", "Extraction", "MathSettings", "Verdict", "extract_answer", "verify", "verify_many"]
