"""Two simple built-ins: exact string match and a user regex. Small, but typed and honest about
what they cannot judge (no reference); a broken pattern is refused when the reward is built."""

from __future__ import annotations

import string
from typing import Any, Literal

from rewardforge.core.types import Score, reward
from rewardforge.rewards.format import Pattern
from rewardforge.verifiers.format import compile_pattern, regex_flags

_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_text(text: str, *, case_sensitive: bool, strip_punctuation: bool, collapse_whitespace: bool) -> str:
    if not case_sensitive:
        text = text.casefold()
    if strip_punctuation:
        text = text.translate(_PUNCTUATION)
    if collapse_whitespace:
        text = " ".join(text.split())
    return text


@reward(isolation="inline")
def exact_match(
    completion: str,
    reference: Any,
    *,
    case_sensitive: bool = False,
    strip_punctuation: bool = True,
    collapse_whitespace: bool = True,
) -> float | Score:
    """1.0 when the completion equals the reference after optional normalisation, else 0.0.

    A list reference accepts any of its items.

    Args:
        case_sensitive: compare with case (default: case-folded).
        strip_punctuation: drop ASCII punctuation before comparing.
        collapse_whitespace: treat runs of whitespace as one space and trim the ends.
    """
    if reference is None:
        return Score.skipped("no reference to compare with")
    references = reference if isinstance(reference, list) else [reference]
    options = {"case_sensitive": case_sensitive, "strip_punctuation": strip_punctuation,
               "collapse_whitespace": collapse_whitespace}
    got = normalize_text(completion, **options)
    for candidate in references:
        if got == normalize_text(str(candidate), **options):
            return Score.of(1.0, info={"matched": str(candidate)})
    return 0.0


@reward
def regex_match(
    completion: str,
    *,
    pattern: Pattern,
    mode: Literal["fullmatch", "search"] = "fullmatch",
    flags: list[Literal["IGNORECASE", "MULTILINE", "DOTALL", "VERBOSE"]] | None = None,
) -> float | Score:
    """1.0 when `pattern` matches the completion (the whole of it, trailing whitespace aside, or
    anywhere with mode=search), else 0.0. Runs in a killable worker under a timeout, since a user
    pattern can backtrack for ever.

    Args:
        pattern: the regular expression (Python `re` syntax).
        mode: `fullmatch`: the whole completion, trailing whitespace aside; `search`: anywhere in it.
        flags: `re` flag names: IGNORECASE, MULTILINE, DOTALL, VERBOSE.
    """
    try:  # the pattern was checked when the reward was built; only VERBOSE can change what compiles
        compiled = compile_pattern(pattern, regex_flags(flags or []))
    except ValueError as exc:
        return Score.error(str(exc))
    text = completion.rstrip() if mode == "fullmatch" else completion
    match = compiled.fullmatch(text) if mode == "fullmatch" else compiled.search(text)
    return 1.0 if match else 0.0
