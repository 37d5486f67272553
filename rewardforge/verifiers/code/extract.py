"""Find the program in a completion: the last fenced block in the target language, else the last
untagged block, else (when the completion has no fences at all) the whole completion."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from rewardforge.verifiers.code.languages import LanguageSpec

_OPEN = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([^\s`]*)[^\n`]*$")


@dataclass(frozen=True)
class ExtractedCode:
    code: str
    source: Literal["fenced", "whole", "none"]
    reason: str | None = None


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(tag, body) of every fenced block, in order. An unclosed last fence runs to the end (truncation)."""
    blocks: list[tuple[str, str]] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        match = _OPEN.match(lines[index])
        if not match:
            index += 1
            continue
        fence, tag = match.group(1), match.group(2).lower()
        body: list[str] = []
        index += 1
        while index < len(lines):
            stripped = lines[index].strip()
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                break
            body.append(lines[index])
            index += 1
        blocks.append((tag, "\n".join(body) + "\n"))
        index += 1
    return blocks


def extract_code(completion: str, language: LanguageSpec) -> ExtractedCode:
    blocks = fenced_blocks(completion)
    if not blocks:
        code = completion if completion.endswith("\n") else completion + "\n"
        if not completion.strip():
            return ExtractedCode("", "none", "the completion is empty")
        return ExtractedCode(code, "whole")
    for wanted in (language.fence_tags, frozenset({""})):
        for tag, body in reversed(blocks):
            if tag in wanted and body.strip():
                return ExtractedCode(body, "fenced")
    tags = sorted({tag or "untagged" for tag, _ in blocks})
    return ExtractedCode("", "none", f"no non-empty {language.name} code block (found: {', '.join(tags)})")
