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
- `rewardforge score --backend ray` uses `score_file`: JSONL lines are read in the workers by the
  local backend's own reader (`records.read_line`, line numbers included), and the output file is
  byte-identical to a local run, bad-line error rows too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from rewardforge.core.engine import CacheSetting, score
from rewardforge.core.errors import SampleError
from rewardforge.core.registry import resolve
from rewardforge.core.samples import sample_from_row
from rewardforge.core.stack import parse_stack
from rewardforge.core.types import Reward, RewardError, Sample, Score
from rewardforge.core.yaml_files import read_yaml_file
from rewardforge.records import BadLine, RecordError, bad_line_row, dump_line, read_line, scored_row
from rewardforge.summary import ScoreSummary

if TYPE_CHECKING:
    import ray.data

_LINE, _SCORE, _NUMBER, _RAW = "line", "score", "number", "raw"


def portable_spec(reward: Reward | str | Path) -> Reward | str | dict[str, Any]:
    """What travels to the workers: YAML stacks by content (read here), anything else as given."""
    if isinstance(reward, Path) or (isinstance(reward, str) and reward.endswith((".yaml", ".yml"))):
        path = Path(reward)
        data = read_yaml_file(path, "reward stack file")
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

    `jsonl=True`: the input rows are numbered raw lines of a JSONL file, read here by
    `records.read_line`, as the local CLI reads them (a bad line fails the run, or with `skip_bad`
    becomes the same error row). `lines=True` (the CLI): each output row is the finished output line
    plus the Score (for the driver's summary); otherwise the input's columns come back with the
    verdict columns appended.
    """

    def __init__(self, spec: Reward | str | dict[str, Any], params: Mapping[str, Any] | None,
                 timeout: float | None, step: int, cache: CacheSetting, field_map: Mapping[str, str],
                 jsonl: bool, lines: bool, skip_bad: bool = False) -> None:
        self.reward = build_reward(spec, params)
        self.timeout = timeout
        self.step = step
        self.cache = cache
        self.field_map = dict(field_map)
        self.jsonl = jsonl
        self.lines = lines
        self.skip_bad = skip_bad

    def __call__(self, batch: pa.Table) -> pa.Table:
        if self.jsonl:
            return self._score_lines(batch)
        rows = batch.to_pylist()
        verdicts = self._score([_sample(row, self.field_map) for row in rows])
        if self.lines:
            return _lines_table([(scored_row(row, v), v) for row, v in zip(rows, verdicts, strict=True)])
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

    def _score(self, samples: list[Sample]) -> list[Score]:
        return score(self.reward, samples, timeout=self.timeout, step=self.step, cache=self.cache)

    def _score_lines(self, batch: pa.Table) -> pa.Table:
        numbers, raws = batch.column(_NUMBER).to_pylist(), batch.column(_RAW).to_pylist()
        items = [item for n, raw in zip(numbers, raws, strict=True)
                 if (item := read_line(n, raw, self.field_map)) is not None]
        bad = [item for item in items if isinstance(item, BadLine)]
        if bad and not self.skip_bad:
            raise RecordError(bad[0].problem)
        records = [item for item in items if not isinstance(item, BadLine)]
        verdicts = iter(self._score([record.sample for record in records]))
        out: list[tuple[dict[str, Any], Score]] = []
        for item in items:  # input order, each bad line's error row in its place (as the CLI writes it)
            if isinstance(item, BadLine):
                out.append((bad_line_row(item), Score.error(item.problem)))
            else:
                verdict = next(verdicts)
                out.append((scored_row(item.row, verdict), verdict))
        return _lines_table(out)


def _lines_table(scored: list[tuple[dict[str, Any], Score]]) -> pa.Table:
    """Each finished output row as its JSON line, and its Score (without `info`) for the driver's summary."""
    return pa.table({
        _LINE: pa.array([dump_line(row).decode() for row, _ in scored], pa.string()),
        _SCORE: pa.array([v.model_dump_json(exclude={"info"}) for _, v in scored], pa.string()),
    })


def _json(value: Any) -> str:
    return dump_line(value).decode().rstrip("\n")


def _sample(row: dict[str, Any], field_map: Mapping[str, str]) -> Sample:
    """The core rule for a row (`sample_from_row`); a Ray worker knows no line number, so the row is named by its start."""
    try:
        return sample_from_row(row, field_map).sample
    except SampleError as exc:
        start = dump_line(row).decode()[:60]
        raise RecordError(f"the row starting {start!r}: {exc}") from None


def _numbered_lines(batch: pa.Table) -> pa.Table:
    """Whole JSONL files (`read_binary_files`) as numbered raw lines, split as a Python file iterates them."""
    numbers: list[int] = []
    raws: list[bytes] = []
    for data in batch.column("bytes").to_pylist():
        for number, raw in enumerate(data.split(b"\n"), start=1):
            numbers.append(number)
            raws.append(raw)
    return pa.table({_NUMBER: pa.array(numbers, pa.int64()), _RAW: pa.array(raws, pa.binary())})


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
    built = build_reward(spec, params)
    if getattr(built, "batched", False):
        raise RewardError(f"reward {built.name!r} is batch-relative (it compares the samples of a batch or a "
                          "GRPO group), and Ray's batches may split a group; score it with the local backend")
    return spec


def _map(spec: Reward | str | dict[str, Any], ds: ray.data.Dataset, *, params: Mapping[str, Any] | None,
         timeout: float | None, step: int, cache: CacheSetting, field_map: Mapping[str, str] | None,
         batch_size: int, compute: Any, num_cpus: float, jsonl: bool, lines: bool,
         skip_bad: bool = False) -> ray.data.Dataset:
    return ds.map_batches(
        _Scorer,
        fn_constructor_kwargs={"spec": spec, "params": dict(params or {}), "timeout": timeout, "step": step,
                               "cache": cache, "field_map": dict(field_map or {}), "jsonl": jsonl,
                               "lines": lines, "skip_bad": skip_bad},
        batch_size=batch_size, batch_format="pyarrow", compute=compute, num_cpus=num_cpus,
    )


class LineSink(Protocol):
    """Where `score_file` writes output lines: a binary file, or the CLI's atomic `Output`."""

    def write(self, line: bytes, /) -> object: ...

    def flush(self) -> object: ...


def is_parquet(path: str | Path) -> bool:
    return str(path).endswith((".parquet", ".pq")) or Path(path).is_dir()


def score_file(
    reward: Reward | str | Path,
    input: str | Path,
    sink: LineSink,
    *,
    params: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    step: int = 0,
    cache: CacheSetting = None,
    field_map: Mapping[str, str] | None = None,
    batch_size: int = 256,
    workers: int | None = None,
    address: str | None = None,
    skip_bad: bool = False,
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
    # Reading is light and reserves no CPU: it must not wait for one the scoring actors hold.
    if parquet:
        ds = ray.data.read_parquet(str(input), num_cpus=0)
    else:  # the file's bytes, split into numbered lines as Python iterates a file, read by the workers
        ds = ray.data.read_binary_files(str(input), num_cpus=0).map_batches(
            _numbered_lines, batch_format="pyarrow", num_cpus=0)
    most = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    ds = _map(spec, ds, params=params, timeout=timeout, step=step, cache=cache, field_map=field_map,
              batch_size=batch_size, compute=ActorPoolStrategy(min_size=1, max_size=most), num_cpus=1.0,
              jsonl=not parquet, lines=True, skip_bad=skip_bad)
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
