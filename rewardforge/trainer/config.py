"""The trainer's configuration: one pydantic model, read from YAML, with ``key.path=value`` overrides.

Every section has defaults; a misspelt key is an error naming it (``extra="forbid"``), never ignored.
A file may hold ``variants:``, a mapping of run names to overrides of the rest of the file: the runs are
trained one after the other on the same seed and compared in one plot (``rewardforge train``).
"""

from __future__ import annotations

import copy
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rewardforge.core.errors import RewardError, describe_validation_error
from rewardforge.core.yaml_files import read_yaml_file
from rewardforge.trainer.errors import ConfigError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TinyModelConfig(Section):
    """A small Llama built in code (random init) with a character-level tokenizer: no download."""

    alphabet: str = Field(min_length=1, description="every character the tokenizer knows, one token each")
    special_tokens: list[str] = Field(default_factory=list, description="multi-character tokens kept whole")
    hidden_size: int = Field(default=64, ge=8)
    intermediate_size: int = Field(default=256, ge=8)
    layers: int = Field(default=2, ge=1)
    heads: int = Field(default=4, ge=1)
    max_length: int = Field(default=128, ge=8)


class LoraSettings(Section):
    r: int = Field(default=16, ge=1)
    alpha: int = Field(default=32, ge=1)
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    target_modules: list[str] | str = "all-linear"


class ModelConfig(Section):
    name_or_path: str | None = Field(default=None, description="any AutoModelForCausalLM: a hub id or a local path")
    tiny: TinyModelConfig | None = None
    dtype: Literal["auto", "float32", "float64", "bfloat16", "float16"] = "auto"  # auto: bf16 on CUDA, else fp32
    device: str = "auto"  # auto: cuda when available
    chat_template: bool | None = None  # None: use the tokenizer's chat template when it has one
    system_prompt: str | None = None
    lora: LoraSettings | None = None
    gradient_checkpointing: bool = False
    trust_remote_code: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> ModelConfig:
        if (self.name_or_path is None) == (self.tiny is None):
            raise ValueError("give exactly one of model.name_or_path and model.tiny")
        return self


