"""A policy from a Hugging Face folder, as a user's model arrives: `from_pretrained`, its chat template,
a system prompt, and a trained model that loads back the same way."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from rf_trainer_support import tiny_dict
from rich.console import Console
from transformers import AutoModelForCausalLM, AutoTokenizer

from rewardforge.trainer import ConfigError, TrainConfig, train
from rewardforge.trainer.config import ModelConfig, TinyModelConfig
from rewardforge.trainer.policy import load_policy
from rewardforge.trainer.tiny import char_tokenizer, tiny_llama

TURNS = ["<|system|>", "<|user|>", "<|assistant|>"]
TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
            "{% if add_generation_prompt %}<|assistant|>{% endif %}")


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small Llama and its tokenizer with a chat template, saved as any Hub model is."""
    folder = tmp_path_factory.mktemp("hf-model")
    size = TinyModelConfig(alphabet="0123456789+=\nabcdefghijklmnopqrstuvwxyz .", hidden_size=16,
                           intermediate_size=32, layers=1, heads=2, max_length=64)
    tokenizer = char_tokenizer(size.alphabet, ["<answer>", "</answer>", *TURNS])
    tokenizer.chat_template = TEMPLATE
    model = tiny_llama(size, len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id, seed=0)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_prompts_go_through_the_chat_template_with_the_system_prompt(hf_folder: Path) -> None:
    policy = load_policy(ModelConfig(name_or_path=str(hf_folder), system_prompt="be brief."), seed=0)
    assert policy.use_chat
    text = policy.tokenizer.decode(policy.prompt_ids("1+2="))
    assert text == "<|system|>be brief.\n<|user|>1+2=\n<|assistant|>"
    messages = [{"role": "system", "content": "own"}, {"role": "user", "content": "3+4="}]
    assert policy.tokenizer.decode(policy.prompt_ids(messages)) == "<|system|>own\n<|user|>3+4=\n<|assistant|>"


def test_chat_template_false_gives_the_plain_prompt_and_refuses_messages(hf_folder: Path) -> None:
    policy = load_policy(ModelConfig(name_or_path=str(hf_folder), chat_template=False), seed=0)
    assert policy.tokenizer.decode(policy.prompt_ids("1+2=")) == "1+2="
    with pytest.raises(ConfigError, match="chat template"):
        policy.prompt_ids([{"role": "user", "content": "1+2="}])


def test_a_tokenizer_without_a_template_cannot_be_forced_into_chat(tmp_path: Path) -> None:
    size = TinyModelConfig(alphabet="0123456789+=", hidden_size=16, intermediate_size=32, layers=1, heads=2,
                           max_length=32)
    tokenizer = char_tokenizer(size.alphabet)
    tiny_llama(size, len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id, seed=0).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    assert not load_policy(ModelConfig(name_or_path=str(tmp_path)), seed=0).use_chat
    with pytest.raises(ConfigError, match="no chat template"):
        load_policy(ModelConfig(name_or_path=str(tmp_path), chat_template=True), seed=0)


def test_a_hub_style_model_trains_and_its_result_loads_back(hf_folder: Path, tmp_path: Path) -> None:
    settings = tiny_dict(steps=2, output={"save_model": True})
    settings["model"] = {"name_or_path": str(hf_folder)}
    settings["reward"] = "rf_trainer_support:digit_share"
    result = train(TrainConfig.model_validate(settings), tmp_path / "run", console=Console(quiet=True))
    assert [row["step"] for row in result.metrics] == [1, 2]
    assert all(row["frac_zero_std"] < 1 for row in result.metrics)  # there was something to learn from

    saved = tmp_path / "run" / "model"
    before = AutoModelForCausalLM.from_pretrained(hf_folder)
    after = AutoModelForCausalLM.from_pretrained(saved)
    changed = [name for name, weight in after.state_dict().items()
               if not torch.equal(weight, before.state_dict()[name])]
    assert changed, "two optimizer steps left every weight as it was"
    assert AutoTokenizer.from_pretrained(saved).chat_template == TEMPLATE
