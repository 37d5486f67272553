"""Math answer checking, split the way Math-Verify splits it: extraction, then comparison.

- `parse_gold` reads a reference answer in any form (`gold.py`);
- `extract_answer` finds the answer a completion commits to, by a ranked list of rules and a
  final-answer policy (`extract.py`, `rules.py`, `fallback.py`, `final.py`);
- `verify` and `verify_many` compare an answer with a gold through layers from cheapest to dearest
  (`equivalence.py`): canonical strings, numbers, identity testing at random points, structures and
  sets of reals, and sympy in a killable worker.

>>> found = extract_answer("The slope is \\\\( m = -\\\\frac{3}{2} \\\\).")
>>> (found.text, found.rule)
('m = -\\\\frac{3}{2}', 'last_math')
>>> verify("-1.5", found.text).equal
True
"""

from rewardforge.verifiers.math.equivalence import DEFAULT_TIMEOUT, MathSettings, Verdict, verify, verify_many
from rewardforge.verifiers.math.extract import DEFAULT_RULES, Extraction, check_rules, extract_answer
from rewardforge.verifiers.math.gold import Gold, parse_gold

__all__ = [
    "DEFAULT_RULES",
    "DEFAULT_TIMEOUT",
    "Extraction",
    "Gold",
    "MathSettings",
    "Verdict",
    "check_rules",
    "extract_answer",
    "parse_gold",
    "verify",
    "verify_many",
]
