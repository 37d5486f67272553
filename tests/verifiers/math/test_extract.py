"""Answer extraction: every rule of the ranked list, the final-answer policy, and linear time on hostile text."""

from __future__ import annotations

import time

import pytest

from rewardforge.verifiers.math.extract import (
    DEFAULT_RULES,
    clean_answer,
    extract_answer,
    join_kind,
    split_alternatives,
)
from rewardforge.verifiers.math.scan import boxes, math_spans

# (id, completion, extracted text, rule)
RULES = [
    # committed answers
    ("boxed", r"so $\boxed{\frac{1}{2}}$.", r"\frac{1}{2}", "boxed"),
    ("boxed-nested-braces", r"\boxed{\left\{1, \{2\}\right\}} then", r"\left\{1, \{2\}\right\}", "boxed"),
    ("fbox-is-a-box", r"first \boxed{3} then, correcting, \fbox{4}", "4", "boxed"),
    ("boxed-without-braces", r"\boxed 7 is it", "7", "boxed"),
    ("answer-tag", "<think>2+2</think><answer> 4 </answer>", "4", "answer_tag"),
    ("answer-tag-left-open-by-a-stop-string", "<answer>\n42", "42", "answer_tag"),
    ("gsm8k", "Natalia sold 48/2 = 24 clips.\n#### 72", "72", "gsm8k"),
    ("json", 'Result: {"answer": 42, "unit": "cm"}', "42", "json"),
    ("the-answer-is", "Thus the answer is 3.5. Done.", "3.5", "answer_is"),
    ("bold-answer", "So the final answer is **73**.", "73", "answer_is"),
    ("answer-colon-equation", "The final answer is: $x=2$", "x=2", "answer_is"),
    ("minerva-boilerplate", "Final Answer: The final answer is $12$. I hope it is correct.", "12", "answer_is"),
    ("markdown-answer-heading", "**Answer:** 4.", "4", "answer_is"),
    ("answer-choice-in-parentheses", "Answer: (C)", "(C)", "answer_is"),
    ("correct-option-bold", r"Since $\frac{1}{8}$ is too small, the correct option is **B**.", "B", "answer_is"),
    ("answer-phrase-sentence", "Final Answer: The volume of $ABCDEFGH$ is 120. I hope it is correct.", "120", "answer_is"),
    ("answer-phrase-prose", "Final Answer: Jane started growing Sphere 3 hours ago.", "3", "answer_is"),
    ("answer-phrase-explanation-cut", "The answer is 12 because 3 times 4 is 12.", "12", "answer_is"),
    ("chinese", "所以答案是 12", "12", "answer_is"),
    ("spanish-decimal-comma", "Por lo tanto, la respuesta es 3,5.", "3,5", "answer_is"),
    ("french", "Donc la réponse est $\\frac{2}{3}$.", "\\frac{2}{3}", "answer_is"),
    ("german", "Die Antwort lautet 17.", "17", "answer_is"),
    # the final statement, when nothing is committed
    ("conclusion-relation", "Solving gives the bound. Therefore, x >= 5.", "x >= 5", "conclusion"),
    ("conclusion-inline-math", r"So the distance is \( 2\sqrt{5} \).", r"2\sqrt{5}", "conclusion"),
    ("last-math-inline", r"We get $\frac13$", r"\frac13", "last_math"),
    ("last-math-whole-assignment", r"Solving, $k = \frac{1}{3}$", r"k = \frac{1}{3}", "last_math"),
    ("last-math-display", "The matrix is\n$$\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}$$", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}",
     "last_math"),
    ("last-math-with-percent", "The share is $28$ %", "28%", "last_math"),
    ("inline-code", "The program prints `42`", "42", "code"),
    ("fenced-block", "Output:\n```text\n42\n```", "42", "code"),
    ("table-last-row", "| item | count |\n|---|---|\n| a | 2 |\n| total | 42 |", "42", "code"),
    ("bare-fraction-whole", r"\frac{10}{9}", r"\frac{10}{9}", "last_number"),
    ("thousands-with-spaces", "It holds 1 000", "1 000", "last_number"),
    ("leading-dot-decimal", "It is .4", ".4", "last_number"),
    ("expression-chain", "The total is 3 + 4 = 7.", "3 + 4 = 7", "last_number"),
    ("money", "She makes 9 * 2 = $18 every day.", "9 * 2 = $18", "last_number"),
    ("words-after-number", "we get 12 apples and 15 pears", "15", "last_number"),
    ("percent-word", "The discount is 28 percent.", "28%", "last_number"),
    ("scale-word", "The population is 2.5 million.", "2.5 million", "last_number"),
    ("scientific", "About 4.5 × 10⁴ cells", "4.5 × 10⁴", "last_number"),
    ("e-notation", "roughly 1.2e5 molecules", "1.2e5", "last_number"),
    ("number-words", "There are twelve apples.", "twelve", "last_number"),
    ("chinese-numerals", "共有十二个苹果", "十二", "last_number"),
    ("pleasantries-passed-over", "The sum is 91. I hope this helps!", "91", "last_number"),
    ("parenthetical-passed-over", "The sum is 91.\n(Rounded to 2 decimal places.)", "91", "last_number"),
    ("bold-and-roots-read-through", "* Area = 8√3 * 2√3 / 2 = **24**", "8√3 * 2√3 / 2 = 24", "last_number"),
    ("python-power-is-not-bold", "so x = 2**3 = 8", "x = 2**3 = 8", "conclusion"),
]


