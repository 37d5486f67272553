"""N-gram repetition penalty on words and on tokens."""

import pytest

from rewardforge.core.types import RewardError, Sample
from rewardforge.rewards.repetition import repeated_ngram_share, repetition_penalty, words


def value(completion: str, **params: object) -> float | None:
    (score,) = repetition_penalty.with_params(**params).score([Sample(completion=completion)])
    return score.value


def test_words_fold_case_and_split_cjk() -> None:
    assert words("Wait, WAIT; wait!") == ["wait", "wait", "wait"]
    assert words("答案是42, ok") == ["答", "案", "是", "42", "ok"]


def test_repeated_ngram_share() -> None:
    assert repeated_ngram_share([1, 2, 3, 4], 2) == (0.0, 3)
    assert repeated_ngram_share([1, 2, 1, 2, 1, 2], 2) == (pytest.approx(1 - 2 / 5), 5)
    assert repeated_ngram_share([1], 2) == (0.0, 0)


def test_fresh_text_is_not_penalised() -> None:
    assert value("The quick brown fox jumps over the lazy dog near the river bank.") == 0.0


def test_loops_are_penalised_in_proportion() -> None:
    loop = "wait let me check again " * 50
    stuck = value(loop)
    assert stuck is not None and stuck < -0.9
    half = "one two three four five six seven eight nine ten " + "wait wait wait wait wait wait wait wait"
    partial = value(half)
    assert partial is not None and -0.5 < partial < 0.0
    assert value(loop, max_penalty=0.5) == pytest.approx(stuck * 0.5)


def test_ngram_size_matters() -> None:
    text = "a b a c a d a e"  # unigram "a" repeats; no bigram repeats
    assert value(text, n=1) == pytest.approx(-(1 - 5 / 8))
    assert value(text, n=2) == 0.0


def test_too_short_to_repeat_is_zero_not_skipped() -> None:
    (score,) = repetition_penalty.score([Sample(completion="hi there")])
    assert score.status == "ok" and score.value == 0.0 and score.info["ngrams"] == 0


def test_tokens_with_a_tokenizer_object() -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    core = Tokenizer(models.WordLevel({"[UNK]": 0, "ab": 1, "cd": 2}, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    # "ab cd ab cd": bigrams (ab,cd),(cd,ab),(ab,cd) -> one of three repeats.
    assert value("ab cd ab cd", unit="tokens", tokenizer=core, n=2) == pytest.approx(-1 / 3)
    (missing,) = repetition_penalty.with_params(unit="tokens").score([Sample(completion="ab")])
    assert missing.status == "error" and "tokenizer" in (missing.reason or "")


def test_bad_params() -> None:
    with pytest.raises(RewardError, match="n"):
        repetition_penalty.with_params(n=0)
    with pytest.raises(RewardError, match="unit"):
        repetition_penalty.with_params(unit="chars")
