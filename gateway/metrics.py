"""Prometheus metrics of the gateway, served at ``GET /metrics``."""
from __future__ import annotations

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
        resp = web.Response(body=generate_latest(self.registry))
        resp.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        resp.charset = "utf-8"
        return resp


METRICS = web.AppKey("metrics", GatewayMetrics)