@pytest.mark.parametrize(("completion", "answer", "rule"), [c[1:] for c in RULES], ids=[c[0] for c in RULES])
def test_each_rule_extracts_the_whole_answer(completion: str, answer: str, rule: str) -> None:
    found = extract_answer(completion)
    assert found is not None and found.problem is None, found
    assert (found.text, found.rule) == (answer, rule)


def test_choice_letters_need_a_choice_gold() -> None:
    text = "After checking each option, I pick (B) since it fits."
    assert extract_answer(text) is None
    found = extract_answer(text, choice=True)
    assert found is not None and (found.text, found.rule) == ("B", "choice")


def test_truth_words_need_a_truth_gold_and_come_before_numbers() -> None:
    text = "Step 3) so a point c with f(c) = 0 exists, which is true."
    found = extract_answer(text)
    assert found is not None and (found.text, found.rule) == ("f(c) = 0", "last_number")
    found = extract_answer(text, truth=True)
    assert found is not None and (found.text, found.rule) == ("True", "truth")
    found = extract_answer("No. The series diverges for x = 2.", truth=True)
    assert found is not None and found.text == "No"
    found = extract_answer("It isn't true, since 2 > 1.", truth=True)
    assert found is not None and found.text == "False"


def test_digits_are_never_cut_out_of_words_or_latex() -> None:
    assert extract_answer("AZYUK2A") is None
    found = extract_answer(r"so $\sqrt{30} + \sqrt{50}$ lies between them")
    assert found is not None and found.text == r"\sqrt{30} + \sqrt{50}"


# --- the final-answer policy ---------------------------------------------------------------------

