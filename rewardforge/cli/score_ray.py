"""`rewardforge score --backend ray`: the same command and output, scored by a Ray Data pipeline.

The work is `rewardforge.integrations.ray.score_file`'s; this module checks the options as the
local backend does (the output is never the input, it is written to a temporary file renamed at
the end, `--param` is read by the reward's declared types) and turns failures inside Ray workers
back into the CLI's one-line errors. `--resume`, `--report` and stdin are the local backend's only.
"""

from __future__ import annotations

import logging
from pathlib import Path

from rich.markup import escape

from rewardforge.cli.console import err, fail, reward_params
from rewardforge.cli.output import Output, check_paths
from rewardforge.core.errors import RewardError
from rewardforge.records import RecordError, parse_field_map


def score_on_ray(backend: str, reward: str, input: str, output: str, param: list[str] | None,
                 field: list[str] | None, timeout: float | None, step: int, cache: Path | None,
                 batch_size: int, address: str | None, *, on_bad_line: str, force: bool, resume: bool,
                 report: Path | None) -> None:
    if backend != "ray":
        fail(f"--backend must be local or ray, got {backend!r}")
    for flag, given in (("--resume", resume), ("--report", report is not None), ("stdin (-i -)", input == "-")):
        if given:
            fail(f"{flag} is not available with --backend ray; score locally for it")
    if not Path(input).exists():
        fail(f"input file not found: {input}")
    if timeout is not None and timeout <= 0:
        fail(f"--timeout must be positive, got {timeout}")
    check_paths(input, output)
    try:
        import ray
        import ray.data  # configures Ray Data's loggers, which the next lines then quiet
    except ImportError:
        fail("--backend ray needs Ray: pip install 'rewardforge[ray]'")
    from rewardforge.integrations.ray import score_file

    # Ray Data logs each failed batch with its traceback; the CLI says what went wrong in one line.
    logging.getLogger("ray.data").setLevel(logging.CRITICAL)
    params = None
    try:
        field_map = parse_field_map(field or [])
        params = reward_params(reward, param or [])
    except (RewardError, RecordError) as exc:
        fail(f"{exc}{params.advice(getattr(exc, 'param', None)) if params else ''}")
    sink = Output(output, resume=False, force=force)
    try:
        summary = score_file(reward, input, sink, params=params.values, timeout=timeout, step=step,
                             cache=str(cache) if cache else None, field_map=field_map, batch_size=batch_size,
                             address=address, skip_bad=on_bad_line == "skip")
    except (ray.exceptions.RayError, ConnectionError) as exc:  # first: Ray's wrappers also subclass the cause
        _keep(sink)
        cause = _root_cause(exc)
        message = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
        fail(message if isinstance(cause, RewardError | RecordError) else f"ray: {message}")
    except (RewardError, RecordError, ValueError) as exc:
        _keep(sink)
        fail(str(exc))
    sink.commit()
    err.print(summary.table(escape(f"{reward} on {Path(input).name} (ray)")))


def _keep(sink: Output) -> None:
    """A failed run keeps the rows it wrote, in order (the local backend does the same)."""
    if sink.rows:
        sink.commit()
    else:
        sink.discard()


def _root_cause(exc: BaseException) -> BaseException:
    """The exception a Ray worker raised, out of Ray's wrappers (RayTaskError, UserCodeException)."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "cause", None) or exc.__cause__
        if not isinstance(inner, BaseException):
            break
        exc = inner
    return exc
