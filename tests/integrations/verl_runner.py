"""Run inside verl's own virtualenv (.venv-verl, made by scripts/setup_verl.sh) by test_verl.py.

Builds a DataProto the way verl's rollout hands it to the reward loop, loads the reward manager
through verl's `load_reward_manager` with our `compute_score` as `custom_reward_function`, runs its
`run_single` on every sample, stacks `reward_extra_info` the way verl's RewardLoopManager does
(key set from the first sample), and prints JSON for the test to check.
"""

from __future__ import annotations

import asyncio
import json
import sys

import numpy as np
import torch
from omegaconf import OmegaConf
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast
from verl import DataProto
from verl.trainer.ppo.reward import load_reward_manager

WORDS = ["[UNK]", "[PAD]", "</s>", "Paris", "Lyon", "Yes", "No", "4", "5", "Task", "capital", "of", "France", "?"]


def tokenizer() -> PreTrainedTokenizerFast:
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.decoder = decoders.WordPiece(prefix="##")
    return PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]", pad_token="[PAD]", eos_token="</s>")


def batch(tok: PreTrainedTokenizerFast, cases: list[dict]) -> DataProto:
    """Left-padded prompts, right-padded responses (with an EOS), one attention mask over both."""
    prompt_len, response_len = 4, 6
    prompts, responses, masks = [], [], []
    for case in cases:
        p = tok(case["prompt"], add_special_tokens=False)["input_ids"][-prompt_len:]
        r = (tok(case["response"], add_special_tokens=False)["input_ids"] + [tok.eos_token_id])[:response_len]
        prompts.append([tok.pad_token_id] * (prompt_len - len(p)) + p)
        responses.append(r + [tok.pad_token_id] * (response_len - len(r)))
        masks.append([0] * (prompt_len - len(p)) + [1] * len(p) + [1] * len(r) + [0] * (response_len - len(r)))
    tensors = {"prompts": torch.tensor(prompts), "responses": torch.tensor(responses),
               "attention_mask": torch.tensor(masks)}
    non_tensors = {
        "data_source": np.array([c["data_source"] for c in cases], dtype=object),
        "reward_model": np.array([{"ground_truth": c["ground_truth"], "style": "rule"} for c in cases], dtype=object),
        "extra_info": np.array([dict(c.get("extra_info", {})) for c in cases], dtype=object),
    }
    return DataProto.from_dict(tensors=tensors, non_tensors=non_tensors)


async def run(spec: dict) -> dict:
    config = OmegaConf.create({"reward": {
        "reward_manager": {"name": spec["manager"], "source": "register"},
        "custom_reward_function": {"path": "pkg://rewardforge.integrations.verl", "name": spec["function"],
                                   "reward_kwargs": spec["reward_kwargs"]},
        "reward_kwargs": {"overlong_buffer_cfg": None, "max_resp_len": 6},
    }})
    tok = tokenizer()
    manager = load_reward_manager(config, tok)
    data = batch(tok, spec["cases"])
    outputs = [await manager.run_single(data[i:i + 1]) for i in range(len(data))]
    infos = [out["reward_extra_info"] for out in outputs]
    keys = list(infos[0].keys())  # verl's RewardLoopManager.compute_rm_score does exactly this
    stacked = {key: np.array([info[key] for info in infos]).tolist() for key in keys}
    rm_scores = manager.assemble_rm_scores(data, [out["reward_score"] for out in outputs])
    return {"manager_class": type(manager).__name__, "is_async": manager.is_async_reward_score,
            "scores": [out["reward_score"] for out in outputs], "keys": keys, "extra": stacked,
            "rm_scores_row_sums": rm_scores.sum(dim=1).tolist(),
            "texts": [tok.decode(data[i].batch["responses"][: int(data[i].batch["attention_mask"][4:].sum())],
                                 skip_special_tokens=True) for i in range(len(data))]}


async def run_all(specs: list[dict]) -> list[dict]:
    return [await run(spec) for spec in specs]


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run_all(json.loads(sys.stdin.read())))))
