"""The gateway: one aiohttp application with python-socketio attached."""
from __future__ import annotations

import logging
import time

import socketio
from aiohttp import web

from storage.services import redact
from storage.settings import Settings

from . import health
from .backends import BACKENDS, Backends
from .errors import error_middleware
from .metrics import METRICS, GatewayMetrics

log = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", Settings)
SIO = web.AppKey("sio", socketio.AsyncServer)


def create_sio(metrics: GatewayMetrics) -> socketio.AsyncServer:
    sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins=[], logger=False, engineio_logger=False)

    @sio.event
    async def connect(sid, environ, auth):
        metrics.open_sockets.inc()

    @sio.event
    async def disconnect(sid, reason=None):
        metrics.open_sockets.dec()

    return sio


def create_app(settings: Settings, backends: Backends | None = None) -> web.Application:
    metrics = GatewayMetrics()
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        # Metrics outermost so the status recorded is the one the error middleware produced.
        middlewares=[metrics.middleware(), error_middleware],
    )
    app[SETTINGS] = settings
    app[METRICS] = metrics
    app[BACKENDS] = backends or Backends(settings)
    sio = create_sio(metrics)
    sio.attach(app, socketio_path="socket.io")
    app[SIO] = sio

    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", metrics.handle)

    async def backends_ctx(app: web.Application):
        await app[BACKENDS].start()
        urls = {name: redact(url) for name, url in app[BACKENDS].services.urls().items()}
        log.info("backends ready", extra={"urls": urls})
        yield
        await app[BACKENDS].stop()

    async def close_sockets(app: web.Application):
        # Tell every client we are going (they reconnect elsewhere) before the stores close.
        began = time.monotonic()
        # sio.shutdown() only stops background tasks; without closing each connection the server
        # would wait its whole shutdown timeout for the websocket handlers to end.
        if app[SIO].eio.sockets:
            await app[SIO].eio.disconnect()
        await app[SIO].shutdown()
        log.info("sockets closed", extra={"seconds": round(time.monotonic() - began, 2)})

    app.cleanup_ctx.append(backends_ctx)
    app.on_shutdown.append(close_sockets)
    return app
