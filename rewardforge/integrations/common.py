"""What every trainer adapter shares: the reward it scores with, Samples from the trainer's
arguments, the status policy, and the numbers it logs.

Rules every adapter follows (and why):
- **Scoring is the engine's.** An adapter turns a trainer's arguments into Samples and Scores into
  the trainer's return shape; `BoundReward` only calls `score` / `ascore`.
- **Nothing of the trainer's enters a Sample.** Trainers pass callbacks, their state and loggers
  next to the data (TRL's `trainer_state`, `log_metric`); a Sample travels to worker processes,
  so only plain data (str, numbers, lists, dicts) is copied in.
- **One status policy vocabulary.** `on_skipped=` / `on_error=` take `None` (the trainer's NaN
  path, TRL only), a float, or `"raise"`. Whatever the policy, the share of skipped and errored
  samples is logged, so a 0.0 stand-in is never silent.
- **Picklable, module-level objects.** TRL's async GRPO pickles reward functions into a spawned
  process and verl ships them to Ray actors: an adapter pickles its reward by spec (a name or a
  path) and resolves it again on the other side.
- **No signals, no blocking.** Adapters run in trainer threads and event loops; the async forms
  resolve the reward off the loop and await `ascore`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias

from rewardforge.core.compose import Component, Composite
from rewardforge.core.engine import CacheSetting, ascore, score
from rewardforge.core.errors import RewardforgeError
from rewardforge.core.registry import resolve
from rewardforge.core.stack import parse_stack
from rewardforge.core.types import Reward, RewardError, Sample, Score, message_text

logger = logging.getLogger("rewardforge.integrations")

#: What `on_skipped=` / `on_error=` accept: a stand-in value, None (NaN in TRL), or "raise".
StatusValue: TypeAlias = float | Literal["raise"] | None

#: Environment variables read when no reward is given in code (OpenRLHF's `.py` mode, slime, verl).
ENV_REWARD = "REWARDFORGE_REWARD"
ENV_PARAMS = "REWARDFORGE_PARAMS"

#: Keys every per-sample record carries next to the components (verl, OpenRLHF, slime).
STATUS_KEYS = ("rf_ok", "rf_skipped", "rf_error")

RewardSpec: TypeAlias = Reward | str | Path | Mapping[str, Any]


class ScoreStatusError(RewardforgeError, RuntimeError):
    """A skipped or errored sample met the policy "raise"; names the reward, count and first reason."""


# ---------------------------------------------------------------------------------------------
# The status policy


def _check_status_value(option: str, value: Any, *, allow_none: bool, trainer: str) -> StatusValue:
    if value is None:
        if not allow_none:
            raise ValueError(f"{option}=None is a NaN reward, which {trainer} does not accept; "
                             "give a float (e.g. 0.0) or 'raise'")
        return None
    if value == "raise":
        return "raise"
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{option} must be None, a finite float or 'raise', got {value!r}")
    return float(value)


@dataclass(frozen=True)
class StatusPolicy:
    """What a skipped or errored Score becomes in a trainer that wants one number per sample."""

    on_skipped: StatusValue = None
    on_error: StatusValue = None

    @classmethod
    def make(cls, on_skipped: Any, on_error: Any, *, allow_none: bool = True, trainer: str = "this trainer"
             ) -> StatusPolicy:
        """A validated policy; `allow_none=False` for trainers that cannot take NaN (verl, OpenRLHF, slime)."""
        return cls(_check_status_value("on_skipped", on_skipped, allow_none=allow_none, trainer=trainer),
                   _check_status_value("on_error", on_error, allow_none=allow_none, trainer=trainer))

    def check(self, scores: Sequence[Score], *, reward_name: str) -> None:
        """Raise ScoreStatusError when a status whose policy is "raise" occurs."""
        for status, policy in (("skipped", self.on_skipped), ("error", self.on_error)):
            if policy != "raise":
                continue
            bad = [s for s in scores if s.status == status]
            if bad:
                raise ScoreStatusError(f"reward {reward_name!r}: {len(bad)} of {len(scores)} samples {status} "
                                       f"(on_{'skipped' if status == 'skipped' else 'error'}='raise'); "
                                       f"first: {bad[0].reason}")

    def value(self, score: Score) -> float | None:
        """The number a trainer gets for one Score (call `check` first for "raise")."""
        if score.status == "ok":
            return score.value
        policy = self.on_skipped if score.status == "skipped" else self.on_error
        if policy == "raise":
            raise ScoreStatusError(f"a {score.status} sample under policy 'raise': {score.reason}")
        return policy

    def values(self, scores: Sequence[Score], *, reward_name: str) -> list[float | None]:
        self.check(scores, reward_name=reward_name)
        return [self.value(s) for s in scores]


# ---------------------------------------------------------------------------------------------
# The reward an adapter scores with


class BoundReward:
    """A reward with its scoring options, resolved once per process and picklable by its spec.

    The spec (a registry name, `pkg.module:attr`, a YAML path, a stack mapping or a Reward) is
    resolved when the adapter is built, so a typo fails at setup, not at step 300. A pickled
    BoundReward carries the spec, not the resolved object, and resolves it again where it lands.
    """

    def __init__(self, spec: RewardSpec, *, params: Mapping[str, Any] | None = None,
                 timeout: float | None = None, cache: CacheSetting = None, part: str | None = None) -> None:
        if isinstance(spec, Path):
            spec = str(spec)
        if isinstance(spec, Mapping):
            spec = dict(spec)
            if params:
                raise RewardError("params cannot be given for a stack mapping; set them inside it")
        self.spec: Reward | str | dict[str, Any] = spec
        self.params = dict(params or {})
        self.timeout = timeout
        self.cache = cache
        self.part = part
        self._reward: Reward | None = None
        self._lock = threading.Lock()
        self.name = self.reward.name

    @property
    def reward(self) -> Reward:
        if self._reward is None:
            with self._lock:
                if self._reward is None:
                    self._reward = self._resolve()
        return self._reward

    def _resolve(self) -> Reward:
        if isinstance(self.spec, dict):
            reward = parse_stack(self.spec, origin="reward stack")
        else:
            reward = resolve(self.spec, self.params or None)
        return reward if self.part is None else component(reward, self.part).reward

    def score(self, samples: Sequence[Sample], *, step: int = 0) -> list[Score]:
        return score(self.reward, samples, timeout=self.timeout, step=step, cache=self.cache)

    async def ascore(self, samples: Sequence[Sample], *, step: int = 0) -> list[Score]:
        """Never blocks the caller's loop: first-time resolution (imports, YAML) runs on a thread."""
        reward = self._reward if self._reward is not None else await asyncio.to_thread(lambda: self.reward)
        return await ascore(reward, samples, timeout=self.timeout, step=step, cache=self.cache)

    def component_names(self) -> list[str]:
        """Every component a composite can report, nested ones as `outer.inner`, in declaration order.

        Trainers that take a key set from the first sample (verl) need the same keys for every
        sample, so records list them all, not only those a given Score happened to compute.
        """
        return composite_component_names(self.reward)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_lock")
        if not isinstance(self.spec, Reward):
            state["_reward"] = None  # resolved again on the other side, by spec
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<BoundReward {self.name}>"


