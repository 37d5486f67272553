"""N-gram repetition penalty: catches the degenerate loops RL policies fall into ("wait, wait, wait...")."""

import re
from typing import Annotated, Any, Literal

from pydantic import Field

from rewardforge.core.types import Score, reward
from rewardforge.rewards.counting import token_ids

# A word is a run of letters/digits; each CJK ideograph, kana or Thai character is a word of its own,
# since those scripts do not separate words with spaces.
_CHARACTER_WORDS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f"
_WORD = re.compile(f"[{_CHARACTER_WORDS}]|[^\\W{_CHARACTER_WORDS}]+")


def words(text: str) -> list[str]:
    """Case-folded words; punctuation and whitespace only separate them."""
    return [w.casefold() for w in _WORD.findall(text)]


def repeated_ngram_share(units: list[Any], n: int) -> tuple[float, int]:
    """(share of n-grams that repeat an earlier one, number of n-grams)."""
    total = len(units) - n + 1
    if total <= 0:
        return 0.0, 0
    unique = len(set(zip(*(units[i:] for i in range(n)), strict=False)))
    return 1.0 - unique / total, total


@reward(isolation="inline")
def repetition_penalty(
    completion: str,
    *,
    n: Annotated[int, Field(ge=1)] = 3,
    unit: Literal["words", "tokens"] = "words",
    tokenizer: Any = None,
    max_penalty: float = 1.0,
) -> Score:
    """-`max_penalty` x the share of the completion's n-grams that repeat an earlier n-gram.

    0 for text with no repeated n-gram, approaching -`max_penalty` for a completion stuck in a loop.
    Units are words (case-folded; each CJK character a word) or tokens of `tokenizer`. A completion
    shorter than one n-gram has nothing that could repeat, so its penalty is a true 0, not a skip.

    Args:
        n: the n-gram size.
        unit: `words` or `tokens` (of `tokenizer`).
        tokenizer: a transformers tokenizer name or path, for unit=tokens.
        max_penalty: the penalty of a completion made only of repeats.
    """
    if unit == "tokens":
        units: list[Any] = token_ids(completion, tokenizer)
    else:
        units = words(completion)
    share, total = repeated_ngram_share(units, n)
    return Score.of(-max_penalty * share, info={"ngrams": total, "repeated_share": share})
