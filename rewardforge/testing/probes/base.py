"""What a probe is: adversarial completions made from a golden case, and the property a sound reward keeps.

A probe turns a case that earns full credit into completions with no honest work in them. Each
completion (an `Attempt`) is judged by one of two properties, stated by the probe:

- **below the correct answer** (no baseline): it must earn strictly less than the case's own correct
  completion earns, scored in the same batch with the same params;
- **not above its baseline** (`baseline` set): it must earn no more than the baseline completion, a
  do-nothing answer to the same task (e.g. `return None` against a stub that raises).

Probes belong to a family (`answer`, `length`, `judge`, `code`), so that a reward can document a whole
family it rightly lets through (`allow: {answer: "a length penalty does not check answers"}`). A probe
whose completions do not depend on the case (`per_case=False`: empty, whitespace, ...) runs on the
first full-credit case of each distinct params set only.
Plugins add probes through the `rewardforge.probes` entry point (a Probe or a list of Probes).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rewardforge.core.cases import GoldenCase
from rewardforge.core.types import Text, message_text

FAMILIES = ("answer", "length", "judge", "code")


@dataclass(frozen=True)
class Attempt:
    """One probing completion; `variant` says which trick it is (shown in reports)."""

    completion: Text
    variant: str = ""
    baseline: Text | None = None  # when set, the property is "not above this completion's score"


@dataclass(frozen=True)
class ProbeCase:
    """What a probe sees of a golden case: the sample, the correct completion and the reward's tags."""

    case: GoldenCase
    tags: frozenset[str] = frozenset()

    @property
    def completion(self) -> str:
        return message_text(self.case.completion)

    @property
    def prompt(self) -> str:
        return message_text(self.case.prompt)

    @property
    def reference(self) -> Any:
        return self.case.reference

    @property
    def answer(self) -> str | None:
        """The reference as a short one-line answer (a number, a word, a formula), or None."""
        return scalar_answer(self.case.reference)


@dataclass(frozen=True)
class Probe:
    """A named trick, the property a sound reward keeps against it, and how to make its completions."""

    name: str
    family: str
    property: str  # one sentence: what a sound reward does with these completions
    make: Callable[[ProbeCase], Iterable[Attempt | Text] | None]
    skip_tags: frozenset[str] = field(default_factory=frozenset)  # rewards it says nothing about
    per_case: bool = True  # False: the completions ignore the case, so one case per params set is enough

    def attempts(self, probe_case: ProbeCase) -> list[Attempt]:
        """The probe's completions for this case; none when it does not apply (or the reward's tags
        say the probe means nothing for it)."""
        if self.skip_tags & probe_case.tags:
            return []
        made = self.make(probe_case)
        if made is None:
            return []
        return [item if isinstance(item, Attempt) else Attempt(item) for item in made]


def scalar_answer(reference: Any) -> str | None:
    """A reference that is a short single answer, as text; None for tests, rubrics, lists, long text."""
    if isinstance(reference, bool) or reference is None:
        return None
    if isinstance(reference, int | float):
        return _number_text(reference)
    if isinstance(reference, str):
        text = reference.strip()
        if text and len(text) <= 200 and "\n" not in text:
            return text
    return None


def _number_text(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return str(int(value))
    return str(value)


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def wrong_answers(answer: str, count: int = 2) -> list[str]:
    """`count` answers that are surely not `answer`: nearby numbers for a number, else unrelated words."""
    if _NUMBER.fullmatch(answer.replace(",", "")):
        number = float(answer.replace(",", ""))
        return [_number_text(number + step) for step in range(1, count + 1)]
    pool = [w for w in ("42", "17", "banana", "none") if w.casefold() != answer.casefold()]
    return pool[:count]
