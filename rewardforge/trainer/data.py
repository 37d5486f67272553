"""Training, warm-start and held-out rows from a toy task, a JSONL file or a Hugging Face dataset.

A row is a dict with ``prompt`` (text or chat messages), ``reference`` (whatever the reward needs) and,
for the warm start, ``completion``; other columns ride along as ``metadata`` for the reward.
"""

from __future__ import annotations

import random
from typing import Any

from rewardforge.records import RecordError, read_rows
from rewardforge.trainer.config import DataConfig
from rewardforge.trainer.errors import ConfigError
from rewardforge.trainer.toys import TASKS

ROW_FIELDS = ("prompt", "reference", "completion")


def load_rows(config: DataConfig, *, need_completion: bool = False) -> list[dict[str, Any]]:
    """Rows in a stable order (the trainer's sampler is seeded separately); errors name the source."""
    if config.task is not None:
        try:
            raw = TASKS[config.task](config.params, config.split)
        except ValueError as exc:
            raise ConfigError(f"data: {exc}") from None
    elif config.path is not None:
        raw = _jsonl(config)
    else:
        raw = _huggingface(config)
    rows = [_row(item, config, number) for number, item in enumerate(raw, start=1)]
    if config.limit is not None:
        rows = rows[: config.limit]
    if not rows:
        raise ConfigError(f"data: {_describe(config)} holds no rows")
    if need_completion and any(row.get("completion") is None for row in rows):
        raise ConfigError(f"sft: {_describe(config)} rows need a completion (map one with fields.completion)")
    return rows


def _row(item: dict[str, Any], config: DataConfig, number: int) -> dict[str, Any]:
    columns = {field: config.fields.get(field, field) for field in ROW_FIELDS}
    if columns["prompt"] not in item:
        raise ConfigError(f"data: {_describe(config)} row {number} has no {columns['prompt']!r} column "
                          f"(columns: {', '.join(sorted(item)) or 'none'}; map one with fields.prompt)")
    row = {field: item.get(column) for field, column in columns.items()}
    row["metadata"] = {key: value for key, value in item.items() if key not in columns.values()}
    return row


def _jsonl(config: DataConfig) -> list[dict[str, Any]]:
    assert config.path is not None
    try:
        with config.path.open("rb") as stream:
            return [row for _, row in read_rows(stream)]
    except OSError as exc:
        raise ConfigError(f"data: cannot read {config.path}: {exc.strerror or exc}") from None
    except RecordError as exc:
        raise ConfigError(f"data: {config.path} {exc}") from None


def _huggingface(config: DataConfig) -> list[dict[str, Any]]:
    try:
        import datasets
    except ImportError:
        raise ConfigError("data.hf needs the datasets package (pip install 'rewardforge[trainer]')") from None
    dataset = datasets.load_dataset(config.hf, config.hf_config, split=config.split)
    return [dict(item) for item in dataset]


def _describe(config: DataConfig) -> str:
    if config.task is not None:
        return f"task {config.task!r} (split {config.split})"
    return str(config.path) if config.path is not None else f"{config.hf} (split {config.split})"


def draw_prompts(rows: list[dict[str, Any]], count: int, seed: int, step: int, round_: int) -> list[dict[str, Any]]:
    """The prompts of one sampling round, a function of (seed, step, round) only: a resumed run draws the same."""
    draw = random.Random(f"{seed}:{step}:{round_}")
    return draw.sample(rows, count) if count <= len(rows) else draw.choices(rows, k=count)


def torch_seed(seed: int, step: int, round_: int) -> int:
    return random.Random(f"torch:{seed}:{step}:{round_}").getrandbits(63)
