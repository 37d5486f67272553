"""Language consistency: the share of a completion written in the target language.

DeepSeek-R1 added this reward because RL policies drift into mixing languages mid-thought. The text
is cut into runs of one writing system, then into sentence chunks:
- fast path: a chunk in a script only one language uses (Hangul, kana, Thai, Greek, ...) or in a
  script the target does not use at all (Han when the target is English) is decided without a model;
- otherwise lingua (`lingua-language-detector`, models shipped in the wheel, no download) decides
  among the candidate languages, loaded lazily once per process.
Math, code, LaTeX commands, markup and URLs are removed first: `\\frac{x}{y}` is not English.
"""

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import Field

from rewardforge.core.types import Score, message_text, reward

Accuracy: TypeAlias = Literal["high", "low"]

# Letters of each script (with its combining marks), as regex character-class bodies.
_SCRIPT_CLASSES: dict[str, str] = {
    "latin": "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0300-\u036f\u1e00-\u1eff",
    "cyrillic": "\u0400-\u052f",
    "greek": "\u0370-\u03ff\u1f00-\u1fff",
    "armenian": "\u0530-\u058f",
    "hebrew": "\u0590-\u05ff",
    "arabic": "\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff",
    "devanagari": "\u0900-\u097f",
    "bengali": "\u0980-\u09ff",
    "gurmukhi": "\u0a00-\u0a7f",
    "gujarati": "\u0a80-\u0aff",
    "tamil": "\u0b80-\u0bff",
    "telugu": "\u0c00-\u0c7f",
    "thai": "\u0e00-\u0e7f",
    "georgian": "\u10a0-\u10ff",
    "hangul": "\u1100-\u11ff\u3130-\u318f\uac00-\ud7af",
    "kana": "\u3040-\u30ff\u31f0-\u31ff",
    "han": "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff",
}
_RUNS = re.compile("|".join(f"(?P<{name}>[{chars}]+)" for name, chars in _SCRIPT_CLASSES.items()))
#: Scripts written without spaces: every character counts as a word.
_CHARACTER_SCRIPTS = frozenset({"han", "kana", "thai"})
#: Scripts that only one (supported) language uses.
_UNIQUE_SCRIPT_LANGUAGE: dict[str, str] = {
    "greek": "el", "armenian": "hy", "hebrew": "he", "bengali": "bn", "gurmukhi": "pa", "gujarati": "gu",
    "tamil": "ta", "telugu": "te", "thai": "th", "georgian": "ka", "hangul": "ko", "kana": "ja",
}
_SHARED_SCRIPT_LANGUAGES: dict[str, frozenset[str]] = {
    "cyrillic": frozenset({"ru", "uk", "bg", "sr", "mk", "be", "kk", "mn"}),
    "arabic": frozenset({"ar", "fa", "ur"}),
    "devanagari": frozenset({"hi", "mr"}),
}
#: Candidates lingua chooses among by default: widely used languages of the shared scripts.
DEFAULT_CANDIDATES: tuple[str, ...] = (
    "en", "fr", "de", "es", "pt", "it", "nl", "pl", "tr", "vi", "id", "sv", "cs", "ro",
    "ru", "uk", "bg", "ar", "fa", "ur", "hi", "mr",
)

# Blocks end a sentence; inline pieces (math, commands, tags) are words of the sentence around them.
_BLOCKS = re.compile(r"```.*?(?:```|\Z)|\$\$.*?\$\$|\\\[.*?\\\]", re.DOTALL)
_INLINE = re.compile(
    r"`[^`\n]*`|\$[^$\n]*\$|\\\(.*?\\\)"     # inline code and math
    r"|\\[A-Za-z]+\*?|[{}^_]"                # LaTeX commands and their braces
    r"|<[^<>\n]{1,40}>"                      # tags: <think>, <|im_end|>
    r"|https?://\S+",
    re.DOTALL,
)
_SENTENCE_END = re.compile(r"[.!?;:\n。！？；：]")


