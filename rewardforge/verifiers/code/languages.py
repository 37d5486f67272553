"""What the code verifier needs to know about a language: how its code is fenced, where the source goes,
how it is compiled and run, and which test formats it supports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class LanguageSpec:
    """One language. `mode="python"`: the in-sandbox driver runs the source itself (a fork per test, call
    and assert tests supported); `mode="exec"`: the source is compiled once, then `run_argv` runs per
    stdin/stdout test."""

    name: str
    fence_tags: frozenset[str]
    source_file: str
    mode: Literal["python", "exec"]
    compile_argv: tuple[str, ...] = ()
    run_argv: tuple[str, ...] = ()
    compile_timeout_s: float = 30.0
    compile_memory_mb: int = 2048

    @property
    def supports_calls(self) -> bool:
        """Call-based and assert tests need an in-process harness, which only Python has."""
        return self.mode == "python"


PYTHON = LanguageSpec(
    name="python",
    fence_tags=frozenset({"python", "py", "python3", "py3"}),
    source_file="solution.py",
    mode="python",
)

CPP = LanguageSpec(
    name="cpp",
    fence_tags=frozenset({"cpp", "c++", "cxx", "cc"}),
    source_file="main.cpp",
    mode="exec",
    compile_argv=("/usr/bin/g++", "-std=c++17", "-O2", "-pipe", "-o", "main", "main.cpp"),
    run_argv=("./main",),
)

LANGUAGES: dict[str, LanguageSpec] = {"python": PYTHON, "cpp": CPP}
_ALIASES = {"py": "python", "python3": "python", "c++": "cpp", "cxx": "cpp"}


def get_language(name: str) -> LanguageSpec:
    """The spec for `name` (case-insensitive, common aliases accepted); ValueError names the choices."""
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in LANGUAGES:
        raise ValueError(f"unsupported language {name!r}; choose one of {', '.join(sorted(LANGUAGES))}")
    return LANGUAGES[key]
