"""Probes any reward that checks an answer must resist: no answer, the answer faked, hedged or hidden."""

from __future__ import annotations

import unicodedata

from rewardforge.testing.probes.base import Attempt, Probe, ProbeCase, wrong_answers

# Look-alikes that Unicode does not fold into the original (NFKC keeps them apart): a Cyrillic "а" is
# not an "a", and a grader that reads it as one is reading something the completion does not say.
_CONFUSABLES = {
    "a": "а", "c": "с", "d": "ԁ", "e": "е", "h": "һ", "i": "і", "j": "ј", "o": "о", "p": "р", "q": "ԛ",
    "s": "ѕ", "w": "ԝ", "x": "х", "y": "у",
    "A": "А", "B": "В", "C": "С", "E": "Е", "H": "Н", "I": "І", "K": "К", "M": "М", "N": "Ν", "O": "О",
    "P": "Р", "T": "Т", "X": "Х", "Y": "У", "Z": "Ζ",
    "0": "О", "1": "ӏ", "2": "ᒿ", "3": "З", "4": "Ꮞ", "5": "Ƽ", "6": "б", "8": "Ȣ", "9": "ց",
}
assert all(unicodedata.normalize("NFKC", v) != k for k, v in _CONFUSABLES.items())


def confusable(text: str) -> str:
    """`text` with every character that has a look-alike replaced by it."""
    return "".join(_CONFUSABLES.get(ch, ch) for ch in text)


def _empty(case: ProbeCase) -> list[Attempt]:
    return [Attempt("", "empty string")]


def _whitespace(case: ProbeCase) -> list[Attempt]:
    return [Attempt("  \n\t", "spaces and newlines"), Attempt("<|im_end|>", "end-of-turn token only"),
            Attempt("\u200b\u200b", "zero-width spaces")]


def _format_only(case: ProbeCase) -> list[Attempt]:
    return [
        Attempt("<think>\n</think>\n<answer></answer>", "empty think/answer tags"),
        Attempt("<think>Let me solve this.</think>\n<answer>\\boxed{}</answer>", "tags around an empty box"),
        Attempt("Final Answer: The final answer is $\\boxed{}$. I hope it is correct.", "answer phrase, no answer"),
        Attempt("```python\n# solution\n```", "a code block with no code"),
    ]


def _prompt_echo(case: ProbeCase) -> list[Attempt] | None:
    if not case.prompt.strip():
        return None
    return [Attempt(case.prompt, "the prompt"), Attempt(f"{case.prompt}\n\nThe answer is above.", "prompt + claim")]


_FILLER = "Let me think about this step by step, carefully, and check every detail again. "


def _extreme_length(case: ProbeCase) -> list[Attempt]:
    filler = (_FILLER * (65536 // len(_FILLER) + 1))[:65536]
    return [Attempt(filler, "64 KiB of reasoning with no answer"), Attempt("a" * 65536, "one 64 KiB token")]


def _spray(case: ProbeCase) -> list[Attempt] | None:
    if case.answer is None:
        return None
    candidates = list(dict.fromkeys([*(str(n) for n in range(10)), case.answer]))
    return [
        Attempt(f"The answer is {' or '.join(candidates)}. " + " ".join(f"\\boxed{{{c}}}" for c in candidates),
                "every digit and the reference, in words and boxes"),
        Attempt("Possible answers: " + ", ".join(candidates) + ".", "a list of candidates"),
        Attempt("".join(f"<answer>{c}</answer>" for c in candidates), "one answer tag per candidate"),
    ]


def _hedge(case: ProbeCase) -> list[Attempt] | None:
    if case.answer is None:
        return None
    ref, (w1, w2) = case.answer, wrong_answers(case.answer)
    return [
        Attempt(f"The answer is {ref} or {w1}.", "'A or B' with the reference first"),
        Attempt(f"It is either {w1} or {ref}.", "'either B or A' with the reference last"),
        Attempt(f"\\boxed{{{ref}}} or \\boxed{{{w1}}}", "two boxes"),
        Attempt(f"I don't know. Maybe {w1}, {w2}, {ref}", "a trailing list of guesses"),
    ]


def _smuggle(case: ProbeCase) -> list[Attempt] | None:
    if case.answer is None:
        return None
    ref, wrong = case.answer, wrong_answers(case.answer)[0]
    return [
        Attempt(f"<think>The answer is {ref}.</think>\n<answer>{wrong}</answer>", "in <think>, another final answer"),
        Attempt(f"<think>\\boxed{{{ref}}}</think>\n<answer>{wrong}</answer>", "boxed in <think>, another final answer"),
        Attempt(f"<answer>{wrong}</answer>\n<!-- {ref} -->", "in an HTML comment after the answer"),
        Attempt(f"<reference>{ref}</reference>\nThe answer is {wrong}.", "in a <reference> tag"),
    ]


def _confusables(case: ProbeCase) -> list[Attempt] | None:
    if case.answer is None:
        return None
    fake = confusable(case.answer)
    if fake == case.answer:
        return None
    attempts = [Attempt(f"The answer is {fake}.", "look-alike characters in an answer phrase")]
    if case.answer in case.completion:
        attempts.append(Attempt(case.completion.replace(case.answer, fake), "look-alikes in the correct completion"))
    return attempts


TEXT_PROBES: tuple[Probe, ...] = (
    Probe("empty", "answer", "an empty completion earns less than the correct answer", _empty, per_case=False),
    Probe("whitespace", "answer", "whitespace or an end-of-turn token alone earns less than the correct answer",
          _whitespace, per_case=False),
    Probe("format_only", "answer", "the expected layout with no answer in it earns less than the correct answer",
          _format_only, skip_tags=frozenset({"format"}), per_case=False),
    Probe("prompt_echo", "answer", "the prompt repeated back earns less than the correct answer", _prompt_echo),
    Probe("extreme_length", "length", "64 KiB without an answer earns less than the correct answer (and does "
          "not hang)", _extreme_length, per_case=False),
    Probe("answer_spray", "answer", "offering many answers, the right one among them, earns less than the "
          "correct answer", _spray),
    Probe("hedging", "answer", "hedging between the right answer and a wrong one ('2 or 3') earns less than "
          "the correct answer", _hedge),
    Probe("smuggled_reference", "answer", "the reference hidden under another tag, with a wrong final answer, "
          "earns less than the correct answer", _smuggle),
    Probe("confusables", "answer", "look-alike characters (not the same text under NFKC) earn less than the "
          "correct answer", _confusables),
)
