from __future__ import annotations

import time

import pytest

from rewardforge.verifiers.math.extract import (
    DEFAULT_RULES,
    boxed_answers,
    clean_answer,
    extract_answer,
    split_alternatives,
)


@pytest.mark.parametrize(
    ("text", "answer", "rule"),
    [
        (r"so $\boxed{\frac{1}{2}}$.", r"\frac{1}{2}", "boxed"),
        (r"\boxed{\left\{1, \{2\}\right\}} then", r"\left\{1, \{2\}\right\}", "boxed"),
        (r"first \boxed{3} then \fbox{4}", "4", "boxed"),
        (r"\boxed 7 is it", "7", "boxed"),
        ("<think>2+2</think><answer> 4 </answer>", "4", "answer_tag"),
        ("Thus the answer is 3.5. Done.", "3.5", "answer_is"),
        ("So the final answer is **73**.", "73", "answer_is"),
        ("The final answer is: $x=2$", "x=2", "answer_is"),
        ("Natalia sold 48/2 = 24 clips.\n#### 72", "72", "gsm8k"),
        ("Final Answer: The final answer is $12$. I hope it is correct.", "12", "answer_is"),
        ("we get 12 apples and 15 pears", "15", "last_number"),
        ("costs -3,500.25 dollars", "-3,500.25", "last_number"),
    ],
)
def test_each_rule_extracts_the_final_answer(text: str, answer: str, rule: str) -> None:
    found = extract_answer(text)
    assert found is not None
    assert (found.text, found.rule) == (answer, rule)
    assert text[found.start : found.end].find(answer.split()[0][:3]) >= 0 or rule == "answer_tag"


def test_answer_tag_takes_a_box_inside_it() -> None:
    found = extract_answer(r"<answer>so \boxed{5}</answer>", ["answer_tag"])
    assert found is not None and (found.text, found.rule) == ("5", "answer_tag")


def test_minerva_rule_alone_strips_its_boilerplate() -> None:
    text = "Final Answer: The final answer is $3.5$. I hope it is correct."
    found = extract_answer(text, ["minerva"])
    assert found is not None and (found.text, found.rule) == ("3.5", "minerva")
    plain = extract_answer("work...\nAnswer: 3/4", ["minerva"])
    assert plain is not None and plain.text == "3/4"


def test_priority_is_configurable_and_recorded() -> None:
    text = r"The answer is 5. Later: \boxed{6}. #### 7"
    assert extract_answer(text).rule == "boxed"  # type: ignore[union-attr]
    found = extract_answer(text, ["gsm8k", "boxed"])
    assert found is not None and (found.text, found.rule) == ("7", "gsm8k")
    found = extract_answer(text, ["answer_is"])
    assert found is not None and found.text == "5"


def test_no_answer_and_bad_rules() -> None:
    assert extract_answer("no digits here", DEFAULT_RULES) is None
    assert extract_answer("the value is 4", ["boxed", "answer_tag"]) is None
    with pytest.raises(ValueError, match="unknown extraction rule"):
        extract_answer("x", ["boxed", "smart"])
    with pytest.raises(ValueError, match="at least one"):
        extract_answer("x", [])


def test_unclosed_box_is_not_an_answer() -> None:
    found = extract_answer(r"\boxed{5} and then \boxed{6", ["boxed"])
    assert found is not None and found.text == "5"


def test_nested_boxes_count_once() -> None:
    assert [c for _, _, c in boxed_answers(r"\boxed{\boxed{5}}")] == [r"\boxed{5}"]
    found = extract_answer(r"\boxed{\boxed{5}}")
    assert found is not None and not found.conflicting


def test_answer_spam_and_alternatives_are_conflicts() -> None:
    spam = extract_answer(r"\boxed{1} \boxed{2} \boxed{3}")
    assert spam is not None and spam.conflicting and spam.candidates == ("1", "2", "3") and spam.text == "3"
    repeated = extract_answer(r"\boxed{5} so again \boxed{ 5 }")
    assert repeated is not None and not repeated.conflicting
    either = extract_answer(r"\boxed{x=2 \text{ or } x=3}")
    assert either is not None and either.conflicting and either.candidates == ("x=2", "x=3")
    # "the answer is" also appears mid-reasoning, so only the last statement counts there
    prose = extract_answer("the answer is not obvious. ... The answer is 4.")
    assert prose is not None and prose.text == "4" and not prose.conflicting


def test_split_alternatives_and_cleaning() -> None:
    assert split_alternatives("2 or 3") == ["2", "3"]
    assert split_alternatives(r"x \lor y") == ["x", "y"]
    assert split_alternatives("7") == ["7"]
    assert clean_answer(" $**42**$. ") == "42"
    assert clean_answer(r"\(x+1\)") == "x+1"
    assert clean_answer("5!") == "5!"  # a factorial, not an exclamation


def test_hostile_texts_extract_in_linear_time() -> None:
    huge = "lorem ipsum 1234 " * 62_000  # ~1 MB
    nested = r"\boxed" + "{" * 10_000 + "1" + "}" * 10_000
    many_boxes = r"\boxed{" * 50_000
    start = time.perf_counter()
    big = extract_answer(huge)
    deep = extract_answer(nested)
    unclosed = extract_answer(many_boxes, ["boxed"])
    elapsed = time.perf_counter() - start
    assert big is not None and big.text == "1234" and big.rule == "last_number"
    assert deep is not None and deep.rule == "boxed" and len(deep.text) == 19_999
    assert unclosed is None
    assert elapsed < 2.0


def test_full_width_digits_are_found_by_last_number() -> None:
    found = extract_answer("答案是 １２")
    assert found is not None and found.text == "１２"