# (id, completion, extracted text, parts, hedged)
POLICY = [
    ("intermediate-box-then-final", r"so $w=\boxed{6}$ and the area is $6 \cdot 18$. Final answer: $\boxed{108}$", "108",
     ("108",), False),
    ("draft-box-in-think", r"<think>maybe \boxed{42}</think><answer>\boxed{21}</answer>", "21", ("21",), False),
    ("retracted-box-replaced", r"So \boxed{24}. Wait, that double counts the corners: \boxed{12}", "12", ("12",), False),
    ("later-answer-phrase-wins", r"This gives \boxed{12}. Hmm, recounting, the answer is 13.", "13", ("13",), False),
    ("later-prose-does-not", r"\boxed{12}. This answer is reasonable because the count is even.", "12", ("12",), False),
    ("same-value-restated", r"\boxed{5}. So again: the answer is 5.", "5", ("5",), False),
    ("box-spray", r"\boxed{1} \boxed{2} \boxed{3}", "1, 2, 3", ("1", "2", "3"), False),
    ("or-between-boxes", r"\boxed{2} or \boxed{3}", "2, 3", ("2", "3"), True),
    ("hedge-in-phrase", "The answer is 2 or 3.", "2 or 3", ("2", "3"), True),
    ("hedge-in-box", r"\boxed{x=2 \text{ or } x=3}", "x=2, x=3", ("x=2", "x=3"), True),
    ("hedged-list-of-numbers", "I don't know. Maybe 10, 20, 72", "10, 20, 72", ("10", "20", "72"), True),
    ("two-boxed-roots", r"The integers are \boxed{-2} and \boxed{1}.", "-2, 1", ("-2", "1"), False),
    ("boxes-with-quad-and", r"$\boxed{k = 45} \quad \text{and} \quad \boxed{n = 2}$", "k = 45, n = 2", ("k = 45", "n = 2"), False),
    ("end-of-turn-cuts", "The answer is 7.<|im_end|>\n<|im_start|>user\nAnd 8?<|im_start|>assistant The answer is 8.", "7",
     ("7",), False),
    ("nul-dropped", "\\boxed{42}\x00", "42", ("42",), False),
    ("thought-markers", "<|begin_of_thought|>maybe \\boxed{3}<|end_of_thought|><|begin_of_solution|>so \\boxed{4}"
     "<|end_of_solution|>", "4", ("4",), False),
    ("answer-tag-spray", "<answer>3</answer><answer>7</answer>", "3, 7", ("3", "7"), False),
    ("answer-tags-with-or", "<answer>3</answer> or <answer>7</answer>", "3, 7", ("3", "7"), True),
    ("guesses-ending-on-an-expression", r"Maybe 42, 17, 4\sqrt{2}", r"42, 17, 4\sqrt{2}", ("42", "17", r"4\sqrt{2}"), True),
    ("verdict-on-an-answer-is-no-answer", "16 * 18 = 288, so our answer is correct.\n\nThe larger one is 18.", "18",
     ("18",), False),
]


@pytest.mark.parametrize(("completion", "text", "parts", "hedged"), [c[1:] for c in POLICY], ids=[c[0] for c in POLICY])
def test_final_answer_policy(completion: str, text: str, parts: tuple[str, ...], hedged: bool) -> None:
    found = extract_answer(completion)
    assert found is not None and found.problem is None, found
    assert (found.text, found.parts, found.hedged) == (text, parts, hedged)


def test_linked_boxes_are_kept_apart_for_single_golds() -> None:
    found = extract_answer(r"$\boxed{(3, 3)} \text{ for part (a) and } \boxed{(1, 1)}$")
    assert found is not None
    assert found.parts == ("(1, 1)",) and found.linked == ("(3, 3)", "(1, 1)")
    assert join_kind(" and the area is ") == ("soft", False)
    assert join_kind(r" \quad \text{and} \quad ") == ("hard", False)
    assert join_kind(" no no no ") == (None, False)


# (id, completion, problem)
NO_ANSWER = [
    ("empty-box", r"so the answer is \boxed{}", "empty final answer"),
    ("empty-tag", "<think>it is 12</think><answer></answer>", "empty final answer"),
    ("truncated-box", r"the value 12 appears, so \boxed{12", "truncated final answer"),
    ("truncated-box-after-earlier-box", r"\boxed{5} and then \boxed{6", "truncated final answer"),
    ("cut-off-in-think", "<think>Let me compute: 6 * 7 = 42, and then", "cut off inside <think>: no committed answer"),
    ("cut-off-in-thought-markers", "<|begin_of_thought|>So the answer is 6. Does 27 divide",
     "cut off inside <think>: no committed answer"),
    ("retracted", r"So \boxed{24}. Wait, that double counts the corners.", "the final answer was retracted"),
    ("retracted-by-admission", r"\boxed{24}. Hmm, I made a mistake in the second step.", "the final answer was retracted"),
]


@pytest.mark.parametrize(("completion", "problem"), [c[1:] for c in NO_ANSWER], ids=[c[0] for c in NO_ANSWER])
def test_empty_truncated_and_retracted_answers_never_fall_back(completion: str, problem: str) -> None:
    found = extract_answer(completion)
    assert found is not None and found.problem == problem
    assert found.parts == () and found.text == ""