def component(reward: Reward, name: str) -> Component:
    """The top-level component `name` of a composite (to score it on its own)."""
    parts = reward.components if isinstance(reward, Composite) else []
    for part in parts:
        if part.name == name:
            return part
    raise RewardError(f"reward {reward.name!r} has no component {name!r}; it has {[p.name for p in parts]}")


def composite_component_names(reward: Reward) -> list[str]:
    if not isinstance(reward, Composite):
        return []
    names: list[str] = []
    for component in reward.components:
        names.append(component.name)
        names.extend(f"{component.name}.{sub}" for sub in composite_component_names(component.reward))
    return names


def reward_from_env(what: str) -> BoundReward:
    """The reward named by $REWARDFORGE_REWARD (params as JSON in $REWARDFORGE_PARAMS)."""
    spec = os.environ.get(ENV_REWARD)
    if not spec:
        raise RewardError(f"{what}: no reward given; set {ENV_REWARD}=NAME_OR_YAML "
                          f"(and {ENV_PARAMS}='{{\"key\": value}}' for params)")
    raw = os.environ.get(ENV_PARAMS) or "{}"
    try:
        params = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RewardError(f"{ENV_PARAMS} is not valid JSON: {exc}") from None
    if not isinstance(params, dict):
        raise RewardError(f"{ENV_PARAMS} must be a JSON object, got {type(params).__name__}")
    return BoundReward(spec, params=params)


