"""Format verifiers: EOS stripping, regex flags, tag layouts, fenced code blocks."""

import time

import pytest

from rewardforge.verifiers.format import (
    TagSpec,
    check_tags,
    compile_pattern,
    find_code_blocks,
    parse_tags,
    regex_flags,
    strip_trailing_eos,
    tag_partial_credit,
)

THINK_ANSWER = parse_tags(["think", "answer"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("answer<|im_end|>", "answer"),
        ("answer <|im_end|>\n", "answer"),
        ("answer<|im_end|>\n<|endoftext|>  ", "answer"),
        ("answer</s></s>", "answer"),
        ("<|im_end|>answer", "<|im_end|>answer"),  # only trailing markers go
        ("answer\n\n", "answer"),
    ],
)
def test_strip_trailing_eos(text: str, expected: str) -> None:
    assert strip_trailing_eos(text) == expected


def test_strip_trailing_eos_with_custom_tokens_keeps_others() -> None:
    assert strip_trailing_eos("x<|im_end|>", ["<END>"]) == "x<|im_end|>"
    assert strip_trailing_eos("x<END>", ["<END>"]) == "x"


def test_regex_flags_accepts_names_and_rejects_unknown() -> None:
    import re

    assert regex_flags(["DOTALL", "i", "re.MULTILINE"]) == re.DOTALL | re.IGNORECASE | re.MULTILINE
    with pytest.raises(ValueError, match="unknown regex flag 'UNICODEZ'"):
        regex_flags(["UNICODEZ"])


def test_compile_pattern_reports_bad_patterns() -> None:
    with pytest.raises(ValueError, match="invalid regex"):
        compile_pattern("(unclosed", 0)


def test_tag_spec_forms() -> None:
    assert TagSpec.parse("think") == TagSpec("think", "<think>", "</think>")
    assert TagSpec.parse("<answer>") == TagSpec("answer", "<answer>", "</answer>")
    pair = TagSpec.parse(["<start_working_out>", "<end_working_out>"])
    assert (pair.open, pair.close) == ("<start_working_out>", "<end_working_out>")
    for bad in ["", "a b", "</x>", ["<x>"], ["<x>", "<x>"]]:
        with pytest.raises(ValueError):
            TagSpec.parse(bad)
    with pytest.raises(ValueError, match="more than one tag"):
        parse_tags(["think", "think"])


def test_strict_layout_accepts_the_exact_layout() -> None:
    layout = check_tags("\n<think>\nstep 1\n</think>\n\n<answer>42</answer>\n", THINK_ANSWER)
    assert layout.strict, layout.problems
    assert layout.sections == {"think": "step 1", "answer": "42"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("<think>a</think>", "<answer> missing"),
        ("<answer>1</answer><think>a</think>", "out of order"),
        ("<think>a</think> so <answer>1</answer>", "text between sections"),
        ("intro <think>a</think><answer>1</answer>", "text before <think>"),
        ("<think>a</think><answer>1</answer> trailing", "text after </answer>"),
        ("<think>  </think><answer>1</answer>", "empty <think> section"),
        ("<think>a</think><answer>1</answer><answer>2</answer>", "<answer> appears 2 times"),
        ("<think>a<answer>1</think></answer>", "out of order"),
    ],
)
def test_strict_layout_names_each_problem(text: str, problem: str) -> None:
    layout = check_tags(text, THINK_ANSWER)
    assert not layout.strict
    assert any(problem in p for p in layout.problems), layout.problems


def test_allow_empty_section() -> None:
    assert check_tags("<think></think><answer>1</answer>", THINK_ANSWER, allow_empty=True).strict


def test_partial_credit_shares() -> None:
    full = check_tags("<think>a</think><answer>1</answer>", THINK_ANSWER)
    assert tag_partial_credit(full) == 1.0
    half = check_tags("<think>a</think>", THINK_ANSWER)  # 2 right, 2 missing
    assert tag_partial_credit(half) == 0.0
    spam = check_tags("<think>a</think>" * 3 + "<answer>1</answer>", THINK_ANSWER)  # 2 right, 2 repeated
    assert tag_partial_credit(spam) == 0.0
    assert tag_partial_credit(spam, penalty=0.5) == pytest.approx((2 - 1) / 4)
    assert tag_partial_credit(check_tags("nothing", THINK_ANSWER)) == -1.0


def test_tag_scan_is_linear_on_hostile_input() -> None:
    text = "<think>" * 100_000 + "</think" * 100_000
    start = time.process_time()  # CPU time: a quadratic scan takes minutes, and other load does not count
    layout = check_tags(text, THINK_ANSWER)
    assert time.process_time() - start < 1.0
    assert layout.counts["<think>"] == 100_000
    assert not layout.strict


def test_code_blocks_languages_and_aliases() -> None:
    text = "intro\n```py\nprint(1)\n```\nmid\n~~~ C++ {.numberLines}\nint x;\n~~~\n```\nplain\n```"
    blocks = find_code_blocks(text)
    assert [(b.language, b.code, b.closed) for b in blocks] == [
        ("python", "print(1)", True), ("cpp", "int x;", True), ("", "plain", True),
    ]


def test_code_block_closing_fence_rules() -> None:
    # A longer opening fence is closed only by a fence at least as long, of the same character.
    text = "````python\n```\nnot a close\n~~~~\n````"
    (block,) = find_code_blocks(text)
    assert block.closed and block.code == "```\nnot a close\n~~~~"
    (unclosed,) = find_code_blocks("```python\nprint(1)\n")
    assert not unclosed.closed and unclosed.language == "python"
    assert find_code_blocks("inline ```python``` is not a fence") == []