def script_of_language(code: str) -> str:
    """The script a language is written in (lingua's languages; Latin unless listed otherwise)."""
    if code == "zh":
        return "han"
    for script, language in _UNIQUE_SCRIPT_LANGUAGE.items():
        if language == code:
            return script
    for script, languages in _SHARED_SCRIPT_LANGUAGES.items():
        if code in languages:
            return script
    return "latin"


@lru_cache(maxsize=1)
def _lingua_codes() -> frozenset[str]:
    from lingua import Language

    return frozenset(language.iso_code_639_1.name.lower() for language in Language.all())


def normalize_language(name: str) -> str:
    """An ISO 639-1 code from "en", "EN", "en-US", "zh_CN" or a name like "English"; unknown ones raise."""
    code = re.split(r"[-_]", name.strip())[0].lower()
    if code in _lingua_codes():
        return code
    from lingua import Language

    try:
        return str(Language.from_str(name.strip()).iso_code_639_1.name.lower())
    except ValueError:
        raise ValueError(f"unknown language {name!r}: use an ISO 639-1 code such as 'en' or 'zh'") from None


@lru_cache(maxsize=8)
def _detector(codes: frozenset[str], accuracy: Accuracy) -> Any:
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in sorted(codes)]
    builder = LanguageDetectorBuilder.from_languages(*languages)
    if accuracy == "low":
        builder = builder.with_low_accuracy_mode()
    return builder.build()


#: A chunk counts as the target when the model finds the target at least this fraction as likely as its
#: top guess: short sentences ("Let me compute and so") are often a near-tie between related languages.
AMBIGUITY = 0.8


def _detect(text: str, codes: frozenset[str], target: str | None, accuracy: Accuracy) -> str:
    confidences = _detector(codes, accuracy).compute_language_confidence_values(text)
    if not confidences or confidences[0].value <= 0.0:
        return "unknown"
    top = confidences[0]
    if target is not None:
        for candidate in confidences:
            if candidate.language.iso_code_639_1.name.lower() == target:
                if candidate.value >= AMBIGUITY * top.value:
                    return target
                break
    return str(top.language.iso_code_639_1.name.lower())


@dataclass(frozen=True)
class Chunk:
    script: str
    text: str
    words: int


def _word_count(script: str, run: str) -> int:
    if script in _CHARACTER_SCRIPTS:
        return len(run)
    return 1 if len(run) > 1 else 0  # single letters are mostly variable names: too weak to count


def chunks(text: str, *, min_words: int = 5) -> list[Chunk]:
    """Sentence-sized pieces of one script each. A sentence shorter than `min_words` merges with the
    next one of the same script (or, at the end of a run of that script, with the previous one), so
    lingua always sees enough words to be reliable."""
    text = _INLINE.sub(" ", _BLOCKS.sub("\n", text))
    pieces: list[tuple[str, int, int, int]] = []  # script, start, end, words
    run_start = 0  # index in `pieces` where the current run of one script began
    for match in _RUNS.finditer(text):
        script = match.lastgroup or ""
        words = _word_count(script, match.group())
        if pieces and pieces[-1][0] == script:
            _, start, end, count = pieces[-1]
            boundary = _SENTENCE_END.search(text, end, match.start()) is not None
            if not boundary or count < min_words:
                pieces[-1] = (script, start, match.end(), count + words)
                continue
        elif pieces:
            _merge_short_tail(pieces, run_start, min_words)
            run_start = len(pieces)
        pieces.append((script, match.start(), match.end(), words))
    if pieces:
        _merge_short_tail(pieces, run_start, min_words)
    return [Chunk(script, text[start:end], count) for script, start, end, count in pieces if count]


