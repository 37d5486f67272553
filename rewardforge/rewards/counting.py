"""Counting a text in characters or in tokens of a given tokenizer (the reward itself is `length.py`).

Length-shaping rewards (overlong, Kimi, cosine, thinking budget) must count the way the trainer
counts: a 16k-token limit means tokens of the policy's own tokenizer, not characters. A tokenizer is
given by a transformers name or local path (loaded once per process and cached) or as an object.
"""

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeAlias

from rewardforge.core.errors import RewardforgeError

LengthUnit: TypeAlias = Literal["chars", "tokens"]


class TokenizerError(RewardforgeError, ValueError):
    """A tokenizer could not be loaded, or the length unit needs one and none was given."""


@lru_cache(maxsize=8)
def _load_tokenizer(name_or_path: str) -> Any:
    """The tokenizer, or the TokenizerError that loading it raised: a failure is cached too, so a
    bad name costs one hub timeout per process, not one per sample."""
    # A hub id is "name" or "namespace/name"; anything else is a path and must exist.
    looks_local = name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1 or "\\" in name_or_path
    if looks_local and not Path(name_or_path).expanduser().exists():
        return TokenizerError(f"cannot load tokenizer {name_or_path!r}: no such directory")
    try:
        return _from_pretrained(name_or_path)
    except ImportError:  # pragma: no cover - depends on the install
        return TokenizerError("counting tokens needs transformers: pip install 'rewardforge[trainer]'")
    except Exception as exc:
        return TokenizerError(f"cannot load tokenizer {name_or_path!r}: {type(exc).__name__}: {exc}")


def _from_pretrained(name_or_path: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name_or_path)


def resolve_tokenizer(tokenizer: Any) -> Any:
    """A tokenizer object from a name/path (cached) or the object itself."""
    if tokenizer is None:
        raise TokenizerError("unit='tokens' needs a tokenizer (a transformers name, a local path or an object)")
    if isinstance(tokenizer, str):
        loaded = _load_tokenizer(tokenizer)
        if isinstance(loaded, TokenizerError):
            raise loaded
        return loaded
    if not callable(getattr(tokenizer, "encode", None)):
        raise TokenizerError(f"tokenizer {type(tokenizer).__name__} has no encode() method")
    return tokenizer


def token_ids(text: str, tokenizer: Any) -> list[int]:
    """Token ids of `text`, without the special tokens a tokenizer adds around a sequence (BOS/EOS)."""
    tok = resolve_tokenizer(tokenizer)
    try:
        encoded = tok.encode(text, add_special_tokens=False)
    except TypeError:  # encoders without that keyword (e.g. tiktoken-like objects)
        encoded = tok.encode(text)
    return list(getattr(encoded, "ids", encoded))  # tokenizers.Tokenizer returns an Encoding


def text_length(text: str, unit: LengthUnit = "chars", tokenizer: Any = None) -> int:
    """Length of `text` in `unit`; tokens need `tokenizer`."""
    if unit == "chars":
        return len(text)
    if unit == "tokens":
        return len(token_ids(text, tokenizer))
    raise TokenizerError(f"unknown length unit {unit!r}; use 'chars' or 'tokens'")


def completion_length(
    text: str, metadata: dict[str, Any], *, unit: LengthUnit, tokenizer: Any, length_key: str | None
) -> int:
    """The completion's length, preferring a count the trainer already knows.

    With `length_key`, `metadata[length_key]` holds the length in `unit` or, for tokens, the ids
    themselves (TRL and verl know the generated tokens exactly; re-tokenizing text can differ).
    """
    if length_key is not None and length_key in metadata:
        known = metadata[length_key]
        if isinstance(known, bool) or not isinstance(known, int | list | tuple):
            raise ValueError(f"metadata[{length_key!r}] must be a token count or a list of ids, got {known!r}")
        count = known if isinstance(known, int) else len(known)
        if count < 0:
            raise ValueError(f"metadata[{length_key!r}] is a negative length ({count})")
        return count
    return text_length(text, unit, tokenizer)
