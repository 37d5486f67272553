"""Helpers for the trainer-adapter tests: a tiny model and tokenizer built in code (no downloads),
and a runner that calls an adapter in a spawned process (where it arrives by pickle)."""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest.mock import MagicMock

import pytest

DATA = Path(__file__).resolve().parent / "integrations" / "data"
OPENRLHF = Path(__file__).resolve().parents[1] / ".venv-openrlhf"

# Words a random model can emit: a gate on "Yes|No" opens for some completions and not others.
WORDS = ["[UNK]", "[PAD]", "<s>", "</s>", "<|im_start|>", "<|im_end|>", "system", "user", "assistant",
         "Yes", "No", "Paris", "Lyon", "4", "5", "Task", "capital", "of", "France", "?", "the", "is"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def word_tokenizer() -> Any:
    """A word-level fast tokenizer with a chat template, made from `WORDS`."""
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    core.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    tok = transformers.PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="[UNK]", pad_token="[PAD]", bos_token="<s>", eos_token="</s>")
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tok.chat_template = CHAT_TEMPLATE
    return tok


def random_causal_lm(seed: int = 0) -> Any:
    """A two-layer Llama with random weights over `WORDS`."""
    import torch
    import transformers

    config = transformers.LlamaConfig(
        vocab_size=len(WORDS), hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=1, max_position_embeddings=128, bos_token_id=2, eos_token_id=3, pad_token_id=1)
    torch.manual_seed(seed)
    return transformers.LlamaForCausalLM(config)


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call `fn` (sync or async) to completion: run in a spawned process with `fn` sent by pickle."""
    result = fn(*args, **kwargs)
    return asyncio.run(result) if inspect.isawaitable(result) else result


def openrlhf_modules(patch: pytest.MonkeyPatch) -> SimpleNamespace:
    """OpenRLHF's agent and samples-generator modules from `.venv-openrlhf`, GPU-only neighbours stubbed.

    OpenRLHF needs deepspeed, flash-attn and vLLM (GPU packages), so `scripts/setup_openrlhf.sh`
    installs the package alone. The generation engine (vLLM) and Ray are stubbed, as OpenRLHF's own
    tests/test_agent.py does; everything between them is OpenRLHF's code. `patch.undo()` restores them.
    """
    if not (OPENRLHF / "openrlhf" / "utils" / "agent.py").exists():
        pytest.fail(f"{OPENRLHF} is missing: run `bash scripts/setup_openrlhf.sh` (scripts/test.sh does)")
    patch.syspath_prepend(str(OPENRLHF))
    for name in ("ray", "vllm", "openrlhf.trainer.ray.vllm_engine"):
        patch.setitem(sys.modules, name, MagicMock())
    from openrlhf.trainer.ppo_utils import samples_generator
    from openrlhf.utils import agent

    return SimpleNamespace(agent=agent, samples_generator=samples_generator)
