"""The reward server: any rewardforge reward over HTTP, for trainers that call rewards remotely.

```python
from rewardforge.core.registry import resolve
from rewardforge.integrations.server import ServerSettings, run_server

run_server([resolve("math_equivalence")], ServerSettings(port=5000))   # or: rewardforge serve
```

Routes (all but `/healthz` need the token when the server has one):

| route | protocol |
| --- | --- |
| `POST /get_reward` | OpenRLHF's remote reward: `{"query", "prompts", "labels"}` in, `{"rewards", "scores", "extra_logs"}` out |
| `POST /slime` | slime's remote reward: `{"prompt", "response", "label"}` in, the reward out |
| `POST /v1/score` | native: `{"samples": [...], "reward"?, "step"?}` in, one Score per sample out |
| `GET /v1/rewards` | the rewards this server serves; the first is the default |
| `GET /healthz` | liveness, no auth |
| `GET /metrics` | Prometheus text (see `server_metrics`) |

Concurrent requests are merged into engine calls by `server_batching.Batcher`; the guards
(loopback by default, constant-time token, body and sample limits, errors that name the field)
are in `server_guard`. Errors are JSON `{"error": {"field", "message"}}`; tracebacks go to the log,
never to a client. SIGTERM stops accepting, drains the requests in flight and exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from rewardforge.core.cache import VerdictCache
from rewardforge.core.registry import default_registry
from rewardforge.core.types import Reward, Sample
from rewardforge.integrations.openrlhf import DEFAULT_SPECIAL_TOKENS, LabelFormat
from rewardforge.integrations.server_batching import Batcher, BatcherClosed, EngineThread
from rewardforge.integrations.server_guard import (
    ApiError,
    authorize,
    check_bind,
    error_response,
    json_response,
    read_body,
)
from rewardforge.integrations.server_metrics import CONTENT_TYPE, MetricsMiddleware, ServerMetrics
from rewardforge.integrations.server_protocols import add_protocol_routes

logger = logging.getLogger("rewardforge.server")

ROUTES = frozenset({"/get_reward", "/slime", "/v1/score", "/v1/rewards", "/healthz", "/metrics"})


@dataclass(frozen=True)
class ServerSettings:
    """How the server listens, whom it lets in, and how it batches; `rewardforge serve --help` explains each."""

    host: str = "127.0.0.1"
    port: int = 5000
    token: str | None = None
    timeout: float | None = 30.0
    max_batch: int = 256
    batch_wait_ms: float = 5.0
    max_in_flight: int = 4
    max_body_bytes: int = 16 * 2**20
    max_samples: int = 4096
    drain_timeout: int = 60
    strip_tokens: tuple[str, ...] = DEFAULT_SPECIAL_TOKENS
    label_format: LabelFormat = "text"
    on_skipped: float = 0.0
    on_error: float = 0.0


class ScoreRequest(BaseModel):
    """The body of `POST /v1/score`."""

    model_config = ConfigDict(extra="forbid")

    samples: list[Sample]
    reward: str | None = None
    step: int = Field(default=0, ge=0)


class RewardService:
    """The rewards a server serves, one batcher each, sharing one engine thread and one metrics registry."""

    def __init__(self, rewards: Sequence[Reward], settings: ServerSettings, cache: VerdictCache | None) -> None:
        if not rewards:
            raise ValueError("a reward server needs at least one reward")
        names = [reward.name for reward in rewards]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"two rewards are named {twice[0]!r}; clients choose rewards by name")
        self.settings = settings
        self.engine = EngineThread()
        self.metrics = ServerMetrics(
            queue_depth=lambda: {name: b.queued for name, b in self.batchers.items()},
            batches_in_flight=lambda: {name: b.in_flight for name, b in self.batchers.items()},
        )
        self.batchers = {
            reward.name: Batcher(
                reward, self.engine, max_batch=settings.max_batch, wait_s=settings.batch_wait_ms / 1000,
                max_in_flight=settings.max_in_flight, timeout=settings.timeout, cache=cache,
                on_batch=self.metrics.record_batch,
            )
            for reward in rewards
        }
        self.default = names[0]

    def batcher(self, name: str | None) -> Batcher:
        """The batcher of reward `name` (the default when None); an unknown name is the client's error."""
        found = self.batchers.get(name or self.default)
        if found is None:
            raise ApiError(422, "reward", f"unknown reward {name!r}; this server serves {sorted(self.batchers)}")
        return found

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "default": name == self.default,
                "batched": not batcher.merges,
                "components": [c.name for c in getattr(batcher.reward, "components", [])],
                "description": _description(batcher.reward),
            }
            for name, batcher in self.batchers.items()
        ]

    async def start(self) -> None:
        self.engine.start()
        for batcher in self.batchers.values():
            batcher.start()

    async def stop(self) -> None:
        """Finish what the batchers hold, within the drain timeout; a call still running then is abandoned."""
        try:
            await asyncio.wait_for(asyncio.gather(*(b.drain() for b in self.batchers.values())),
                                   self.settings.drain_timeout)
        except asyncio.TimeoutError:  # not the builtin before Python 3.11
            logger.error("engine calls still running after %ss; exiting without them", self.settings.drain_timeout)
            return  # the engine thread is a daemon: it ends with the process
        self.engine.stop()


