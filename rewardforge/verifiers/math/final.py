"""The final-answer policy: which part of a completion may hold the answer it commits to.

What the completion commits to at its END counts:
- Text after an end-of-turn token (`<|im_end|>`, `<|eot_id|>`, `</s>`, ...) or a line that opens a
  new "User:" / "Human:" turn is not the answer: a model that runs on into a conversation it makes
  up has stopped answering. NUL characters are dropped.
- With `think="skip"` (the default), the reasoning inside `<think>...</think>` (also `<thinking>`,
  `<reasoning>`, and Sky-T1 / OpenThoughts' `<|begin_of_thought|>...<|end_of_thought|>`) is working, not
  a commitment: only what follows the last closing tag is read. A completion cut off inside `<think>`
  has no committed answer at all, and never scores from a number found in its working.
  `think="include"` reads the whole completion.
- Among the answers found (boxes, tags, answer phrases), the one that ends last wins, so a box of an
  intermediate quantity, an answer given and then corrected ("Wait, that double counts ... \\boxed{12}")
  and a box followed by "So the answer is 13" are all judged on the later answer.
- An answer explicitly withdrawn after it is given ("that is wrong", "I made a mistake", "that
  double counts") with no new answer after it is retracted: there is no committed answer.
- Several answers in the final statement itself (`\\boxed{1} \\boxed{2}`, "2 or 3", "maybe 10, 20,
  72") stay several: the reward decides what a spray is worth (`on_conflict`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, TypeAlias

ThinkPolicy: TypeAlias = Literal["skip", "include"]

_END_OF_TURN = re.compile(
    r"<\|im_end\|>|<\|im_start\|>|<\|eot_id\|>|<\|endoftext\|>|<\|end\|>|<end_of_turn>|<\|end_of_text\|>"
    r"|<｜end▁of▁sentence｜>|</s>|\n[ \t]*(?:User|Human|USER|HUMAN):[ \t]"
)
_THINK_OPEN = re.compile(r"<(?:think|thinking|reasoning)>|<\|begin_of_thought\|>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</(?:think|thinking|reasoning)>|<\|end_of_thought\|>", re.IGNORECASE)
RETRACTION_WINDOW = 600
_RETRACTION = re.compile(
    r"\b(?:that|this|it|my (?:answer|calculation|result)|the (?:above|previous) (?:answer|result|solution))"
    r"(?:'s| is| was| seems| must be| looks)[ \t]+(?:wrong|incorrect|not (?:right|correct))"
    r"|(?<!not )(?<!n't )(?<!no )\bdouble[- ]count(?:s|ed|ing)?\b(?! (?:nothing|no))"
    r"|\bI made (?:a|an) (?:mistake|error)|\bscratch that\b|\bthat can'?t be right\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Region:
    """The part of a completion that may hold its committed answer: `text` starts at `offset`."""

    text: str
    offset: int
    problem: str | None = None


def answer_region(completion: str, think: ThinkPolicy = "skip") -> Region:
    """Cut a completion down to where its committed answer may be (see the module docstring)."""
    if "\x00" in completion:
        completion = completion.replace("\x00", "")
    end_of_turn = _END_OF_TURN.search(completion)
    if end_of_turn is not None:
        completion = completion[: end_of_turn.start()]
    if think == "include":
        return Region(completion, 0)
    closes = list(_THINK_CLOSE.finditer(completion))
    if closes:
        last = closes[-1]
        return Region(completion[last.end() :], last.end())
    opened = _THINK_OPEN.search(completion)
    if opened is not None:
        return Region("", len(completion), "cut off inside <think>: no committed answer")
    return Region(completion, 0)


def retracted(region: str, answer_end: int) -> bool:
    """True when the text after an answer withdraws it ("that is wrong", "double counts")."""
    return _RETRACTION.search(region, answer_end, answer_end + RETRACTION_WINDOW) is not None
