"""Prometheus metrics of the gateway, served at ``GET /metrics``.

The figures name routes, shards and socket counts: operations data, not for the public. So besides the
main port (dev only) they are served by a listener of their own (``CLUBHUB_METRICS_PORT``, loopback by
default, ``CLUBHUB_METRICS_HOST`` to let a scraper inside the cluster reach it), the only place in prod.
"""
from __future__ import annotations

import logging
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, disable_created_metrics, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# The *_created series double the output and no dashboard of ours reads them.
disable_created_metrics()


class GatewayMetrics:
    """One registry per app so that several apps in one process (tests) keep separate figures."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "clubhub_http_requests_total", "HTTP requests by route, method and status",
            ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram(
            "clubhub_http_request_duration_seconds", "HTTP request latency by route and method",
            ["method", "route"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.open_sockets = Gauge(
            "clubhub_open_sockets", "Socket.IO connections open on this gateway", registry=self.registry)
        self.chat_ops = Counter(
            "clubhub_chat_ops_total", "Chat operations by event and outcome (ok or error code)",
            ["event", "outcome"], registry=self.registry)
        self.ack_latency = Histogram(
            "clubhub_ack_latency_seconds", "message:send received to ack (durably stored)",
            registry=self.registry,
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5))
        self.gateway_batch = Histogram(
            "clubhub_gateway_batch_size", "Operations per coalesced Ray call to a room shard",
            registry=self.registry, buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
        self.fanout_latency = Histogram(
            "clubhub_fanout_latency_seconds", "Message timestamp (shard) to delivery onto this gateway's sockets",
            registry=self.registry,
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5))
        self.delivered_batches = Histogram(
            "clubhub_delivered_batch_size", "Messages per room packet delivered (message:batch coalescing)",
            registry=self.registry, buckets=(1, 2, 4, 8, 16, 32, 64, 128))
        self.slow_consumers = Counter(
            "clubhub_slow_consumers_total", "Sockets dropped because their send queue was full",
            registry=self.registry)
        self.shard_stats = None  # async () -> list of actor stats, set once the shards exist

    def middleware(self):
        @web.middleware
        async def metrics_middleware(request: web.Request, handler):
            start = time.perf_counter()
            status = 500
            try:
                response = await handler(request)
                status = response.status
                return response
            except web.HTTPException as exc:
                status = exc.status
                raise
            finally:
                # The route's template, never the raw path: ids in paths would explode the label set.
                route = request.match_info.route.resource
                label = route.canonical if route is not None else "unmatched"
                self.requests.labels(request.method, label, str(status)).inc()
                self.latency.labels(request.method, label).observe(time.perf_counter() - start)

        return metrics_middleware

    async def handle(self, request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        if self.shard_stats is not None:
            body += _render_shard_stats(await self.shard_stats()).encode()
        resp = web.Response(body=body)
        resp.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        resp.charset = "utf-8"
        return resp


METRICS = web.AppKey("metrics", GatewayMetrics)
log = logging.getLogger(__name__)


class MetricsListener:
    """``GET /metrics`` alone, on its own address; ``url`` is known once started (port 0 picks one)."""

    def __init__(self, metrics: GatewayMetrics, host: str, port: int, prepare_hook=None) -> None:
        self.metrics, self.host, self.port = metrics, host, port
        self.prepare_hook = prepare_hook
        self.runner: web.AppRunner | None = None
        self.url: str | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self.metrics.handle)
        if self.prepare_hook is not None:
            self.prepare_hook(app)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            from storage.services import ServiceError

            await self.runner.cleanup()
            raise ServiceError("metrics", f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from None
        host, port = site._server.sockets[0].getsockname()[:2]
        self.url = f"http://{host if ':' not in host else f'[{host}]'}:{port}/metrics"
        log.info("metrics listening", extra={"url": self.url})

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


METRICS_LISTENER = web.AppKey("metrics_listener", MetricsListener)


def _render_shard_stats(stats: list[dict]) -> str:
    """The actors' own figures (each shard is another process) in Prometheus text format."""
    lines = ["# HELP clubhub_shard_active Active rooms or sessions hosted by each shard",
             "# TYPE clubhub_shard_active gauge"]
    ops, batches = [], []
    for st in stats:
        kind, shard = st["kind"], st["shard"]
        active = st.get("active_rooms", st.get("active_sessions", 0))
        lines.append(f'clubhub_shard_active{{kind="{kind}",shard="{shard}"}} {active}')
        for key, value in sorted(st.get("counters", {}).items()):
            if ":" in key:
                event, outcome = key.split(":", 1)
                ops.append(f'clubhub_shard_ops_total{{shard="{shard}",op="{event}",outcome="{outcome}"}} {value}')
        for size, count in sorted(st.get("batch_sizes", {}).items()):
            batches.append(f'clubhub_shard_commit_batches_total{{shard="{shard}",size_le="{size}"}} {count}')
    if ops:
        lines += ["# HELP clubhub_shard_ops_total Operations committed or refused by room shards",
                  "# TYPE clubhub_shard_ops_total counter", *ops]
    if batches:
        lines += ["# HELP clubhub_shard_commit_batches_total Group-commit batches by size bucket",
                  "# TYPE clubhub_shard_commit_batches_total counter", *batches]
    return "\n".join(lines) + "\n"
