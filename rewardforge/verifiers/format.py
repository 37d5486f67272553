"""Format checks: regex layouts, tag structure, fenced code blocks. Pure functions, no reward policy.

Everything here runs in time linear in the completion (one scan, no backtracking patterns of our own),
so a hostile completion cannot stall a trainer; only a user's own regex can, and `regex_format` runs
that in a killable worker.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

#: End-of-sequence markers that decoders often leave at the end of a completion.
DEFAULT_EOS_TOKENS: tuple[str, ...] = (
    "<|im_end|>", "</s>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "<eos>", "<end_of_turn>", "<|end|>",
)

_FLAG_NAMES: dict[str, re.RegexFlag] = {
    "IGNORECASE": re.IGNORECASE, "I": re.IGNORECASE,
    "DOTALL": re.DOTALL, "S": re.DOTALL,
    "MULTILINE": re.MULTILINE, "M": re.MULTILINE,
    "VERBOSE": re.VERBOSE, "X": re.VERBOSE,
    "ASCII": re.ASCII, "A": re.ASCII,
}


def strip_trailing_eos(text: str, eos_tokens: Sequence[str] = DEFAULT_EOS_TOKENS) -> str:
    """`text` without trailing whitespace and any run of trailing EOS markers (e.g. "<|im_end|>\\n</s>")."""
    text = text.rstrip()
    stripped = True
    while stripped:
        stripped = False
        for token in eos_tokens:
            if token and text.endswith(token):
                text = text[: -len(token)].rstrip()
                stripped = True
    return text


def regex_flags(names: Sequence[str]) -> int:
    """Combine flag names ("DOTALL", "s", "re.IGNORECASE") into `re` flags; unknown names raise."""
    flags = 0
    for name in names:
        key = name.strip().upper().removeprefix("RE.")
        if key not in _FLAG_NAMES:
            raise ValueError(f"unknown regex flag {name!r}; use one of {sorted(set(_FLAG_NAMES))}")
        flags |= _FLAG_NAMES[key]
    return flags


@lru_cache(maxsize=256)
def compile_pattern(pattern: str, flags: int) -> re.Pattern[str]:
    """A compiled pattern (cached); a bad pattern raises ValueError saying where it is wrong."""
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise ValueError(f"invalid regex {pattern!r}: {exc}") from None


def regex_matches(text: str, pattern: re.Pattern[str], *, fullmatch: bool = True) -> re.Match[str] | None:
    """The match of `pattern` over all of `text` (fullmatch) or anywhere in it (search)."""
    return pattern.fullmatch(text) if fullmatch else pattern.search(text)


# --- tags -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TagSpec:
    """One expected section: its opening and closing markers (e.g. "<think>" and "</think>")."""

    name: str
    open: str
    close: str

    @classmethod
    def parse(cls, spec: str | Sequence[str]) -> "TagSpec":
        """"think" -> <think>...</think>; "<think>" likewise; ["<start_working_out>", "<end_working_out>"] as given."""
        if isinstance(spec, str):
            name = spec.strip()
            if name.startswith("<") and name.endswith(">"):
                name = name[1:-1].strip()
            if not name or any(c in name for c in "<>/") or any(c.isspace() for c in name):
                raise ValueError(f"bad tag name {spec!r}: give a bare name like 'think' or an [open, close] pair")
            return cls(name=name, open=f"<{name}>", close=f"</{name}>")
        markers = list(spec)
        if len(markers) != 2 or not all(isinstance(m, str) and m.strip() for m in markers):
            raise ValueError(f"bad tag pair {spec!r}: give exactly two non-empty markers [open, close]")
        opening, closing = markers[0].strip(), markers[1].strip()
        if opening == closing:
            raise ValueError(f"tag pair {spec!r} uses the same marker to open and close")
        return cls(name=opening, open=opening, close=closing)


def parse_tags(specs: Sequence[str | Sequence[str]]) -> tuple[TagSpec, ...]:
    """TagSpecs for the expected sections, in layout order; no marker may be used twice."""
    tags = tuple(TagSpec.parse(spec) for spec in specs)
    if not tags:
        raise ValueError("at least one tag is needed")
    markers = [m for tag in tags for m in (tag.open, tag.close)]
    duplicates = sorted({m for m in markers if markers.count(m) > 1})
    if duplicates:
        raise ValueError(f"markers used by more than one tag: {duplicates}")
    return tags


@dataclass
class TagLayout:
    """What a scan of the tag markers found: counts, order, and whether the strict layout holds."""

    counts: dict[str, int]
    strict: bool
    problems: list[str] = field(default_factory=list)
    sections: dict[str, str] = field(default_factory=dict)


@lru_cache(maxsize=64)
def _marker_regex(markers: tuple[str, ...]) -> re.Pattern[str]:
    # Longest first, so a marker that is a prefix of another never shadows it.
    return re.compile("|".join(re.escape(m) for m in sorted(markers, key=len, reverse=True)))


def check_tags(text: str, tags: Sequence[TagSpec], *, allow_empty: bool = False) -> TagLayout:
    """Scan `text` once for every marker and judge the layout.

    Strict layout: optional whitespace, then each section in order as open, content, close, with only
    whitespace between sections and after the last; every marker exactly once; no empty section
    unless `allow_empty`.
    """
    markers = tuple(m for tag in tags for m in (tag.open, tag.close))
    counts = dict.fromkeys(markers, 0)
    events = []
    for match in _marker_regex(markers).finditer(text):
        counts[match.group()] += 1
        events.append(match)

    problems = [f"{m} missing" for m in markers if counts[m] == 0]
    problems += [f"{m} appears {counts[m]} times" for m in markers if counts[m] > 1]
    sections: dict[str, str] = {}
    if not problems:
        order = [e.group() for e in events]
        if order != list(markers):
            problems.append(f"markers out of order: {' '.join(order)}")
        else:
            position = 0
            for tag_index, tag in enumerate(tags):
                opening, closing = events[2 * tag_index], events[2 * tag_index + 1]
                if text[position : opening.start()].strip():
                    where = "before" if tag_index == 0 else "between sections before"
                    problems.append(f"text {where} {tag.open}")
                content = text[opening.end() : closing.start()]
                if not content.strip() and not allow_empty:
                    problems.append(f"empty {tag.open} section")
                sections[tag.name] = content.strip()
                position = closing.end()
            if text[position:].strip():
                problems.append(f"text after {tags[-1].close}")
    return TagLayout(counts=counts, strict=not problems, problems=problems, sections=sections)


def tag_partial_credit(layout: TagLayout, *, penalty: float = 1.0) -> float:
    """Each marker seen exactly once earns 1/n; each missing or repeated marker costs `penalty`/n."""
    n = len(layout.counts)
    good = sum(1 for c in layout.counts.values() if c == 1)
    return (good - penalty * (n - good)) / n


# --- fenced code blocks ---------------------------------------------------------------------------

#: Info-string spellings that name the same language.
LANGUAGE_ALIASES: dict[str, str] = {
    "py": "python", "python3": "python", "py3": "python",
    "js": "javascript", "node": "javascript", "jsx": "javascript",
    "ts": "typescript", "tsx": "typescript",
    "c++": "cpp", "cc": "cpp", "cxx": "cpp", "hpp": "cpp",
    "sh": "bash", "shell": "bash", "zsh": "bash", "console": "bash",
    "rs": "rust", "golang": "go", "kt": "kotlin", "rb": "ruby", "cs": "csharp", "c#": "csharp",
    "yml": "yaml", "postgresql": "sql", "mysql": "sql", "tex": "latex",
}


def canonical_language(name: str) -> str:
    key = name.strip().lower()
    return LANGUAGE_ALIASES.get(key, key)


@dataclass(frozen=True)
class CodeBlock:
    language: str  # canonical, "" when the fence names none
    code: str
    closed: bool


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*([^\n`]*)$")


def find_code_blocks(text: str) -> list[CodeBlock]:
    """Fenced blocks (``` or ~~~, CommonMark rules: a closing fence uses the same character and is at
    least as long); a block still open at the end of the text is returned with closed=False."""
    blocks: list[CodeBlock] = []
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None or (opening.group(1)[0] == "`" and "`" in opening.group(2)):
            index += 1
            continue
        fence = opening.group(1)
        info = opening.group(2).strip()
        language = canonical_language(info.split()[0]) if info else ""
        body: list[str] = []
        index += 1
        closed = False
        while index < len(lines):
            closing = _FENCE.match(lines[index])
            if closing and closing.group(1)[0] == fence[0] and len(closing.group(1)) >= len(fence) \
                    and not closing.group(2).strip():
                closed = True
                index += 1
                break
            body.append(lines[index])
            index += 1
        blocks.append(CodeBlock(language=language, code="\n".join(body), closed=closed))
    return blocks
