"""Tiny policies built in code: a character-level tokenizer and a small random-init Llama.

They make a whole GRPO run fit in minutes on a laptop CPU (the toy tasks, the tests) without any
download. The tokenizer is a real ``PreTrainedTokenizerFast``, so saving, loading and decoding go
through the same code as any Hugging Face model's.
"""

from __future__ import annotations

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from rewardforge.trainer.config import TinyModelConfig

PAD, EOS, UNK = "<pad>", "<eos>", "<unk>"


def char_tokenizer(alphabet: str, special_tokens: list[str] | None = None) -> PreTrainedTokenizerFast:
    """One token per character of ``alphabet``, plus ``special_tokens`` (e.g. ``<answer>``) kept whole.

    Unknown characters become ``<unk>``; padding is on the left, as generation wants.
    """
    extra = list(dict.fromkeys(special_tokens or []))
    chars = list(dict.fromkeys(alphabet))
    vocab = {token: index for index, token in enumerate([PAD, EOS, UNK, *extra, *chars])}
    core = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")  # every character alone
    core.decoder = decoders.Fuse()
    core.add_special_tokens([PAD, EOS, UNK])
    core.add_tokens(extra)  # matched before the character split, and kept when decoding
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token=PAD, eos_token=EOS, unk_token=UNK)
    tokenizer.padding_side = "left"
    return tokenizer


def tiny_llama(config: TinyModelConfig, vocab_size: int, pad_token_id: int, eos_token_id: int,
               seed: int) -> LlamaForCausalLM:
    """A random-init Llama of the configured size; the same seed gives the same weights."""
    if config.hidden_size % config.heads:
        raise ValueError(f"model.tiny.hidden_size ({config.hidden_size}) must be a multiple of heads "
                         f"({config.heads})")
    llama = LlamaConfig(
        vocab_size=vocab_size, hidden_size=config.hidden_size, intermediate_size=config.intermediate_size,
        num_hidden_layers=config.layers, num_attention_heads=config.heads, num_key_value_heads=config.heads,
        max_position_embeddings=config.max_length, pad_token_id=pad_token_id, eos_token_id=eos_token_id,
        bos_token_id=None, tie_word_embeddings=True,
    )
    with torch.random.fork_rng(devices=[]):  # the init does not move the caller's random stream
        torch.manual_seed(seed)
        return LlamaForCausalLM(llama)