# ---------------------------------------------------------------------------------------------
# Samples from trainer arguments

#: Arguments trainers pass next to the data that are the trainer's, never the sample's.
TRAINER_OBJECTS = frozenset({"trainer_state", "log_metric", "log_extra", "environments", "completion_ids"})


@dataclass(frozen=True)
class FieldMap:
    """Which trainer columns fill a Sample's reference, metadata and group_id.

    `metadata=None` copies every column that holds plain data (dataset columns a reward may read,
    such as a difficulty or a test list); a list copies exactly those columns.
    """

    reference: str | None = "answer"
    metadata: tuple[str, ...] | None = None
    group_id: str | None = None

    @classmethod
    def make(cls, reference_column: str | None = "answer", field_map: Mapping[str, Any] | None = None) -> FieldMap:
        field_map = dict(field_map or {})
        unknown = sorted(set(field_map) - {"reference", "metadata", "group_id"})
        if unknown:
            raise ValueError(f"field_map keys must be reference, metadata or group_id; got {unknown}")
        metadata = field_map.get("metadata")
        if metadata is not None:
            if isinstance(metadata, str) or not all(isinstance(m, str) for m in metadata):
                raise ValueError(f"field_map['metadata'] must be a list of column names, got {metadata!r}")
            metadata = tuple(metadata)
        return cls(reference=field_map.get("reference", reference_column), metadata=metadata,
                   group_id=field_map.get("group_id"))

    def taken(self) -> set[str]:
        return {c for c in (self.reference, self.group_id) if c is not None}


def is_plain(value: Any, depth: int = 0) -> bool:
    """JSON-like data: safe to copy into a Sample, to pickle to a worker and to key a cache on."""
    if value is None or isinstance(value, str | bool | int | float):
        return True
    if depth > 32:
        return False
    if isinstance(value, list | tuple):
        return all(is_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_plain(v, depth + 1) for k, v in value.items())
    return False


def plain(value: Any) -> Any:
    """A plain-data value: numpy scalars and arrays, and config mappings and lists, as Python ones."""
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and type(value).__module__.startswith("numpy"):
        return tolist()
    if isinstance(value, Mapping):  # also OmegaConf's DictConfig (verl's reward_kwargs)
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [plain(v) for v in value]
    return value


def metadata_from(row: Mapping[str, Any], fields: FieldMap) -> dict[str, Any]:
    """Metadata for one sample: the mapped columns, or every plain-data column not taken elsewhere."""
    if fields.metadata is not None:
        missing = [c for c in fields.metadata if c not in row]
        if missing:
            raise KeyError(f"field_map['metadata'] names column(s) {missing} the trainer did not pass; "
                           f"it passed {sorted(row)}")
        chosen = {c: plain(row[c]) for c in fields.metadata}
        bad = sorted(c for c, v in chosen.items() if not is_plain(v))
        if bad:
            raise TypeError(f"metadata column(s) {bad} hold non-data objects "
                            f"({', '.join(type(chosen[c]).__name__ for c in bad)}), which cannot enter a Sample")
        return chosen
    out = {}
    for column, value in row.items():
        if column in TRAINER_OBJECTS or column in fields.taken():
            continue
        value = plain(value)
        if is_plain(value):
            out[column] = value
    return out


