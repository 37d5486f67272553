"""Scoring datasets that outgrow one machine, as a Ray Data pipeline.

```python
import ray
from rewardforge.integrations.ray import score_dataset

ds = ray.data.read_parquet("s3://bucket/rollouts/")           # prompt, completion, reference, ...
scored = score_dataset("math_equivalence", ds, workers=16)    # + reward, status, reason, components, info
scored.write_parquet("s3://bucket/scored/")
```

Ray does the distribution; rewardforge adds none of its own. Each Ray worker is a `map_batches`
actor that resolves the reward once and keeps its engine warm (worker processes, sympy workers,
verdict cache) across all the batches it is given, and every batch goes through `rf.score`, so the
statuses and values are those of the local backend, row for row.

- Rows are read as the CLI reads them (`rewardforge.records`): `prompt`, `completion`,
  `reference`, `metadata`, `group_id`, with `field_map={"reference": "answer"}` for other columns;
  every other column passes through.
- `components` and `info` come back as JSON text (an Arrow column needs one type, and `info`
  differs from reward to reward); `reward` is null when `status` is not `ok`, never a 0.
- A reward given as a YAML stack is read here and shipped as its contents, so workers on other
  nodes need not see the file. Rewards by name or `pkg.module:attr` must import on every node.
- `rewardforge score --backend ray` uses `score_file`: JSONL lines are parsed in the workers with
  the same parser as the local backend, and the output file is byte-identical to a local run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson
import pyarrow as pa
import yaml

from rewardforge.core.engine import CacheSetting, score
from rewardforge.core.registry import resolve
from rewardforge.core.stack import parse_stack
from rewardforge.core.types import Reward, RewardError, Sample, Score
from rewardforge.records import RecordError, dump_line, scored_row, to_sample
from rewardforge.summary import ScoreSummary

if TYPE_CHECKING:
    import ray.data

_LINE, _SCORE, _TEXT = "line", "score", "text"


def portable_spec(reward: Reward | str | Path) -> Reward | str | dict[str, Any]:
    """What travels to the workers: YAML stacks by content (read here), anything else as given."""
    if isinstance(reward, Path) or (isinstance(reward, str) and reward.endswith((".yaml", ".yml"))):
        path = Path(reward)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise RewardError(f"cannot read stack {str(path)!r}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise RewardError(f"stack {str(path)!r} is not valid YAML: {exc}") from None
        parse_stack(data, origin=str(path))  # fail here, in the driver, not in every worker
        return data
    return reward


def build_reward(spec: Reward | str | dict[str, Any], params: Mapping[str, Any] | None) -> Reward:
    if isinstance(spec, dict):
        if params:
            raise RewardError("params cannot be given for a YAML stack; set them inside the file")
        return parse_stack(spec, origin="stack")
    return resolve(spec, dict(params) if params else None)


class _Scorer:
    """One Ray Data actor: the reward resolved once, the engine warm across every batch it scores.

    `jsonl=True`: each input row is one line of JSONL text (`ray.data.read_text`), parsed here.
    `lines=True` (the CLI): each output row is the finished output line plus the Score (for the
    driver's summary); otherwise the input's columns come back with the verdict columns appended.
    """

    def __init__(self, spec: Reward | str | dict[str, Any], params: Mapping[str, Any] | None,
                 timeout: float | None, step: int, cache: CacheSetting, field_map: Mapping[str, str],
                 jsonl: bool, lines: bool) -> None:
        self.reward = build_reward(spec, params)
        self.timeout = timeout
        self.step = step
        self.cache = cache
        self.field_map = dict(field_map)
        self.jsonl = jsonl
        self.lines = lines

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = [_parse_line(text) for text in batch.column(_TEXT).to_pylist()] if self.jsonl else batch.to_pylist()
        samples = [_sample(row, self.field_map) for row in rows]
        verdicts = score(self.reward, samples, timeout=self.timeout, step=self.step, cache=self.cache)
        if self.lines:
            return pa.table({
                _LINE: [dump_line(scored_row(row, v)).decode() for row, v in zip(rows, verdicts, strict=True)],
                _SCORE: [v.model_dump_json(exclude={"info"}) for v in verdicts],
            })
        columns = {
            "reward": pa.array([v.value for v in verdicts], pa.float64()),
            "status": pa.array([v.status for v in verdicts], pa.string()),
            "reason": pa.array([v.reason for v in verdicts], pa.string()),
            "components": pa.array([_json(v.components) for v in verdicts], pa.string()),
            "info": pa.array([_json(v.info) for v in verdicts], pa.string()),
        }
        for name, values in columns.items():
            if name in batch.column_names:
                batch = batch.drop_columns([name])  # a re-scored dataset gets fresh verdicts
            batch = batch.append_column(name, values)
        return batch


def _json(value: Any) -> str:
    return dump_line(value).decode().rstrip("\n")


def _parse_line(text: str) -> dict[str, Any]:
    try:
        row = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise RecordError(f"invalid JSON in the line starting {text[:60]!r}: {exc}") from None
    if not isinstance(row, dict):
        raise RecordError(f"expected a JSON object, got {type(row).__name__} in the line starting {text[:60]!r}")
    return row


def _sample(row: dict[str, Any], field_map: Mapping[str, str]) -> Sample:
    """`records.to_sample`, with the row named by its start: a Ray worker does not know line numbers."""
    try:
        return to_sample(row, field_map, line=0)
    except RecordError as exc:
        detail = str(exc).partition(": ")[2]
        start = dump_line(row).decode()[:60]
        raise RecordError(f"the row starting {start!r}: {detail}") from None


def score_dataset(
    reward: Reward | str | Path,
    ds: ray.data.Dataset,
    *,
    params: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    step: int = 0,
    cache: CacheSetting = None,
    field_map: Mapping[str, str] | None = None,
    batch_size: int = 256,
    workers: int | None = None,
    num_cpus: float = 1.0,
) -> ray.data.Dataset:
    """`ds` with `reward`, `status`, `reason`, `components` and `info` columns appended (lazily, as Ray does).

    - `reward`, `params`, `timeout`, `step`, `cache`: as for `rf.score`; a `cache` path should be
      on a disk every worker shares, else each worker keeps its own.
    - `field_map`: Sample field -> column, e.g. `{"reference": "answer"}`.
    - `workers`: a fixed number of scoring actors (default: Ray scales the pool to the work);
      `num_cpus`: the CPUs each reserves. A fixed pool holds its CPUs from the start, so leave
      Ray one for reading files. Rewards that run worker processes use more of their node.
    """
    from ray.data import ActorPoolStrategy

    spec = checked_spec(reward, params, timeout=timeout, batch_size=batch_size, workers=workers)
    compute = ActorPoolStrategy(size=workers) if workers else ActorPoolStrategy(min_size=1, max_size=None)
    return _map(spec, ds, params=params, timeout=timeout, step=step, cache=cache, field_map=field_map,
                batch_size=batch_size, compute=compute, num_cpus=num_cpus, jsonl=False, lines=False)


def checked_spec(reward: Reward | str | Path, params: Mapping[str, Any] | None, *, timeout: float | None,
                 batch_size: int, workers: int | None) -> Reward | str | dict[str, Any]:
    """The spec to ship, once a bad reward, param or option has failed here, in the driver, with its message."""
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout}")
    if batch_size < 1 or (workers is not None and workers < 1):
        raise ValueError("batch_size and workers must be at least 1")
    spec = portable_spec(reward)
    build_reward(spec, params)
    return spec


def _map(spec: Reward | str | dict[str, Any], ds: ray.data.Dataset, *, params: Mapping[str, Any] | None,
         timeout: float | None, step: int, cache: CacheSetting, field_map: Mapping[str, str] | None,
         batch_size: int, compute: Any, num_cpus: float, jsonl: bool, lines: bool) -> ray.data.Dataset:
    return ds.map_batches(
        _Scorer,
        fn_constructor_kwargs={"spec": spec, "params": dict(params or {}), "timeout": timeout, "step": step,
                               "cache": cache, "field_map": dict(field_map or {}), "jsonl": jsonl,
                               "lines": lines},
        batch_size=batch_size, batch_format="pyarrow", compute=compute, num_cpus=num_cpus,
    )


def is_parquet(path: str | Path) -> bool:
    return str(path).endswith((".parquet", ".pq")) or Path(path).is_dir()


def score_file(
    reward: Reward | str | Path,
    input: str | Path,
    sink: IO[bytes],
    *,
    params: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    step: int = 0,
    cache: CacheSetting = None,
    field_map: Mapping[str, str] | None = None,
    batch_size: int = 256,
    workers: int | None = None,
    address: str | None = None,
) -> ScoreSummary:
    """Score a JSONL or Parquet file on Ray and write the local backend's JSONL output, in input order.

    Joins the cluster at `address` ("auto": the one running here) or starts a local Ray. The
    scoring actors scale from 1 to `workers` (default: one per CPU of the cluster); a fixed pool
    would hold every CPU from the start, and Ray's file listing, which needs one, would wait for ever.
    """
    import ray
    import ray.data
    from ray.data import ActorPoolStrategy

    spec = checked_spec(reward, params, timeout=timeout, batch_size=batch_size, workers=workers)
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # the output follows the input, as locally
    context.raise_original_map_exception = True  # a bad line's RecordError, not Ray's wrapper
    parquet = is_parquet(input)
    if Path(input).exists():  # Ray's readers run in workers with another working directory
        input = Path(input).resolve()
    # JSONL goes in as raw lines (blank ones dropped, as locally) for the workers to parse as the CLI does.
    read = ray.data.read_parquet if parquet else ray.data.read_text
    ds = read(str(input), num_cpus=0)  # reading is light: it must not wait for a CPU the actors hold
    most = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    ds = _map(spec, ds, params=params, timeout=timeout, step=step, cache=cache, field_map=field_map,
              batch_size=batch_size, compute=ActorPoolStrategy(min_size=1, max_size=most), num_cpus=1.0,
              jsonl=not parquet, lines=True)
    summary = ScoreSummary()
    for line, verdict in _scored_lines(ds):
        sink.write(line)
        summary.add(verdict)
    sink.flush()
    return summary


def _scored_lines(ds: ray.data.Dataset) -> Iterator[tuple[bytes, Score]]:
    for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None):
        assert isinstance(batch, pa.Table)
        for line, verdict in zip(batch.column(_LINE).to_pylist(), batch.column(_SCORE).to_pylist(), strict=True):
            yield line.encode(), Score.model_validate_json(verdict)