class DataConfig(Section):
    """Prompts (and references) from a built-in toy task, a JSONL file or a Hugging Face dataset."""

    task: Literal["arithmetic", "sort"] | None = None
    params: dict[str, Any] = Field(default_factory=dict, description="the toy task's parameters")
    split: str = "train"
    path: Path | None = None
    hf: str | None = None
    hf_config: str | None = None
    fields: dict[str, str] = Field(default_factory=dict, description="prompt/reference/completion <- column")
    limit: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        given = [name for name in ("task", "path", "hf") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of task, path and hf (got {', '.join(given) or 'none'})")
        unknown = set(self.fields) - {"prompt", "reference", "completion"}
        if unknown:
            raise ValueError(f"fields maps prompt, reference and completion, not {', '.join(sorted(unknown))}")
        return self


class SFTConfig(Section):
    """A supervised warm start on gold completions before GRPO (the R1 recipe's cold start)."""

    data: DataConfig | None = None  # default: the training data, whose rows must carry a completion
    examples: int = Field(default=300, ge=1)
    epochs: int = Field(default=3, ge=1)
    batch_size: int = Field(default=16, ge=1)
    lr: float = Field(default=1e-3, gt=0)


class VLLMSettings(Section):
    gpu_memory_utilization: float = Field(default=0.3, gt=0, le=1)
    max_model_len: int | None = None
    enforce_eager: bool = False


class RolloutConfig(Section):
    backend: Literal["transformers", "vllm"] = "transformers"
    group_size: int = Field(default=8, ge=2, description="G completions per prompt")
    temperature: float = Field(default=1.0, gt=0)
    top_p: float = Field(default=1.0, gt=0, le=1)
    top_k: int = Field(default=0, ge=0, description="0: no top-k cut")
    min_p: float = Field(default=0.0, ge=0, lt=1, description="0: no min-p cut")
    max_new_tokens: int = Field(default=256, ge=1)
    vllm: VLLMSettings = Field(default_factory=VLLMSettings)


StatusPolicy = Literal["drop", "zero", "fail"]


class ScoringConfig(Section):
    """How rewards that do not come back ``ok`` are used: never silently, always counted.

    ``drop``: the sample leaves the group statistics and the loss; ``zero``: it counts as reward 0.0;
    ``fail``: training stops with the reason. ``max_dropped_frac`` stops a run whose reward is broken
    (more of a batch dropped than this) instead of training on what is left.
    """

    timeout: float | None = Field(default=30.0, gt=0)
    on_skipped: StatusPolicy = "drop"
    on_error: StatusPolicy = "drop"
    max_dropped_frac: float = Field(default=0.5, ge=0, le=1)


class AdvantageConfig(Section):
    estimator: Literal["grpo", "dr_grpo", "rloo", "batch", "max_only"] = "grpo"
    eps: float = Field(default=1e-4, ge=0)
    dynamic_sampling: bool = False  # DAPO: drop groups whose rewards are all equal and sample more prompts
    max_sampling_rounds: int = Field(default=4, ge=1)


class LossConfig(Section):
    loss_type: Literal["grpo", "bnpo", "dr_grpo", "dapo", "cispo"] = "dapo"
    epsilon_low: float = Field(default=0.2, ge=0, lt=1)
    epsilon_high: float = Field(default=0.2, ge=0, description="clip-higher when above epsilon_low; cispo: the cap")
    delta: float | None = Field(default=None, gt=0)
    beta: float = Field(default=0.0, ge=0, description="k3 KL weight; a frozen reference model exists only when > 0")
    importance_sampling_level: Literal["token", "sequence"] = "token"  # sequence: GSPO
    mu: int = Field(default=1, ge=1, description="optimisation passes over each rollout batch")
    mask_truncated: bool = False  # completions cut at max_new_tokens take no part in the loss
    fused: bool = True  # fused_linear_grpo_loss; False: fused_linear_logprobs + grpo_loss


class OptimConfig(Section):
    lr: float = Field(default=1e-6, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    betas: tuple[float, float] = (0.9, 0.99)
    max_grad_norm: float | None = Field(default=1.0, gt=0)
    warmup_steps: int = Field(default=0, ge=0)
    schedule: Literal["constant", "linear", "cosine"] = "constant"


class EvalConfig(Section):
    """Held-out accuracy with greedy decoding: before GRPO, every ``every`` steps, and at the end."""

    data: DataConfig | None = None
    size: int = Field(default=200, ge=1)
    every: int = Field(default=0, ge=0)
    reward: str | dict[str, Any] | None = None  # default: the training reward
    threshold: float = 1.0  # a completion is correct when its eval reward is >= threshold
    batch_size: int = Field(default=64, ge=1)


class OutputConfig(Section):
    plot_every: int = Field(default=10, ge=1)
    checkpoint_every: int = Field(default=50, ge=1)
    rolling_window: int = Field(default=10, ge=1)
    save_model: bool = True  # the final policy in DIR/model (save_pretrained)
    rollouts_every: int = Field(default=1, ge=0, description="write every sampled completion of every N-th step "
                                "to rollouts.jsonl; 0: never")


class TrainConfig(Section):
    seed: int = 0
    threads: int | None = Field(default=None, ge=1, description="torch CPU threads; None keeps torch's default. On a "
                                "busy or small machine, 1 is often several times faster for tiny models")
    steps: int = Field(ge=1)
    prompts_per_step: int = Field(default=8, ge=1)
    micro_batch_size: int = Field(default=16, ge=1, description="sequences per forward/backward pass")
    model: ModelConfig
    data: DataConfig
    reward: str | dict[str, Any] = Field(description="a registry name, pkg.module:attr, a stack YAML path or "
                                                     "an inline stack mapping")
    sft: SFTConfig | None = None
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    scoring: ScoringConfig = Field(default_factory=ScoringConfig)
    advantage: AdvantageConfig = Field(default_factory=AdvantageConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        if self.loss.loss_type == "cispo" and not self.loss.epsilon_high > 1.0:
            raise ValueError("loss.epsilon_high is cispo's absolute cap on the importance weight and must be > 1 "
                             "(e.g. 5.0)")
        return self


def set_override(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``a.b.c`` in nested ``data`` (``--set a.b.c=value``); intermediate mappings are created."""
    parts = key.split(".")
    if not all(parts):
        raise ConfigError(f"--set {key!r}: empty part in the key")
    node = data
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {key!r}: {'.'.join(parts[: depth + 1])} is not a section")
        node = child
    node[parts[-1]] = value


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` merged in, mapping by mapping (a variant overrides only what it names)."""
    merged = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "reward":
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = read_yaml_file(path, "config file")
    except RewardError as exc:
        raise ConfigError(str(exc)) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config sections at the top")
    return data


def validate(data: dict[str, Any], origin: str) -> TrainConfig:
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        unknown = [tuple(e["loc"][:-1]) for e in exc.errors() if e["type"] == "extra_forbidden"]
        loc, message = describe_validation_error(exc, known_keys=_keys_at(unknown[0]) if unknown else ())
        where = ".".join(str(part) for part in loc) or "config"
        raise ConfigError(f"{origin}: {where}: {message}") from None


def _keys_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys a config section at ``loc`` accepts (for a suggestion when one is misspelt)."""
    model: Any = TrainConfig
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return []
        sections = [kind for kind in (field.annotation, *typing.get_args(field.annotation))
                    if isinstance(kind, type) and issubclass(kind, BaseModel)]
        if not sections:
            return []
        model = sections[0]
    return list(model.model_fields)


def load_runs(path: Path, overrides: dict[str, Any] | None = None) -> dict[str, TrainConfig]:
    """The run(s) a config file describes: ``{stem: config}``, or one entry per variant, overrides applied.

    Relative paths inside the file (data.path, a reward stack) are read relative to the file's folder.
    """
    data = read_yaml(path)
    variants = data.pop("variants", None)
    if variants is None:
        variants = {path.stem: {}}
    elif not isinstance(variants, dict) or not variants or not all(isinstance(v, dict) for v in variants.values()):
        raise ConfigError(f"{path}: variants must map run names to mappings of overrides")
    runs = {}
    for name, changes in variants.items():
        run = merge(data, changes)
        _resolve_paths(run, path.parent)  # paths in the file are the file's; paths given with --set are the user's
        for key, value in (overrides or {}).items():
            set_override(run, key, value)
        runs[str(name)] = validate(run, str(path) if len(variants) == 1 and name == path.stem
                                   else f"{path} (variant {name})")
    return runs


def _resolve_paths(data: dict[str, Any], folder: Path) -> None:
    """Make file references relative to the config file, as a reader of the file expects."""
    reward = data.get("reward")
    if isinstance(reward, str) and reward.endswith((".yaml", ".yml")) and not Path(reward).is_absolute():
        data["reward"] = str(folder / reward)
    for section in (data.get("data"), (data.get("sft") or {}).get("data"), (data.get("eval") or {}).get("data")):
        if isinstance(section, dict) and isinstance(section.get("path"), str) and not Path(section["path"]).is_absolute():
            section["path"] = str(folder / section["path"])