def last_assistant_text(completion: Any) -> str:
    """The text to judge: a string as is; for a chat, the last assistant message.

    Trainers put tool calls and tool results in the same list (TRL's tool loop), and the answer
    is what the assistant said last, not the last tool output.
    """
    if isinstance(completion, str):
        return completion
    if not completion:
        return ""
    messages = [m for m in completion if isinstance(m, Mapping)]
    assistant = [m for m in messages if m.get("role") == "assistant"]
    chosen = assistant[-1] if assistant else messages[-1] if messages else {}
    return message_text([dict(chosen)])


def prompt_value(prompt: Any) -> str | list[dict[str, Any]]:
    """A prompt as a Sample takes it: a string, or chat messages with plain-data content."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list | tuple) and all(isinstance(m, Mapping) for m in prompt):
        messages = [plain(dict(m)) for m in prompt]
        if is_plain(messages):
            return messages
        return "\n".join(message_text([m]) for m in messages)
    return "" if prompt is None else str(prompt)


def make_sample(prompt: Any, completion: Any, row: Mapping[str, Any], fields: FieldMap,
                extra_metadata: Mapping[str, Any] | None = None) -> Sample:
    """One Sample from a trainer's prompt, completion and that sample's column values."""
    reference = plain(row.get(fields.reference)) if fields.reference is not None else None
    group = row.get(fields.group_id) if fields.group_id is not None else None
    metadata = metadata_from(row, fields)
    if extra_metadata:
        metadata.update(extra_metadata)
    return Sample(prompt=prompt_value(prompt), completion=last_assistant_text(completion),
                  reference=reference, metadata=metadata,
                  group_id=plain(group) if isinstance(plain(group), str | int) else None)


_warned_missing: set[tuple[str, str]] = set()


def warn_missing_reference(name: str, fields: FieldMap, columns: Sequence[str]) -> None:
    """Once per reward and column: the reference column is absent, so reference-based rewards will skip."""
    if fields.reference is None or fields.reference in columns or (name, fields.reference) in _warned_missing:
        return
    _warned_missing.add((name, fields.reference))
    logger.warning("reward %r: the trainer passed no %r column (it passed %s), so samples have no reference; "
                   "set reference_column= or field_map={'reference': ...}", name, fields.reference,
                   sorted(columns))


# ---------------------------------------------------------------------------------------------
# What adapters log


def batch_metrics(scores: Sequence[Score], components: Sequence[str]) -> dict[str, float]:
    """Per batch: the skipped and error fractions and each component's mean over samples that have it.

    Components no sample computed in this batch are left out (a mean of nothing is not 0).
    """
    count = len(scores) or 1
    metrics = {
        "skipped_frac": sum(s.status == "skipped" for s in scores) / count,
        "error_frac": sum(s.status == "error" for s in scores) / count,
    }
    for name in components:
        values = [v for s in scores if (v := s.components.get(name)) is not None]
        if values:
            metrics[f"{name}/mean"] = sum(values) / len(values)
    return metrics


def sample_record(score: Score, value: float, components: Sequence[str]) -> dict[str, float]:
    """A per-sample record with the same keys for every sample: the value, each component, the status.

    For trainers that take no NaN (verl, OpenRLHF, slime): a component a Score did not compute
    is 0.0 here, and `rf_ok` says which rows hold a real total.
    """
    record = {"score": value}
    for name in components:
        component = score.components.get(name)
        record[name] = 0.0 if component is None else float(component)
    record.update(rf_ok=float(score.status == "ok"), rf_skipped=float(score.status == "skipped"),
                  rf_error=float(score.status == "error"))
    return record


def check_component_names(components: Sequence[str]) -> None:
    reserved = {"score", *STATUS_KEYS}
    clash = sorted(set(components) & reserved)
    if clash:
        raise RewardError(f"component name(s) {clash} clash with the keys adapters report; rename them")
