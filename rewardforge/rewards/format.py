"""Format rewards: does the completion have the layout the prompt asked for?

Thin wrappers over `rewardforge.verifiers.format`. Bad params (an invalid regex, an unknown flag, a
malformed tag) are rejected when the reward is configured, not at the first training step.
"""

import re
from typing import Annotated, Literal

from pydantic import AfterValidator

from rewardforge.core.types import Score, reward
from rewardforge.verifiers.format import (
    DEFAULT_EOS_TOKENS,
    canonical_language,
    check_tags,
    compile_pattern,
    find_code_blocks,
    parse_tags,
    regex_flags,
    regex_matches,
    strip_trailing_eos,
    tag_partial_credit,
)


def _valid_flags(flags: list[str]) -> list[str]:
    regex_flags(flags)
    return flags


def _valid_tags(tags: list[str | list[str]]) -> list[str | list[str]]:
    parse_tags(tags)
    return tags


def _valid_pattern(pattern: str) -> str:
    # Flags are validated separately; VERBOSE is the one flag that changes what compiles.
    try:
        compile_pattern(pattern, 0)
    except ValueError:
        compile_pattern(pattern, re.VERBOSE)
    return pattern


Pattern = Annotated[str, AfterValidator(_valid_pattern)]
Flags = Annotated[list[str], AfterValidator(_valid_flags)]
Tags = Annotated[list[str | list[str]], AfterValidator(_valid_tags)]

R1_LAYOUT = r"\s*<think>.*?</think>\s*<answer>.*?</answer>"


@reward
def regex_format(
    completion: str,
    *,
    pattern: Pattern = R1_LAYOUT,
    mode: Literal["fullmatch", "search"] = "fullmatch",
    flags: Flags = ["DOTALL"],  # noqa: B006 - pydantic copies defaults per instance
    eos_tokens: list[str] = list(DEFAULT_EOS_TOKENS),  # noqa: B006
) -> Score:
    """1.0 when `pattern` matches the completion, else 0.0.

    Trailing whitespace and trailing EOS markers (`eos_tokens`; [] to keep them) are removed first, so
    "...</answer><|im_end|>\\n" still full-matches. `flags` are `re` flag names; DOTALL is on by default
    because a layout pattern's `.*` is meant to span lines. Runs in a killable worker when the engine
    has a timeout: a user's own pattern can backtrack catastrophically.

    Args:
        pattern: the layout regex; the default is the R1 <think>...</think><answer>...</answer> layout.
        mode: `fullmatch`: the whole completion must match; `search`: anywhere in it.
        flags: `re` flag names, e.g. [DOTALL, IGNORECASE].
        eos_tokens: end-of-turn markers stripped from the end before matching; [] keeps them.
    """
    compiled = compile_pattern(pattern, regex_flags(flags))
    text = strip_trailing_eos(completion, eos_tokens)
    match = regex_matches(text, compiled, fullmatch=mode == "fullmatch")
    info = {"span": list(match.span())} if match else {}
    return Score.of(1.0 if match else 0.0, info=info)


@reward(isolation="inline")
def tag_format(
    completion: str,
    *,
    tags: Tags = ["think", "answer"],  # noqa: B006
    mode: Literal["strict", "partial"] = "strict",
    template_opened: bool = False,
    allow_empty: bool = False,
    penalty: float = 1.0,
    eos_tokens: list[str] = list(DEFAULT_EOS_TOKENS),  # noqa: B006
) -> Score:
    """Tag structure of a reasoning completion.

    - `tags`: sections in layout order; "think" means <think>...</think>, a pair such as
      ["<start_working_out>", "<end_working_out>"] gives the markers literally.
    - strict: 1.0 when the whole completion is exactly the sections in order (whitespace between
      them, nothing else around them, no empty section unless `allow_empty`), else 0.0.
    - partial: every marker (opening and closing separately) seen exactly once earns 1/n of the
      credit; a missing or repeated one costs `penalty`/n. Range [-penalty, 1].
    - `template_opened`: the chat template already emitted the first tag's opening marker (e.g.
      Qwen3 / DeepSeek-R1 end the prompt with "<think>\\n"), so the completion starts inside it; the
      marker is prepended before checking, and a completion that repeats it has a duplicate.
    `info` lists the marker counts and every problem found, for debugging a policy's format.

    Args:
        tags: sections in layout order: a tag name (think) or a pair of literal markers.
        mode: `strict`: 1.0 only for exactly the sections in order; `partial`: 1/n per marker seen once.
        template_opened: the chat template already emitted the first opening marker.
        allow_empty: accept an empty section (strict mode).
        penalty: what a missing or repeated marker costs in partial mode, divided by the marker count.
        eos_tokens: end-of-turn markers stripped from the end before checking; [] keeps them.
    """
    specs = parse_tags(tags)
    text = strip_trailing_eos(completion, eos_tokens)
    if template_opened:
        text = specs[0].open + text
    layout = check_tags(text, specs, allow_empty=allow_empty)
    value = (1.0 if layout.strict else 0.0) if mode == "strict" else tag_partial_credit(layout, penalty=penalty)
    return Score.of(value, info={"counts": layout.counts, "problems": layout.problems})


@reward(isolation="inline")
def code_block_format(
    completion: str,
    *,
    language: str | None = "python",
    require_closed: bool = True,
    allow_empty: bool = False,
) -> Score:
    """1.0 when the completion has a fenced code block in `language`, else 0.0.

    The language is the first word of the fence's info string, with common aliases folded (py,
    python3 -> python; js -> javascript; c++ -> cpp; sh -> bash). `language=None` accepts any block,
    including one with no language. A block cut off by the length limit (no closing fence) does not
    count unless `require_closed=False`; an empty block counts only with `allow_empty=True`.

    Args:
        language: the fence language wanted (aliases folded); null accepts any block.
        require_closed: a block with no closing fence does not count.
        allow_empty: an empty block counts.
    """
    wanted = canonical_language(language) if language else None
    blocks = find_code_blocks(completion)
    found = [
        block for block in blocks
        if (wanted is None or block.language == wanted)
        and (block.closed or not require_closed)
        and (block.code.strip() or allow_empty)
    ]
    info = {"languages": [b.language for b in blocks], "unclosed": sum(not b.closed for b in blocks)}
    return Score.of(1.0 if found else 0.0, info=info)
