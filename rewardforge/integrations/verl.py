"""verl: any rewardforge reward as `reward.custom_reward_function`.

```yaml
reward:
  reward_manager: {name: naive}            # or dapo, ...
  custom_reward_function:
    path: pkg://rewardforge.integrations.verl
    name: compute_score                    # or acompute_score, awaited on verl's reward loop
    reward_kwargs:
      reward: math_equivalence             # a registry name, pkg.mod:attr, or a stack YAML
      params: {rel_tol: 1.0e-6}
      # or: reward_map: rewards.yaml       # data_source -> reward, with an optional `default`
```

verl calls `compute_score(data_source=, solution_str=, ground_truth=, extra_info=, **reward_kwargs)`
once per sample. The result is `{"score", <component>..., "rf_ok", "rf_skipped", "rf_error"}`,
with the same keys for every sample (verl takes the key set from the first sample and stacks each
key into `reward_extra_info`) and never NaN: skipped and errored samples score `on_skipped` /
`on_error` (0.0 by default, or "raise"), and `rf_skipped` / `rf_error` count them in verl's logs.
`ground_truth` is the reference; `extra_info` (plain data only) and `data_source` are the metadata;
`reward_kwargs.prompt_key` names an `extra_info` entry holding the prompt (for judges).
verl passes no training step, so step schedules stay at step 0.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rewardforge.core.types import RewardError, Sample, Score
from rewardforge.core.yaml_files import read_yaml_file
from rewardforge.integrations.common import (
    BoundReward,
    StatusPolicy,
    check_component_names,
    is_plain,
    plain,
    reward_from_env,
    sample_record,
)

_bound: dict[str, BoundReward] = {}
_bound_lock = threading.Lock()


def _cached(key: str, build: Any) -> BoundReward:
    """One resolved reward per configuration and process: verl calls once per sample."""
    bound = _bound.get(key)
    if bound is None:
        with _bound_lock:
            bound = _bound.get(key)
            if bound is None:
                bound = build()
                check_component_names(bound.component_names())
                _bound[key] = bound
    return bound


_maps: dict[str, tuple[float, dict[str, Any]]] = {}


def _load_map(path: str) -> dict[str, Any]:
    """The data_source -> reward mapping, read again only when the file changes (verl calls per sample)."""
    try:
        mtime = Path(path).stat().st_mtime
    except FileNotFoundError:
        raise RewardError(f"reward_map file not found: {path}") from None
    if path in _maps and _maps[path][0] == mtime:
        return _maps[path][1]
    mapping = read_yaml_file(path, "reward_map file")
    if not isinstance(mapping, dict) or not mapping:
        raise RewardError(f"reward_map {path}: expected a mapping data_source -> reward")
    _maps[path] = (mtime, mapping)
    return mapping


def _entry_reward(path: str, entry: Any) -> BoundReward:
    spec, params = (entry["reward"], dict(entry.get("params") or {})) if isinstance(entry, Mapping) \
        and "reward" in entry else (entry, {})
    key = json.dumps(["map", path, plain(spec), params], sort_keys=True, default=str)
    return _cached(key, lambda: BoundReward(plain(spec), params=params))


def bound_reward(data_source: str, reward: Any = None, params: Any = None, reward_map: Any = None
                 ) -> tuple[BoundReward, list[str]]:
    """The reward for one call and the component keys every sample reports.

    `reward=`/`params=`, else `reward_map=` by data_source (with a `default` entry), else the
    environment. Under a map, the keys are the union over every mapped reward: verl stacks each
    key over the whole batch, which mixes data sources.
    """
    params = plain(params) if params is not None else {}
    if reward is not None:
        spec = plain(reward)
        key = json.dumps(["reward", spec, params], sort_keys=True, default=str)
        bound = _cached(key, lambda: BoundReward(spec, params=params))
        return bound, bound.component_names()
    if reward_map is not None:
        path = str(reward_map)
        mapping = _load_map(path)
        entry = mapping.get(str(data_source), mapping.get("default"))
        if entry is None:
            raise RewardError(f"reward_map {path}: no reward for data_source {data_source!r} and no `default`; "
                              f"it maps {sorted(mapping)}")
        keys: dict[str, None] = {}
        for each in mapping.values():
            keys.update(dict.fromkeys(_entry_reward(path, each).component_names()))
        return _entry_reward(path, entry), list(keys)
    bound = _cached("env", lambda: reward_from_env("verl compute_score"))
    return bound, bound.component_names()


def to_sample(data_source: str, solution_str: str, ground_truth: Any, extra_info: Any,
              prompt_key: str | None = None) -> Sample:
    """`ground_truth` is the reference; `extra_info[prompt_key]` the prompt (for judges)."""
    info = plain(extra_info) if isinstance(extra_info, Mapping) else {}
    metadata = {k: v for k, v in info.items() if is_plain(v)}
    metadata["data_source"] = plain(data_source)
    prompt = info.get(prompt_key, "") if prompt_key is not None else ""
    return Sample(prompt=prompt if isinstance(prompt, str | list) else str(prompt), completion=solution_str,
                  reference=plain(ground_truth), metadata=metadata)


def to_result(bound: BoundReward, components: list[str], score: Score, on_skipped: Any, on_error: Any
              ) -> dict[str, float]:
    policy = StatusPolicy.make(on_skipped, on_error, allow_none=False, trainer="verl")
    value = policy.values([score], reward_name=bound.name)[0]
    assert value is not None
    return sample_record(score, value, components)


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: Any = None, *,
                  reward: Any = None, params: Any = None, reward_map: Any = None,
                  on_skipped: Any = 0.0, on_error: Any = 0.0, prompt_key: str | None = None,
                  **kwargs: Any) -> dict[str, float]:
    """verl's `compute_score`: one sample in, `{"score": float, components..., rf_ok/rf_skipped/rf_error}` out."""
    bound, components = bound_reward(data_source, reward, params, reward_map)
    [score] = bound.score([to_sample(data_source, solution_str, ground_truth, extra_info, prompt_key)])
    return to_result(bound, components, score, on_skipped, on_error)


async def acompute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: Any = None, *,
                         reward: Any = None, params: Any = None, reward_map: Any = None,
                         on_skipped: Any = 0.0, on_error: Any = 0.0, prompt_key: str | None = None,
                         **kwargs: Any) -> dict[str, float]:
    """The async twin: verl awaits it on its reward loop, which it never blocks (resolving a
    reward the first time reads files and imports modules, so that runs on a thread)."""
    bound, components = await asyncio.to_thread(bound_reward, data_source, reward, params, reward_map)
    [score] = await bound.ascore([to_sample(data_source, solution_str, ground_truth, extra_info, prompt_key)])
    return to_result(bound, components, score, on_skipped, on_error)
