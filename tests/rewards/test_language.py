"""Language consistency: script fast path, lingua for shared scripts, markup removal, target choice."""

import pytest

from rewardforge.core.types import RewardError, Sample
from rewardforge.rewards.language import chunks, language_consistency, normalize_language, script_of_language

EN = "I think the answer is forty two, because twenty one times two is forty two. Let me verify it once more."
ZH = "我认为答案是四十二，因为二十一乘以二等于四十二。"
FR = "Je pense que la réponse est quarante-deux, parce que vingt et un fois deux font quarante-deux."


def score(completion: str, prompt: str = "", metadata: dict | None = None, **params: object):
    (result,) = language_consistency.with_params(**params).score(
        [Sample(completion=completion, prompt=prompt, metadata=metadata or {})]
    )
    return result


def test_normalize_language() -> None:
    assert normalize_language("EN") == "en"
    assert normalize_language("zh-CN") == "zh"
    assert normalize_language("pt_BR") == "pt"
    assert normalize_language("English") == "en"
    with pytest.raises(ValueError, match="unknown language"):
        normalize_language("klingon")


def test_scripts() -> None:
    assert script_of_language("zh") == "han"
    assert script_of_language("ko") == "hangul"
    assert script_of_language("ru") == "cyrillic"
    assert script_of_language("fr") == "latin"


def test_single_language_completions() -> None:
    assert score(EN, language="en").value == 1.0
    assert score(ZH, language="zh").value == 1.0
    assert score(FR, language="fr").value == 1.0
    assert score(EN, language="fr").value == 0.0
    assert score("답은 사십이입니다. 왜냐하면 이십일 곱하기 이는 사십이이기 때문입니다.", language="ko").value == 1.0
    assert score("答えは四十二です。なぜなら二十一かける二は四十二だからです。", language="ja").value == 1.0
    assert score("Ответ сорок два, потому что двадцать один умножить на два будет сорок два.", language="ru").value \
        == 1.0


def test_mixed_completion_gets_the_target_share() -> None:
    result = score(EN + " " + ZH, language="en")
    assert result.info["words"]["zh"] == len("我认为答案是四十二因为二十一乘以二等于四十二")
    en_words = result.info["words"]["en"]
    assert result.value == pytest.approx(en_words / (en_words + result.info["words"]["zh"]))
    assert 0.3 < result.value < 0.7
    mixed_latin = score(FR + " " + EN, language="fr")
    assert 0.3 < mixed_latin.value < 0.7
    assert set(mixed_latin.info["words"]) == {"fr", "en"}


def test_math_code_and_markup_are_ignored() -> None:
    text = ("<think>Let me compute $\\frac{x}{y} = 2$ and \\sqrt{z} here. So x = y + z, clearly.</think>\n"
            "```python\nprint('hello world this is code')\n```\nThe answer is \\boxed{42}.<|im_end|>")
    result = score(text, language="en")
    assert result.value == 1.0, result.info
    only_math = score("$x^2 + y^2 = 1$ \\[ \\int_0^1 f \\] 42", language="en")
    assert only_math.status == "skipped" and "no natural-language" in (only_math.reason or "")


def test_target_from_metadata_then_prompt() -> None:
    assert score(ZH, metadata={"language": "zh"}).value == 1.0
    assert score(ZH, prompt="请问四十二的一半是多少？").value == 1.0
    assert score(EN, prompt="请问四十二的一半是多少？").value == 0.0
    spanish_prompt = "¿Cuál es la respuesta a la pregunta sobre la vida y el universo?"
    assert score("La respuesta es cuarenta y dos, claro que sí, sin ninguna duda.", prompt=spanish_prompt).value \
        == 1.0
    assert score(EN, prompt=spanish_prompt).info["target"] == "es"
    no_target = score(EN)
    assert no_target.status == "skipped" and "no target language" in (no_target.reason or "")


def test_chat_prompt_uses_the_last_message() -> None:
    chat = [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "请问答案是什么？"}]
    (result,) = language_consistency.score([Sample(completion=ZH, prompt=chat)])
    assert result.info["target"] == "zh" and result.value == 1.0


def test_chunks_merge_short_sentences() -> None:
    pieces = list(chunks("Yes. No. Maybe so then. " + ZH))
    assert [p.script for p in pieces] == ["latin", "han"]
    assert pieces[0].words == 5


def test_bad_params() -> None:
    (bad,) = language_consistency.with_params(language="klingon").score([Sample(completion=EN)])
    assert bad.status == "error" and "unknown language" in (bad.reason or "")
    with pytest.raises(RewardError, match="min_words"):
        language_consistency.with_params(min_words=0)


@pytest.mark.slow  # loads lingua's high-accuracy models: ~10 s once per process
def test_high_accuracy_mode_agrees_on_clear_and_short_text() -> None:
    for text, target in [(EN + " " + ZH, "en"), (FR, "fr"), (FR + " " + EN, "fr"),
                         ("Okay, so first I need to find x. Then I plug it in.", "en")]:
        assert score(text, language=target, accuracy="high").value == score(text, language=target).value
    with pytest.raises(RewardError, match="accuracy"):
        language_consistency.with_params(accuracy="medium")


def test_short_sentences_merge_instead_of_being_judged_alone() -> None:
    pieces = chunks("Okay, so first I need to find x. Then I plug it in.")
    assert len(pieces) == 1 and pieces[0].words == 10
    assert score("Okay, so first I need to find x. Then I plug it in.", language="en").value == 1.0
