"""``GET /metrics`` over HTTP: the request metrics middleware, the handler, and the metrics listener.

The figures name routes, shards and socket counts: operations data, not for the public. So besides the
main port (dev only) they are served by a listener of their own (``CLUBHUB_METRICS_PORT``, loopback by
default, ``CLUBHUB_METRICS_HOST`` to let a scraper inside the cluster reach it), the only place in prod.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from gateway.core.metrics import GatewayMetrics

log = logging.getLogger(__name__)


def metrics_middleware(metrics: GatewayMetrics):
    @web.middleware
    async def middleware(request: web.Request, handler):
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
            metrics.requests.labels(request.method, label, str(status)).inc()
            metrics.latency.labels(request.method, label).observe(time.perf_counter() - start)

    return middleware


def metrics_handler(metrics: GatewayMetrics):
    async def handle(request: web.Request) -> web.Response:
        resp = web.Response(body=await metrics.render())
        resp.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        resp.charset = "utf-8"
        return resp

    return handle


class MetricsListener:
    """``GET /metrics`` alone, on its own address; ``url`` is known once started (port 0 picks one)."""

    def __init__(self, metrics: GatewayMetrics, host: str, port: int, prepare_hook=None) -> None:
        self.metrics, self.host, self.port = metrics, host, port
        self.prepare_hook = prepare_hook
        self.runner: web.AppRunner | None = None
        self.url: str | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", metrics_handler(self.metrics))
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
            raise ServiceError(
                "metrics", f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from None
        host, port = site._server.sockets[0].getsockname()[:2]
        self.url = f"http://{host if ':' not in host else f'[{host}]'}:{port}/metrics"
        log.info("metrics listening", extra={"url": self.url})

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
