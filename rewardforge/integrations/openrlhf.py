"""OpenRLHF: any rewardforge reward behind `--remote_rm_url`, as a `.py` reward file or over HTTP.

The `.py` mode loads `reward_func(queries, prompts, labels)` from a file:

```bash
rewardforge export openrlhf --reward math_equivalence -o reward.py
openrlhf.cli.train_ppo_ray ... --remote_rm_url reward.py --label_key answer
```

or points at this module and names the reward in the environment
(`REWARDFORGE_REWARD=math_equivalence`, `REWARDFORGE_PARAMS='{"rel_tol": 1e-6}'`).

OpenRLHF sends `query` = prompt + response decoded with special tokens kept, the `prompts` as
given to the engine, and the `labels` (`--label_key`). The conversion here, shared with the HTTP
reward server, strips the prompt and the special tokens (configurable) to get the response, and
answers `{"rewards", "scores", "extra_logs"}`: one number per query (skipped and errored ones
score `on_skipped` / `on_error`, 0.0 by default) and numeric extra logs only, which OpenRLHF
averages into its metrics: each component, and `rf_ok` / `rf_skipped` / `rf_error` (so their
means are the fractions).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from rewardforge.core.engine import CacheSetting
from rewardforge.core.types import Sample, Score
from rewardforge.integrations.common import (
    BoundReward,
    RewardSpec,
    StatusPolicy,
    check_component_names,
    reward_from_env,
    sample_record,
)

#: End-of-turn, end-of-text and padding markers of common chat templates, stripped from responses.
DEFAULT_SPECIAL_TOKENS: tuple[str, ...] = (
    "<|im_end|>", "<|im_start|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "<|begin_of_text|>",
    "<|start_header_id|>", "<|end_header_id|>", "<|end|>", "<|return|>", "<|eom_id|>",
    "<end_of_turn>", "<start_of_turn>", "<eos>", "<bos>", "<pad>", "</s>", "<s>",
    "<｜end▁of▁sentence｜>", "<｜begin▁of▁sentence｜>", "<|pad|>", "[PAD]",
)

LabelFormat = Literal["text", "json"]


def strip_tokens(text: str, special_tokens: Sequence[str] = DEFAULT_SPECIAL_TOKENS) -> str:
    for token in sorted(special_tokens, key=len, reverse=True):  # longest first: no partial overlaps
        text = text.replace(token, "")
    return text


def _end_ignoring_space(text: str, prefix: str) -> int | None:
    """Where `prefix` ends inside `text` when whitespace is ignored on both sides, or None.

    A decode of prompt + response tokens need not reproduce the prompt string byte for byte
    (word-level tokenizers join with spaces, some normalise newlines).
    """
    target = "".join(prefix.split())
    if not target:
        return 0
    positions = [i for i, char in enumerate(text) if not char.isspace()]
    at = "".join(text[i] for i in positions).find(target)
    return positions[at + len(target) - 1] + 1 if at >= 0 else None


def response_from_query(query: str, prompt: str, special_tokens: Sequence[str] = DEFAULT_SPECIAL_TOKENS
                        ) -> str | None:
    """The response inside a query: what follows the prompt, without special tokens or outer whitespace.

    The prompt is looked for as given, then with special tokens removed from both and whitespace
    ignored (a tokenizer may add a BOS the prompt string lacks, or respace the text). None when it
    is not found: the query then cannot be split honestly, and judging the prompt's text as the
    answer would reward whatever the prompt says.
    """
    at = query.find(prompt) if prompt else 0
    if at >= 0:
        return strip_tokens(query[at + len(prompt):], special_tokens).strip()
    bare_query = strip_tokens(query, special_tokens)
    end = _end_ignoring_space(bare_query, strip_tokens(prompt, special_tokens))
    return bare_query[end:].strip() if end is not None else None


def request_samples(queries: Sequence[str], prompts: Sequence[Any], labels: Sequence[Any] | None, *,
                    special_tokens: Sequence[str] = DEFAULT_SPECIAL_TOKENS, label_format: LabelFormat = "text",
                    ) -> list[Sample | Score]:
    """OpenRLHF's request as Samples, in order; an error Score where a query cannot become one.

    `labels` are the references; with `label_format="json"` each is parsed as JSON first (test
    cases, structured gold answers).
    """
    if len(prompts) != len(queries) or (labels is not None and len(labels) != len(queries)):
        raise ValueError(f"OpenRLHF request: {len(queries)} queries, {len(prompts)} prompts and "
                         f"{len(labels) if labels is not None else 'no'} labels; they must match")
    out: list[Sample | Score] = []
    for i, (query, prompt) in enumerate(zip(queries, prompts, strict=True)):
        prompt_text = prompt if isinstance(prompt, str) else json.dumps(prompt)
        response = response_from_query(str(query), prompt_text, special_tokens)
        if response is None:
            out.append(Score.error(f"query {i}: the prompt is not in the query, so the response cannot be "
                                   "split from it (check that prompts are sent as the engine saw them)"))
            continue
        reference = labels[i] if labels is not None else None
        if label_format == "json" and isinstance(reference, str):
            try:
                reference = json.loads(reference)
            except json.JSONDecodeError as exc:
                out.append(Score.error(f"query {i}: label is not JSON ({exc})"))
                continue
        out.append(Sample(prompt=prompt_text, completion=response, reference=reference))
    return out


def merge_scores(parsed: Sequence[Sample | Score], scores: Sequence[Score]) -> list[Score]:
    """The scores of the parsed Samples, with the conversion errors back in their places."""
    it = iter(scores)
    return [item if isinstance(item, Score) else next(it) for item in parsed]


def to_response(scores: Sequence[Score], *, policy: StatusPolicy, components: Sequence[str],
                reward_name: str) -> dict[str, Any]:
    """`{"rewards": [...], "scores": [...], "extra_logs": {name: [...]}}` with plain lists of floats."""
    values = policy.values(scores, reward_name=reward_name)
    records = [sample_record(s, v if v is not None else 0.0, components) for s, v in zip(scores, values, strict=True)]
    keys = [k for k in (records[0] if records else {}) if k != "score"]
    rewards = [r["score"] for r in records]
    return {"rewards": rewards, "scores": list(rewards), "extra_logs": {k: [r[k] for r in records] for k in keys}}


class OpenRLHFReward:
    """`reward_func(queries, prompts, labels, **kwargs)` for OpenRLHF's `.py` reward-file mode."""

    def __init__(self, reward: RewardSpec | BoundReward, *, params: Mapping[str, Any] | None = None,
                 on_skipped: Any = 0.0, on_error: Any = 0.0,
                 special_tokens: Sequence[str] = DEFAULT_SPECIAL_TOKENS, label_format: LabelFormat = "text",
                 timeout: float | None = None, cache: CacheSetting = None) -> None:
        self.bound = reward if isinstance(reward, BoundReward) else BoundReward(
            reward, params=params, timeout=timeout, cache=cache)
        self.policy = StatusPolicy.make(on_skipped, on_error, allow_none=False, trainer="OpenRLHF")
        self.special_tokens = tuple(special_tokens)
        self.label_format: LabelFormat = label_format
        self.components = self.bound.component_names()
        check_component_names(self.components)
        self.__name__ = self.bound.name

    def response(self, queries: Sequence[str], prompts: Sequence[Any], labels: Sequence[Any] | None
                 ) -> dict[str, Any]:
        """The reply as plain lists (the HTTP shape)."""
        parsed = request_samples(queries, prompts, labels, special_tokens=self.special_tokens,
                                 label_format=self.label_format)
        scores = self.bound.score([p for p in parsed if isinstance(p, Sample)])
        return to_response(merge_scores(parsed, scores), policy=self.policy, components=self.components,
                           reward_name=self.bound.name)

    def __call__(self, queries: Sequence[str], prompts: Sequence[Any], labels: Sequence[Any] | None = None,
                 **kwargs: Any) -> dict[str, Any]:
        """The reply as tensors, the shape OpenRLHF's reward files return."""
        import torch

        reply = self.response(queries, prompts, labels)
        as_tensor = lambda values: torch.tensor(values, dtype=torch.float32)  # noqa: E731
        return {"rewards": as_tensor(reply["rewards"]), "scores": as_tensor(reply["scores"]),
                "extra_logs": {k: as_tensor(v) for k, v in reply["extra_logs"].items()}}

    def __repr__(self) -> str:
        return f"<OpenRLHFReward {self.bound.name}>"


_from_env: OpenRLHFReward | None = None


def reward_func(queries: Sequence[str], prompts: Sequence[Any], labels: Sequence[Any] | None = None,
                **kwargs: Any) -> dict[str, Any]:
    """`--remote_rm_url <this file>`: the reward named by $REWARDFORGE_REWARD (params in $REWARDFORGE_PARAMS)."""
    global _from_env
    if _from_env is None:
        _from_env = OpenRLHFReward(reward_from_env("OpenRLHF reward_func"))
    return _from_env(queries, prompts, labels, **kwargs)
