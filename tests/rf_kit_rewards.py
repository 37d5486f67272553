"""Rewards for the test-kit tests (tests/testing/); module-level so worker processes can import them."""

from __future__ import annotations

import re
import threading

from rewardforge import Score, reward
from rewardforge.sandbox import ExecRequest, Limits, SandboxBackend, get_backend
from rewardforge.sandbox.base import ExecResult


@reward(cases=[
    {"name": "all", "completion": "Paris is the capital of France.", "reference": ["paris", "france"],
     "expected": 1.0},
    {"name": "half", "completion": "Paris is lovely in spring.", "reference": ["paris", "france"], "expected": 0.5},
    {"name": "none", "completion": "No idea, sorry.", "reference": ["paris", "france"]},
    {"order": "all > half > none"},
    {"completion": "anything", "reference": [], "status": "skipped"},
])
def keywords(completion: str, reference: list[str]) -> float | Score:
    """The share of the reference keywords the completion mentions as words."""
    if not reference:
        return Score.skipped("no keywords")
    words = set(re.findall(r"\w+", completion.casefold()))
    return sum(k in words for k in reference) / len(reference)


@reward(isolation="inline")
def answer_in_text(completion: str, reference: str, *, lenient: bool = False) -> float:
    """Exact answer; with `lenient`, any completion that contains the answer (so a spray passes)."""
    if lenient:
        return float(str(reference) in completion)
    return float(completion.strip() == str(reference))


@reward(isolation="inline")
def no_digits(completion: str) -> float:
    """Raises on a digit: a reward with a bug for the property tests to find."""
    if any(ch.isdigit() for ch in completion):
        raise ValueError("digits are not handled")
    return 1.0


_backend: SandboxBackend | None = None
_lock = threading.Lock()


def _sandbox() -> SandboxBackend:
    global _backend
    with _lock:
        if _backend is None:
            _backend = get_backend("local")
        return _backend


@reward(isolation="inline")
def exit_code_reward(completion: str, reference: dict[str, str]) -> float:
    """A naive code reward: the program and the HumanEval check in one file, 1.0 when it exits 0.

    It runs in the real sandbox (the probes' programs kill parents and patch builtins), but its
    harness is what many first attempts look like: exit code 0 is a pass, and the check sees
    whatever the program defined.
    """
    code = re.sub(r"^```\w*\n|```\s*$", "", completion.strip(), flags=re.MULTILINE)
    program = f"{code}\n\n{reference['test']}\n\ncheck({reference['entry_point']})\n"
    result: ExecResult = _sandbox().run(ExecRequest(files={"main.py": program}, argv=["python3", "main.py"],
                                                    limits=Limits(wall_s=5, memory_mb=256)))
    return float(result.status == "ok" and result.exit_code == 0)