def _merge_short_tail(pieces: list[tuple[str, int, int, int]], run_start: int, min_words: int) -> None:
    if len(pieces) - run_start >= 2 and pieces[-1][3] < min_words:
        script, _, end, count = pieces.pop()
        previous = pieces[-1]
        pieces[-1] = (script, previous[1], end, previous[3] + count)


def _han_language(text: str) -> str:
    """Han characters are Japanese in text where kana make up a tenth of the CJK characters, else Chinese."""
    kana = sum(len(r) for r in re.findall(f"[{_SCRIPT_CLASSES['kana']}]+", text))
    han = sum(len(r) for r in re.findall(f"[{_SCRIPT_CLASSES['han']}]+", text))
    return "ja" if kana and kana >= 0.1 * (kana + han) else "zh"


def language_shares(
    text: str, *, target: str | None, candidates: Sequence[str], min_words: int = 5, accuracy: Accuracy = "low"
) -> Counter[str]:
    """Words per language. With `target`, chunks in scripts the target cannot use are labelled by
    script ("script:latin") without running the model; labels are ISO codes or "unknown"."""
    target_script = script_of_language(target) if target else None
    han = _han_language(text)
    shares: Counter[str] = Counter()
    codes = frozenset(candidates) | ({target} if target else set())
    for chunk in chunks(text, min_words=min_words):
        if chunk.script == "han":
            label = han
        elif chunk.script in _UNIQUE_SCRIPT_LANGUAGE:
            label = _UNIQUE_SCRIPT_LANGUAGE[chunk.script]
        elif target_script is not None and chunk.script != target_script:
            label = f"script:{chunk.script}"
        else:
            label = _detect(chunk.text, codes, target, accuracy)
        shares[label] += chunk.words
    return shares


@reward(isolation="inline")
def language_consistency(
    completion: str,
    prompt: Any,
    metadata: dict[str, Any],
    *,
    language: str | None = None,
    candidates: list[str] = list(DEFAULT_CANDIDATES),  # noqa: B006 - pydantic copies defaults per instance
    min_words: Annotated[int, Field(ge=1)] = 5,
    accuracy: Accuracy = "low",
) -> Score:
    """Share of the completion's words in the target language, in [0, 1].

    The target is `language` (ISO 639-1, e.g. "en", "zh"), else `metadata["language"]`, else the
    dominant language of the prompt (the R1 recipe: answer in the language you were asked in).
    Words: space-separated words of two letters or more; each Han, kana or Thai character is a word.
    `candidates` are the languages lingua may answer for chunks in a script the target shares with
    others (the target is always added). `accuracy="low"` (default) uses lingua's trigram models: ~5 ms
    for a 4k-character completion, ~1 s to load once per process. `"high"` adds its 1- to 5-gram
    models: surer on very short sentences, but ~4x slower per call and ~10 s to load.
    Skipped when there is no target or no words to judge (a completion of only math or code).

    Args:
        language: the target language (ISO 639-1); default: metadata.language, else the prompt's language.
        candidates: languages lingua may answer for text in a script the target shares with others.
        min_words: a completion with fewer words is skipped.
        accuracy: `low`: lingua's fast trigram models; `high`: surer on short text, slower.
    """
    candidate_codes = [normalize_language(c) for c in candidates]
    target_name = language or metadata.get("language")
    if target_name is None:
        prompt_shares = language_shares(message_text(prompt), target=None, candidates=candidate_codes,
                                        accuracy=accuracy)
        prompt_shares.pop("unknown", None)
        if not prompt_shares:
            return Score.skipped("no target language: set `language`, metadata['language'], or give a prompt")
        target = prompt_shares.most_common(1)[0][0]
    else:
        target = normalize_language(str(target_name))
    shares = language_shares(completion, target=target, candidates=candidate_codes, min_words=min_words,
                             accuracy=accuracy)
    total = sum(shares.values())
    if not total:
        return Score.skipped("no natural-language words to judge (only math, code or markup)")
    return Score.of(shares[target] / total, info={"target": target, "words": dict(shares)})
