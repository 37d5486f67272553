"""`rewardforge serve`: the reward server (see `rewardforge.integrations.server`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from rewardforge.cli.console import err, fail, reward_params
from rewardforge.core.cache import VerdictCache
from rewardforge.core.registry import resolve
from rewardforge.core.types import RewardError


def serve(
    reward: Annotated[list[str], typer.Option(
        "--reward", "-r", help="registry name, pkg.module:attr, file.py:attr, or stack YAML; repeat to serve several "
        "(the first is the default; clients pick others by name)")],
    param: Annotated[list[str] | None, typer.Option(
        "--param", "-p", help="KEY=VALUE param of the first --reward")] = None,
    host: Annotated[str, typer.Option(help="address to listen on; other than loopback needs --token-file")
                    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on (0: any free port)")] = 5000,
    token_file: Annotated[Path | None, typer.Option(
        help="file holding the bearer token clients must send (Authorization: Bearer TOKEN)")] = None,
    timeout: Annotated[float, typer.Option(help="per-sample wall-clock limit, seconds (0: none)")] = 30.0,
    max_batch: Annotated[int, typer.Option(help="most samples merged into one engine call")] = 256,
    batch_wait_ms: Annotated[float, typer.Option(
        help="how long a request waits for others to join its engine call")] = 5.0,
    max_in_flight: Annotated[int, typer.Option(help="engine calls running at once")] = 4,
    max_body_mb: Annotated[float, typer.Option(help="largest request body, MiB")] = 16.0,
    max_samples: Annotated[int, typer.Option(help="most samples in one request")] = 4096,
    strip_token: Annotated[list[str] | None, typer.Option(
        help="OpenRLHF: a special token to strip from queries, besides the common chat-template ones")] = None,
    no_default_strip_tokens: Annotated[bool, typer.Option(
        "--no-default-strip-tokens", help="OpenRLHF: strip only the --strip-token ones")] = False,
    label_format: Annotated[str, typer.Option(help="OpenRLHF: labels are 'text', or 'json' to parse")] = "text",
    on_skipped: Annotated[float, typer.Option(help="OpenRLHF, slime: the reward of a skipped sample")] = 0.0,
    on_error: Annotated[float, typer.Option(help="OpenRLHF, slime: the reward of a failed sample")] = 0.0,
    cache: Annotated[Path | None, typer.Option(help="SQLite file to keep verdicts across restarts")] = None,
    cache_entries: Annotated[int, typer.Option(
        help="verdicts kept in memory (least recently used go first): bounds the server's memory")] = 20_000,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="do not cache verdicts")] = False,
    drain_timeout: Annotated[int, typer.Option(
        help="on SIGTERM, how long to wait for requests in flight, seconds")] = 60,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "warning",
    access_log: Annotated[bool, typer.Option(help="log every request")] = False,
) -> None:
    """Serve rewards over HTTP: OpenRLHF (/get_reward), slime (/slime) and native (/v1/score) protocols."""
    try:
        from rewardforge.integrations.server import ServerSettings, run_server
    except ImportError as exc:
        fail(f"rewardforge serve needs the server extra ({exc.name} is missing): pip install 'rewardforge[server]'")
    from rewardforge.integrations.openrlhf import DEFAULT_SPECIAL_TOKENS
    from rewardforge.integrations.server_guard import ServerConfigError, read_token

    for name, value, low in (("--max-batch", max_batch, 1), ("--max-in-flight", max_in_flight, 1),
                             ("--max-samples", max_samples, 1), ("--port", port, 0),
                             ("--drain-timeout", drain_timeout, 1), ("--cache-entries", cache_entries, 1)):
        if value < low:
            fail(f"{name} must be at least {low}, got {value}")
    for name, number in (("--timeout", timeout), ("--batch-wait-ms", batch_wait_ms),
                         ("--max-body-mb", max_body_mb)):
        if not (math.isfinite(number) and number >= 0):
            fail(f"{name} must be a number of at least 0, got {number}")
    if max_body_mb == 0:
        fail("--max-body-mb must be more than 0")
    if label_format not in ("text", "json"):
        fail(f"--label-format must be text or json, got {label_format!r}")
    for name, number in (("--on-skipped", on_skipped), ("--on-error", on_error)):
        if not math.isfinite(number):
            fail(f"{name} must be a finite number, got {number}")
    tokens = (() if no_default_strip_tokens else DEFAULT_SPECIAL_TOKENS) + tuple(strip_token or ())
    try:
        token = read_token(token_file) if token_file is not None else None
        params = reward_params(reward[0], param or []).values
        rewards = [resolve(spec, params if index == 0 else None) for index, spec in enumerate(reward)]
    except (ServerConfigError, RewardError, ValueError) as exc:
        fail(str(exc))
    settings = ServerSettings(
        host=host, port=port, token=token, timeout=timeout or None, max_batch=max_batch,
        batch_wait_ms=batch_wait_ms, max_in_flight=max_in_flight, max_body_bytes=int(max_body_mb * 2**20),
        max_samples=max_samples, drain_timeout=drain_timeout, strip_tokens=tokens,
        label_format="json" if label_format == "json" else "text", on_skipped=on_skipped, on_error=on_error,
    )
    verdicts = None if no_cache else VerdictCache(cache, max_entries=cache_entries)

    def announce(url: str) -> None:
        names = ", ".join(r.name for r in rewards)
        auth = "bearer token required" if token else "no token: reachable from this machine only"
        # Flushed at once: scripts and tests read the address from this line (useful with --port 0).
        print(f"rewardforge serve: {names} on {url} ({auth})", flush=True)

    try:
        run_server(rewards, settings, cache=verdicts, log_level=log_level, access_log=access_log,
                   on_listening=announce)
    except (ValueError, RewardError) as exc:  # unsafe bind, two rewards with one name, a clashing component
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    err.print("rewardforge serve: stopped", highlight=False)

