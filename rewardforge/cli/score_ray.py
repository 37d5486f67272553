"""`rewardforge score --backend ray`: the same command and output, scored by a Ray Data pipeline.

The work is `rewardforge.integrations.ray.score_file`'s; this module only checks the options and
turns failures inside Ray workers back into the CLI's one-line errors.
"""

from __future__ import annotations

import logging
from pathlib import Path

from rewardforge.cli.console import err, fail, parse_params
from rewardforge.core.types import RewardError
from rewardforge.records import RecordError, parse_field_map


def score_on_ray(backend: str, reward: str, input: Path, output: str, param: list[str] | None,
                 field: list[str] | None, timeout: float | None, step: int, cache: Path | None,
                 batch_size: int, address: str | None) -> None:
    if backend != "ray":
        fail(f"--backend must be local or ray, got {backend!r}")
    if not input.exists():
        fail(f"input file not found: {input}")
    if timeout is not None and timeout <= 0:
        fail(f"--timeout must be positive, got {timeout}")
    try:
        import ray
        import ray.data  # configures Ray Data's loggers, which the next lines then quiet
    except ImportError:
        fail("--backend ray needs Ray: pip install 'rewardforge[ray]'")
    from rewardforge.cli.score import open_output
    from rewardforge.integrations.ray import score_file

    # Ray Data logs each failed batch with its traceback; the CLI says what went wrong in one line.
    logging.getLogger("ray.data").setLevel(logging.CRITICAL)

    try:
        field_map = parse_field_map(field or [])
        params = parse_params(param or [])
        with open_output(output) as sink:
            summary = score_file(reward, input, sink, params=params, timeout=timeout, step=step,
                                 cache=str(cache) if cache else None, field_map=field_map,
                                 batch_size=batch_size, address=address)
    except (ray.exceptions.RayError, ConnectionError) as exc:  # first: Ray's wrappers also subclass the cause
        cause = _root_cause(exc)
        message = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
        fail(message if isinstance(cause, RewardError | RecordError) else f"ray: {message}")
    except (RewardError, RecordError, ValueError) as exc:
        fail(str(exc))
    err.print(summary.table(f"{reward} on {input.name} (ray)"))


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