def test_think_policy_is_a_knob() -> None:
    text = r"<think>the answer is \boxed{42}</think>"
    found = extract_answer(text)
    assert found is None  # nothing after </think>
    included = extract_answer(text, think="include")
    assert included is not None and included.text == "42"


def test_priority_is_configurable_and_recorded() -> None:
    text = r"The answer is 5. Later: \boxed{6}. #### 7"
    found = extract_answer(text)
    assert found is not None and (found.text, found.rule) == ("7", "gsm8k")  # the last commitment
    found = extract_answer(text, ["boxed"])
    assert found is not None and (found.text, found.rule) == ("6", "boxed")
    found = extract_answer(text, ["answer_is"])
    assert found is not None and found.text == "5"


def test_no_answer_and_bad_rules() -> None:
    assert extract_answer("no digits here", DEFAULT_RULES) is None
    assert extract_answer("the value is 4", ["boxed", "answer_tag"]) is None
    with pytest.raises(ValueError, match="unknown extraction rule"):
        extract_answer("x", ["boxed", "smart"])
    with pytest.raises(ValueError, match="at least one"):
        extract_answer("x", [])


def test_split_alternatives_and_cleaning() -> None:
    assert split_alternatives("2 or 3") == ["2", "3"]
    assert split_alternatives(r"x \lor y") == ["x", "y"]
    assert split_alternatives("7") == ["7"]
    assert split_alternatives("the orbit") == ["the orbit"]
    assert clean_answer(" $**42**$. ") == "42"
    assert clean_answer(r"\(x+1\)") == "x+1"
    assert clean_answer("5!") == "5!"  # a factorial, not an exclamation


def test_math_spans_follow_a_careful_reader() -> None:
    def inner(text: str) -> list[str]:
        return [s.inner(text) for s in math_spans(text)]

    assert inner(r"so $x$ and \(y\) and $$z$$ and \[w\]") == ["x", "y", "z", "w"]
    assert inner("He earns $20 an hour, so $800 a week") == []  # money
    assert inner("costs $5 and $10") == []
    assert inner("Answer $ 9 $") == [" 9 "]
    assert inner("inline $ \n 9 \n $ breaks") == []
    assert inner(r"escaped \$5 and $x$") == ["x"]
    assert [b.closed for b in boxes(r"\boxed{1} \boxed{2")] == [True, False]


HOSTILE = {
    "1 MB of words": "lorem ipsum 1234 " * 62_000,
    "50,000 newlines": "\n" * 50_000 + "#### 5",
    "newlines and hashes": "####\n" * 20_000,
    "20,000 spaces in a box": r"\boxed{" + " " * 20_000 + "5}",
    "10,000 nested braces": r"\boxed" + "{" * 10_000 + "1" + "}" * 10_000,
    "50,000 unclosed boxes": r"\boxed{" * 50_000,
    "answer phrases": "the answer is " * 40_000,
    "dollars": "$ " * 100_000,
    "or chain": "1 or " * 100_000,
    "digits and commas": "1," * 200_000,
    "think tags": "<think>" * 50_000,
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_texts_extract_in_linear_time(name: str) -> None:
    start = time.process_time()  # CPU time: a quadratic pattern takes minutes, and other load does not count
    extract_answer(HOSTILE[name])
    assert time.process_time() - start < 2.0, name


def test_hostile_results_are_sane() -> None:
    big = extract_answer(HOSTILE["1 MB of words"])
    assert big is not None and big.text == "1234" and big.rule == "last_number"
    deep = extract_answer(HOSTILE["10,000 nested braces"])
    assert deep is not None and deep.rule == "boxed" and len(deep.text) == 19_999
    spaces = extract_answer(HOSTILE["20,000 spaces in a box"])
    assert spaces is not None and spaces.text.strip() == "5"
    assert extract_answer(HOSTILE["50,000 unclosed boxes"]).problem == "truncated final answer"  # type: ignore[union-attr]


def test_full_width_digits_are_found() -> None:
    found = extract_answer("答案是 １２")
    assert found is not None and found.text == "１２"
