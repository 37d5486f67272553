"""Length shaping: DAPO overlong, Kimi 1.5 length, cosine length, thinking budget; chars and tokens."""

import math
from pathlib import Path
from typing import Any

import pytest

import rewardforge as rf
from rewardforge.core.types import RewardError, Sample
from rewardforge.rewards.counting import TokenizerError, resolve_tokenizer, text_length
from rewardforge.rewards.length import (
    cosine_length,
    kimi_length,
    overlong_penalty,
    think_section,
    thinking_budget,
)
from rewardforge.verifiers.format import TagSpec


@pytest.fixture(scope="module")
def tokenizer() -> object:
    """A real word-level transformers tokenizer, built in code (no model hub here)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, "<s>": 1, "</s>": 2}
    for word in ["the", "answer", "is", "four", "wait", "think", "<", ">", "/", "aaaa"]:
        vocab[word] = len(vocab)
    core = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]", bos_token="<s>", eos_token="</s>")


def test_text_length_chars_and_tokens(tokenizer: object) -> None:
    text = "the answer is four"
    assert text_length(text) == 18
    assert text_length(text, "tokens", tokenizer) == 4
    with pytest.raises(TokenizerError, match="needs a tokenizer"):
        text_length(text, "tokens")
    with pytest.raises(TokenizerError, match="no such directory"):
        text_length(text, "tokens", "/nonexistent/tokenizer")
    with pytest.raises(TokenizerError, match="no encode"):
        text_length(text, "tokens", object())


@pytest.mark.slow  # AutoTokenizer's first import and load take several seconds on a busy 2-core machine
def test_tokenizer_by_path_is_loaded_once(tokenizer: Any, tmp_path: Path) -> None:
    tokenizer.save_pretrained(tmp_path)
    loaded = resolve_tokenizer(str(tmp_path))
    assert resolve_tokenizer(str(tmp_path)) is loaded  # loaded once, cached
    assert text_length("the answer is four", "tokens", str(tmp_path)) == 4
    reward = thinking_budget.with_params(budget=2, unit="tokens", tokenizer=str(tmp_path))
    (score,) = reward.score([Sample(completion="<think>wait wait wait</think>four")])
    assert score.info["think_length"] == 3 and score.value == pytest.approx(-0.5)


# --- overlong_penalty ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "expected"),
    [(0, 0.0), (16, 0.0), (17, -0.25), (18, -0.5), (20, -1.0), (21, -1.0), (1000, -1.0)],
)
def test_overlong_penalty_matches_dapo(length: int, expected: float) -> None:
    # L_max = 20, L_cache = 4: free up to 16, then linear to -1 at 20, -1 beyond.
    reward = overlong_penalty.with_params(max_length=20, buffer=4)
    (score,) = reward.score([Sample(completion="x" * length)])
    assert score.value == pytest.approx(expected)
    assert score.info["length"] == length


def test_overlong_penalty_factor_hard_cliff_and_bad_params() -> None:
    assert overlong_penalty("x" * 18, {}, max_length=20, buffer=4, factor=0.5).value == pytest.approx(-0.25)
    cliff = overlong_penalty.with_params(max_length=20, buffer=0)
    assert [s.value for s in cliff.score([Sample(completion="x" * n) for n in (20, 21)])] == [0.0, -1.0]
    with pytest.raises(RewardError, match="max_length"):
        overlong_penalty.with_params(max_length=0)
    (bad,) = overlong_penalty.with_params(max_length=10, buffer=20).score([Sample(completion="x")])
    assert bad.status == "error" and "buffer" in (bad.reason or "")


def test_overlong_penalty_in_tokens(tokenizer: object) -> None:
    reward = overlong_penalty.with_params(max_length=4, buffer=2, unit="tokens", tokenizer=tokenizer)
    # 3 tokens although 15 characters: -0.5 in tokens.
    (score,) = reward.score([Sample(completion="the answer four")])
    assert score.value == pytest.approx(-0.5)
    (missing,) = overlong_penalty.with_params(unit="tokens").score([Sample(completion="x")])
    assert missing.status == "error" and "tokenizer" in (missing.reason or "")


def test_overlong_penalty_reads_a_known_length_from_metadata() -> None:
    reward = overlong_penalty.with_params(max_length=20, buffer=4, length_key="num_tokens")
    known = reward.score([
        Sample(completion="short", metadata={"num_tokens": 18}),
        Sample(completion="short", metadata={"num_tokens": list(range(30))}),
        Sample(completion="x" * 18),  # no key: measured from the text
        Sample(completion="x", metadata={"num_tokens": "many"}),
    ])
    assert [s.value for s in known[:3]] == [pytest.approx(-0.5), -1.0, pytest.approx(-0.5)]
    assert known[3].status == "error"


# --- kimi_length --------------------------------------------------------------------------------


def group(lengths_and_correct: list[tuple[int, bool]], group_id: object = "q1") -> list[Sample]:
    return [Sample(completion="a" * n, metadata={"correct": c}, group_id=group_id)
            for n, c in lengths_and_correct]


def test_kimi_length_formula() -> None:
    samples = group([(10, True), (20, False), (30, True), (40, False), (25, False)])
    scores = kimi_length.score(samples)
    lam = [0.5 - (n - 10) / 30 for n in (10, 20, 30, 40, 25)]
    assert [s.value for s in scores] == pytest.approx([lam[0], min(0, lam[1]), lam[2], min(0, lam[3]), 0.0])
    assert scores[0].value == 0.5 and scores[3].value == -0.5
    assert scores[1].value == 0.0  # a short wrong answer earns nothing
    assert scores[2].info == {"length": 30, "min_length": 10, "max_length": 40, "correct": True}


def test_kimi_length_is_relative_within_each_group() -> None:
    samples = group([(10, True), (20, True)], "a") + group([(100, True), (200, True)], "b")
    assert [s.value for s in kimi_length.score(samples)] == [0.5, -0.5, 0.5, -0.5]
    whole = kimi_length.with_params(group_by="batch").score(samples)
    assert [s.value for s in whole] == pytest.approx([0.5, 0.5 - 10 / 190, 0.5 - 90 / 190, -0.5])


def test_kimi_length_groups_by_prompt_without_group_id() -> None:
    samples = [Sample(prompt=p, completion="a" * n, metadata={"correct": True})
               for p, n in [("p1", 1), ("p2", 50), ("p1", 3), ("p2", 60)]]
    assert [s.value for s in kimi_length.score(samples)] == [0.5, 0.5, -0.5, -0.5]


def test_kimi_length_equal_lengths_and_singletons_score_zero() -> None:
    assert [s.value for s in kimi_length.score(group([(5, True), (5, False)]))] == [0.0, 0.0]
    assert [s.value for s in kimi_length.score(group([(5, True)]))] == [0.0]


def test_kimi_length_unknown_correctness_is_skipped_but_counts_for_min_max() -> None:
    samples = [*group([(10, True), (30, True)]), Sample(completion="a" * 50, group_id="q1")]
    scores = kimi_length.score(samples)
    assert scores[2].status == "skipped" and "correct" in (scores[2].reason or "")
    assert scores[1].value == pytest.approx(0.5 - 20 / 40)  # max_len is 50, from the skipped one
    bad = kimi_length.score([Sample(completion="a", metadata={"correct": "yes"})])
    assert bad[0].status == "error"


def test_kimi_length_numeric_correctness_uses_threshold() -> None:
    samples = [Sample(completion="a" * n, metadata={"correct": v}, group_id=1) for n, v in [(10, 1.0), (20, 0.5)]]
    assert [s.value for s in kimi_length.score(samples)] == [0.5, -0.5]
    lenient = kimi_length.with_params(threshold=0.5).score(samples)
    assert [s.info["correct"] for s in lenient] == [True, True]


def test_kimi_length_correctness_from_another_reward_through_the_engine() -> None:
    samples = [Sample(completion="Paris" + " " * n, reference="Paris", group_id=1) for n in (0, 10, 20)]
    samples.append(Sample(completion="Marseille", reference="Paris", group_id=1))
    samples.append(Sample(completion="Paris", reference=None, group_id=1))
    scores = rf.score(kimi_length, samples, params={"correctness_reward": "exact_match"})
    assert [s.value for s in scores[:4]] == pytest.approx([0.5, 0.0, -0.5, 0.0])
    assert scores[3].info["correct"] is False
    assert scores[4].status == "skipped" and "exact_match" in (scores[4].reason or "")


def test_kimi_length_correctness_reward_can_be_an_object() -> None:
    from rewardforge.rewards.basic import exact_match

    reward = kimi_length.with_params(correctness_reward=exact_match)
    samples = [Sample(completion=c, reference="Paris", group_id=1) for c in ["Paris", "Paris  ", "Nope London"]]
    assert [s.value for s in reward.score(samples)] == pytest.approx([0.5, 0.5 - 2 / 6, -0.5])
    with pytest.raises(RewardError):
        kimi_length.with_params(correctness_reward=3.5)


# --- cosine_length ------------------------------------------------------------------------------


def cosine(length: int, correct: bool, **params: object) -> float | None:
    (score,) = cosine_length.with_params(max_length=100, **params).score(
        [Sample(completion="a" * length, metadata={"correct": correct})]
    )
    return score.value


def test_cosine_length_endpoints_and_midpoint() -> None:
    assert cosine(0, True) == pytest.approx(1.0)
    assert cosine(100, True) == pytest.approx(0.5)
    assert cosine(50, True) == pytest.approx(0.75)
    assert cosine(0, False) == pytest.approx(-1.0)
    assert cosine(100, False) == pytest.approx(-0.5)
    assert cosine(25, True) == pytest.approx(0.5 + 0.5 * (1 + math.cos(math.pi / 4)) / 2)


def test_cosine_length_is_monotone_in_the_right_direction() -> None:
    correct = [cosine(n, True) for n in range(0, 101, 10)]
    wrong = [cosine(n, False) for n in range(0, 101, 10)]
    assert correct == sorted(correct, reverse=True)  # shorter is better when right
    assert wrong == sorted(wrong)  # longer is better when wrong
    assert min(correct) > max(wrong)


def test_cosine_length_past_max_length() -> None:
    assert cosine(500, True) == pytest.approx(0.5)
    assert cosine(500, False) == pytest.approx(-0.5)
    assert cosine(101, True, overlong_value=-10.0) == -10.0
    assert cosine(100, True, overlong_value=-10.0) == pytest.approx(0.5)


def test_cosine_length_custom_range_and_skips_unknown() -> None:
    assert cosine(0, True, max_value_correct=2.0) == pytest.approx(2.0)
    (score,) = cosine_length.score([Sample(completion="abc")])
    assert score.status == "skipped"


# --- thinking_budget ----------------------------------------------------------------------------


def test_think_section_forms() -> None:
    tag = TagSpec.parse("think")
    assert think_section("<think>abc</think> ans", tag, template_opened=False) == ("abc", True)
    assert think_section("abc</think> ans", tag, template_opened=False) == ("abc", True)
    assert think_section("<think>abc", tag, template_opened=False) == ("abc", False)
    assert think_section("abc", tag, template_opened=True) == ("abc", False)
    assert think_section("abc", tag, template_opened=False) is None


@pytest.mark.parametrize(("think", "expected"), [(0, 0.0), (10, 0.0), (15, -0.5), (20, -1.0), (99, -1.0)])
def test_thinking_budget_linear_ramp(think: int, expected: float) -> None:
    reward = thinking_budget.with_params(budget=10)
    (score,) = reward.score([Sample(completion=f"<think>{'a' * think}</think><answer>1</answer>")])
    assert score.value == pytest.approx(expected)
    assert score.info["think_length"] == think


def test_thinking_budget_options() -> None:
    long_think = "<think>" + "a" * 30 + "</think> answer"
    assert thinking_budget(long_think, budget=10, ramp=40).value == pytest.approx(-0.5)
    assert thinking_budget(long_think, budget=10, max_penalty=2.0).value == pytest.approx(-2.0)
    # Answer text outside the section does not count.
    assert thinking_budget("<think>aa</think>" + "b" * 100, budget=10).value == 0.0
    # Truncated mid-thought: everything after the opening counts.
    truncated = thinking_budget("<think>" + "a" * 20, budget=10)
    assert truncated.value == pytest.approx(-1.0) and truncated.info["closed"] is False
    # Template-opened sections and custom markers.
    assert thinking_budget("a" * 15 + "</think>x", budget=10, template_opened=True).value == pytest.approx(-0.5)
    custom = ["<start_working_out>", "<end_working_out>"]
    text = "<start_working_out>" + "a" * 15 + "<end_working_out><SOLUTION>1</SOLUTION>"
    assert thinking_budget(text, budget=10, think_tag=custom).value == pytest.approx(-0.5)


def test_thinking_budget_without_think_section_is_skipped_unless_asked() -> None:
    (skipped,) = thinking_budget.score([Sample(completion="just an answer")])
    assert skipped.status == "skipped" and "<think>" in (skipped.reason or "")
    (zero,) = thinking_budget.with_params(missing="zero").score([Sample(completion="just an answer")])
    assert zero.status == "ok" and zero.value == 0.0


def test_thinking_budget_rejects_a_bad_tag_at_configuration() -> None:
    with pytest.raises(RewardError, match="think_tag"):
        thinking_budget.with_params(think_tag="<bad tag>")


def test_thinking_budget_in_tokens(tokenizer: object) -> None:
    reward = thinking_budget.with_params(budget=2, unit="tokens", tokenizer=tokenizer)
    # 4 tokens inside <think> (but 19 characters): 2 over a budget of 2 -> -1.
    (score,) = reward.score([Sample(completion="<think>wait wait wait wait</think>four")])
    assert score.info["think_length"] == 4
    assert score.value == pytest.approx(-1.0)


def test_a_tokenizer_that_fails_to_load_fails_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from rewardforge.rewards import counting

    calls = []

    def unreachable(name: str) -> None:
        calls.append(name)
        raise OSError("hub unreachable")

    monkeypatch.setattr(counting, "_from_pretrained", unreachable)
    reward = overlong_penalty.with_params(unit="tokens", tokenizer="nobody/no-such-model-for-tests")
    scores = reward.score([Sample(completion="x")] * 5)
    assert all(s.status == "error" and "hub unreachable" in (s.reason or "") for s in scores)
    assert calls == ["nobody/no-such-model-for-tests"]  # one attempt, not one per sample