def _description(reward: Reward) -> str:
    own = getattr(reward, "description", "")
    entry = default_registry().entries.get(reward.name)
    return own or (entry.description if entry is not None else "")


def create_app(
    rewards: Sequence[Reward], settings: ServerSettings | None = None, *, cache: VerdictCache | None = None
) -> FastAPI:
    """The ASGI app; serve it with `run_server` (or any ASGI server, without the bind checks)."""
    settings = settings or ServerSettings()
    service = RewardService(rewards, settings, cache)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(title="rewardforge", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service
    app.add_middleware(MetricsMiddleware, metrics=service.metrics, routes=ROUTES)
    _add_error_handlers(app)
    guard = _guard(settings)

    @app.get("/healthz")
    async def healthz() -> Response:
        return json_response({"status": "ok"})

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        guard(request)
        return Response(service.metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/v1/rewards")
    async def list_rewards(request: Request) -> Response:
        guard(request)
        return json_response({"rewards": service.describe()})

    @app.post("/v1/score")
    async def score_native(request: Request) -> Response:
        guard(request)
        body = await read_body(request, ScoreRequest, max_bytes=settings.max_body_bytes, counted="samples",
                               max_items=settings.max_samples)
        batcher = service.batcher(body.reward)
        scores = await batcher.score(body.samples, body.step)
        return json_response({"reward": batcher.reward.name, "scores": [s.model_dump() for s in scores]})

    add_protocol_routes(app, service, guard)
    return app


def _guard(settings: ServerSettings) -> Callable[[Request], None]:
    """The per-route check: the bearer token when the server has one."""
    token = settings.token

    def guard(request: Request) -> None:
        if token is not None:
            authorize(request.headers.get("authorization"), token)

    return guard


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def refused(request: Request, exc: ApiError) -> Response:
        return error_response(exc)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 405:
            return error_response(ApiError(405, "method", f"{request.method} is not allowed on {request.url.path}"))
        if exc.status_code == 404:
            routes = ", ".join(sorted(ROUTES))
            return error_response(ApiError(404, "path", f"no route {request.url.path}; the routes are {routes}"))
        return error_response(ApiError(exc.status_code, "request", str(exc.detail)))

    @app.exception_handler(BatcherClosed)
    async def closing(request: Request, exc: BatcherClosed) -> Response:
        return error_response(ApiError(503, "server", "shutting down; retry on another replica"))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        incident = secrets.token_hex(4)
        logger.error("request %s %s failed (incident %s)", request.method, request.url.path, incident,
                     exc_info=exc)
        message = f"internal error (incident {incident}; the server log has the details)"
        return json_response({"error": {"field": None, "message": message}}, 500)


class _DrainingServer(uvicorn.Server):
    """uvicorn, except that a SIGTERM, once drained, is a clean exit (0), as process managers expect.

    uvicorn re-raises the signal after its graceful shutdown, which makes the process die of it.
    """

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM:
            self.should_exit = True
            return
        super().handle_exit(sig, frame)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0 picks a free one); bound here so the real port is known before serving."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_server(
    rewards: Sequence[Reward],
    settings: ServerSettings | None = None,
    *,
    cache: VerdictCache | None = None,
    log_level: str = "warning",
    access_log: bool = False,
    on_listening: Callable[[str], None] | None = None,
) -> None:
    """Serve until SIGTERM or Ctrl-C; refuses a non-loopback address without a token (ServerConfigError)."""
    settings = settings or ServerSettings()
    check_bind(settings.host, settings.token)
    app = create_app(rewards, settings, cache=cache)
    sock = bind(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    config = uvicorn.Config(
        app, log_level=log_level, access_log=access_log, server_header=False, proxy_headers=False,
        timeout_graceful_shutdown=settings.drain_timeout, lifespan="on",
    )
    server = _DrainingServer(config)
    if on_listening is not None:
        on_listening(url)
    server.run(sockets=[sock])
