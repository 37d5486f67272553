"""The reward server's `/metrics`, in Prometheus text format.

Each server has its own registry (several servers in one process, as in tests, never mix counts).
Route labels are the server's own paths, and any other path counts as `other`, so a scanner
probing random URLs cannot blow up the number of series.

| metric | kind | labels |
| --- | --- | --- |
| `rewardforge_requests_total` | counter | route, code |
| `rewardforge_request_duration_seconds` | histogram | route |
| `rewardforge_requests_in_progress` | gauge | |
| `rewardforge_scores_total` | counter | reward, status (`ok`, `skipped`, `error`) |
| `rewardforge_batch_samples` | histogram | reward: samples per engine call (how well batching works) |
| `rewardforge_batch_duration_seconds` | histogram | reward |
| `rewardforge_queue_depth` | gauge | reward: samples waiting for a batch |
| `rewardforge_batches_in_flight` | gauge | reward |
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rewardforge.core.types import Score

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)

Gauges = Callable[[], Mapping[str, int]]


class ServerMetrics:
    """Counters the routes and the batcher update, and the live gauges read at scrape time."""

    def __init__(self, queue_depth: Gauges, batches_in_flight: Gauges) -> None:
        self.registry = CollectorRegistry()
        self.in_progress = 0
        self.requests = Counter(
            "rewardforge_requests", "HTTP requests answered, by route and status code",
            ["route", "code"], registry=self.registry,
        )
        self.latency = Histogram(
            "rewardforge_request_duration_seconds", "Time from request to response, by route",
            ["route"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.scores = Counter(
            "rewardforge_scores", "Scores returned, by reward and status", ["reward", "status"],
            registry=self.registry,
        )
        self.batch_samples = Histogram(
            "rewardforge_batch_samples", "Samples per engine call, after merging concurrent requests",
            ["reward"], buckets=BATCH_BUCKETS, registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "rewardforge_batch_duration_seconds", "Time of one engine call", ["reward"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.registry.register(_LiveGauges(self, queue_depth, batches_in_flight))

    def record_batch(self, reward: str, scores: Iterable[Score], seconds: float) -> None:
        tally = Tally(score.status for score in scores)
        for status, count in tally.items():
            self.scores.labels(reward, status).inc(count)
        self.batch_samples.labels(reward).observe(sum(tally.values()))
        self.batch_seconds.labels(reward).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _LiveGauges(Collector):
    def __init__(self, metrics: ServerMetrics, queue_depth: Gauges, batches_in_flight: Gauges) -> None:
        self.metrics = metrics
        self.queue_depth = queue_depth
        self.batches_in_flight = batches_in_flight

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily("rewardforge_requests_in_progress", "HTTP requests being handled",
                                value=self.metrics.in_progress)
        for name, read, help_text in (
            ("rewardforge_queue_depth", self.queue_depth, "Samples waiting to join an engine call"),
            ("rewardforge_batches_in_flight", self.batches_in_flight, "Engine calls running"),
        ):
            family = GaugeMetricFamily(name, help_text, labels=["reward"])
            for reward, value in read().items():
                family.add_metric([reward], value)
            yield family


class MetricsMiddleware:
    """Pure ASGI: times every HTTP request and counts it by route and status code."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics, routes: frozenset[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_progress += 1
        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self.metrics.in_progress -= 1
            route = scope["path"] if scope["path"] in self.routes else "other"
            self.metrics.requests.labels(route, str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)
