"""Format rewards: regex_format, tag_format, code_block_format, through the Reward interface."""

import pytest

from rewardforge.core.types import RewardError, Sample
from rewardforge.rewards.format import code_block_format, regex_format, tag_format

R1 = "<think>\nLet me add: 2 + 2 = 4.\n</think>\n<answer>4</answer>"


def values(reward, *completions: str) -> list[float | None]:
    return [s.value for s in reward.score([Sample(completion=c) for c in completions])]


def test_regex_format_default_layout_tolerates_eos_and_whitespace() -> None:
    assert values(regex_format, R1, R1 + "<|im_end|>\n", R1 + "</s>", R1 + "\n<|endoftext|>") == [1.0] * 4
    assert values(regex_format, "4", R1 + " and more", "<answer>4</answer>") == [0.0] * 3


def test_regex_format_modes_and_flags() -> None:
    fullmatch = regex_format.with_params(pattern=r"ANSWER: \d+")
    search = fullmatch.with_params(mode="search")
    assert values(fullmatch, "ANSWER: 12", "so ANSWER: 12") == [1.0, 0.0]
    assert values(search, "so ANSWER: 12") == [1.0]
    assert values(fullmatch, "answer: 12") == [0.0]
    assert values(fullmatch.with_params(flags=["IGNORECASE"]), "answer: 12") == [1.0]
    # Without DOTALL `.` stops at newlines.
    layout = regex_format.with_params(pattern=r"<a>.*</a>")
    assert values(layout, "<a>x\ny</a>") == [1.0]
    assert values(layout.with_params(flags=[]), "<a>x\ny</a>") == [0.0]


def test_regex_format_eos_tokens_are_configurable() -> None:
    strict_eos = regex_format.with_params(pattern=r"\d+", eos_tokens=[])
    assert values(strict_eos, "12<|im_end|>") == [0.0]
    custom = regex_format.with_params(pattern=r"\d+", eos_tokens=["<END>"])
    assert values(custom, "12<END>", "12<|im_end|>") == [1.0, 0.0]


def test_regex_format_rejects_bad_params_at_configuration() -> None:
    with pytest.raises(RewardError, match="pattern"):
        regex_format.with_params(pattern="(unclosed")
    with pytest.raises(RewardError, match="flags"):
        regex_format.with_params(flags=["NOPE"])
    # VERBOSE changes what compiles; such a pattern is accepted.
    assert regex_format.with_params(pattern="a #(", flags=["VERBOSE"]).params["pattern"] == "a #("


def test_regex_format_is_picklable_for_workers() -> None:
    import pickle

    configured = regex_format.with_params(pattern=r"\d+")
    clone = pickle.loads(pickle.dumps(configured))
    assert clone.params == configured.params
    assert values(clone, "12") == [1.0]


def test_tag_format_strict() -> None:
    assert values(tag_format, R1, R1 + "<|im_end|>") == [1.0, 1.0]
    bad = ["4", "<think>x</think>", "<answer>4</answer><think>x</think>", "<think>x</think>hi<answer>4</answer>",
           R1 + R1, "<think></think><answer>4</answer>"]
    assert values(tag_format, *bad) == [0.0] * len(bad)
    (score,) = tag_format.score([Sample(completion="<think>x</think>")])
    assert "<answer> missing" in score.info["problems"]


def test_tag_format_template_opened() -> None:
    opened = tag_format.with_params(template_opened=True)
    body = "Let me add.\n</think>\n<answer>4</answer>"
    assert values(opened, body) == [1.0]
    assert values(tag_format, body) == [0.0]
    # Repeating the opening marker the template already emitted is a duplicate.
    assert values(opened, "<think>" + body) == [0.0]
    partial = opened.with_params(mode="partial")
    assert values(partial, body, "<think>" + body) == [1.0, pytest.approx(0.5)]


def test_tag_format_partial_credit_and_custom_tags() -> None:
    unsloth = tag_format.with_params(
        tags=[["<start_working_out>", "<end_working_out>"], "SOLUTION"], mode="partial", template_opened=True
    )
    good = "work<end_working_out><SOLUTION>42</SOLUTION>"
    assert values(unsloth, good) == [1.0]
    assert values(unsloth, "work<end_working_out>") == [0.0]
    assert values(unsloth, "no tags at all") == [-0.5]  # opening present via template, 3 missing
    spam = "<SOLUTION>1</SOLUTION>" * 5
    assert values(unsloth, spam) == [-0.5]
    assert values(unsloth.with_params(penalty=0.0), spam) == [0.25]


def test_tag_format_rejects_bad_tags() -> None:
    with pytest.raises(RewardError, match="tags"):
        tag_format.with_params(tags=["think", ["<a>"]])
    with pytest.raises(RewardError, match="mode"):
        tag_format.with_params(mode="lenient")


def test_code_block_format() -> None:
    block = "Here:\n```python\nprint('hi')\n```\nDone."
    assert values(code_block_format, block, block.replace("python", "py")) == [1.0, 1.0]
    assert values(code_block_format, block.replace("python", "js"), "print('hi')", "```python\nprint(1)") \
        == [0.0, 0.0, 0.0]
    assert values(code_block_format, "```python\n\n```") == [0.0]
    assert values(code_block_format.with_params(allow_empty=True), "```python\n\n```") == [1.0]
    assert values(code_block_format.with_params(require_closed=False), "```python\nprint(1)") == [1.0]
    any_language = code_block_format.with_params(language=None)
    assert values(any_language, "```\nx = 1\n```", "no code") == [1.0, 0.0]
    assert values(code_block_format.with_params(language="C++"), "```cpp\nint x;\n```") == [1.0]


def test_format_rewards_read_chat_completions() -> None:
    chat = [{"role": "assistant", "content": R1}]
    assert tag_format.score([Sample(completion=chat)])[0].value == 1.0


def test_regex_format_catastrophic_user_pattern_times_out_in_a_worker() -> None:
    import time

    import rewardforge as rf

    start = time.perf_counter()
    scores = rf.score(regex_format, [{"completion": "a" * 40 + "b"}, {"completion": "aaa"}],
                      params={"pattern": "(a+)+", "flags": []}, timeout=3.0)
    elapsed = time.perf_counter() - start
    assert scores[0].status == "error" and "timeout" in (scores[0].reason or "")
    assert scores[1].value == 1.0
    assert elapsed < 15.0
