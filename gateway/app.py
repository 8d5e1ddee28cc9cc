"""The gateway: one aiohttp application with python-socketio attached."""

from __future__ import annotations

import asyncio
import logging
import time

import socketio
from aiohttp import web

from actors.client import ActorClient
from gateway.actions.accounts import Accounts
from gateway.actions.achievements import AchievementWorker
from gateway.actions.chat import Chat
from gateway.actions.clubs import Clubs
from gateway.actions.digest import DigestWorker
from gateway.actions.dms import Dms
from gateway.actions.events import Events
from gateway.actions.interactions import Interactions
from gateway.actions.live import Live
from gateway.actions.media import MediaActions, MediaSweeper
from gateway.actions.notifications import Notifications
from gateway.actions.reels import Reels
from gateway.actions.safety import Safety
from gateway.actions.search import Search
from gateway.core.backends import Backends
from gateway.core.loop_health import LoopHealth, freeze_startup_heap
from gateway.core.metrics import GatewayMetrics, stream_stats
from gateway.core.tokens import TokenError
from gateway.http import accounts as http_accounts
from gateway.http import chat as http_chat
from gateway.http import clubs as http_clubs
from gateway.http import dms as http_dms
from gateway.http import events as http_events
from gateway.http import health, notifications_out, security, webapp
from gateway.http import media as http_media
from gateway.http import notifications as http_notifications
from gateway.http import reels as http_reels
from gateway.http import safety as http_safety
from gateway.http import search as http_search
from gateway.http.api import Api
from gateway.http.auth import authenticate, client_ip
from gateway.http.errors import error_middleware, error_response, quiet_malformed_requests
from gateway.http.keys import (
    ACCOUNTS,
    ACTORS,
    BACKENDS,
    CHAT,
    CLUBS,
    DMS,
    EVENTS,
    INTERACTIONS,
    LIVE,
    MEDIA,
    METRICS,
    METRICS_LISTENER,
    NOTIFICATIONS,
    REELS,
    SAFETY,
    SEARCH,
    SETTINGS,
)
from gateway.http.metrics import MetricsListener, metrics_handler, metrics_middleware
from gateway.socket.admission import SocketAdmission
from gateway.socket.delivery import RoomDelivery
from gateway.socket.server import Realtime
from gateway.socket.websocket import refuse_malformed_packets, use_fast_poll, use_uncompressed_websockets
from storage import mongo as mongo_store
from storage.search import PostgresSearch
from storage.services import redact
from storage.settings import Settings
from storage.timing import StoreTimings

log = logging.getLogger(__name__)

SIO = web.AppKey("sio", socketio.AsyncServer)
API = web.AppKey("api", Api)
REALTIME = web.AppKey("realtime", Realtime)
DELIVERY = web.AppKey("delivery", RoomDelivery)


def build_api(settings: Settings) -> Api:
    api = Api()
    modules = (
        health,
        http_accounts,
        http_chat,
        http_clubs,
        http_dms,
        http_events,
        http_media,
        http_notifications,
        http_reels,
        notifications_out,
        http_safety,
        http_search,
    )
    for module in modules:
        api.include(module.api)
    if settings.env == "dev":
        api.include(http_accounts.dev_api)
    return api


POLLING_REFUSED = (
    "this gateway runs several worker processes on one port and serves Socket.IO over websocket only "
    "(a long-polling session's requests could reach another process): connect with transports: ['websocket']"
)


def websocket_only_middleware():
    """Refuse engine.io long-polling with a sentence that says why (engine.io alone answers "Invalid
    transport"). Workers share the port with SO_REUSEPORT, which spreads connections by address, not by
    engine.io session, so a polling session's next request may land on a worker that never saw it."""

    @web.middleware
    async def websocket_only(request: web.Request, handler):
        if (
            request.path.startswith("/socket.io/")
            and request.query.get("transport", "polling") != "websocket"
        ):
            return error_response("invalid", POLLING_REFUSED)
        return await handler(request)

    return websocket_only


def create_sio(app: web.Application, settings: Settings, metrics: GatewayMetrics) -> socketio.AsyncServer:
    delivery = RoomDelivery(settings.socketio_channel, metrics, settings.max_socket_queue)
    extra = {"transports": ["websocket"]} if settings.workers > 1 else {}
    sio = socketio.AsyncServer(
        **extra,
        async_mode="aiohttp",
        client_manager=delivery,
        cors_allowed_origins=security.socket_origin_allowed(settings),
        logger=False,
        engineio_logger=False,
        max_http_buffer_size=settings.max_socket_frame_bytes,
    )
    use_uncompressed_websockets(sio.eio)
    refuse_malformed_packets(sio)
    use_fast_poll()
    app[DELIVERY] = delivery
    realtime = app[REALTIME] = Realtime(sio, delivery, metrics, settings)
    admission = SocketAdmission(
        sio,
        settings.max_sockets_per_ip,
        settings.max_sockets_per_user,
        settings.socket_connect_timeout_s,
        lambda environ: client_ip(environ["aiohttp.request"]),
    )
    admission.install()

    @sio.event
    async def connect(sid, environ, auth):
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            claims = await app[ACCOUNTS].authenticate(token if isinstance(token, str) else None)
        except TokenError:
            raise socketio.exceptions.ConnectionRefusedError("unauthorized") from None
        if not admission.admit_user(claims.user_id):
            raise socketio.exceptions.ConnectionRefusedError("rate_limited")
        await sio.save_session(sid, {"user_id": claims.user_id, "family": claims.family})
        metrics.open_sockets.inc()
        await realtime.connected(sid, claims, client_ip(environ["aiohttp.request"]))

    @sio.event
    async def disconnect(sid, reason=None):
        metrics.open_sockets.dec()
        user_id = realtime.users.get(sid)
        if user_id is not None:
            admission.user_left(user_id)
        await realtime.disconnected(sid)

    return sio


def runner_options(settings: Settings) -> dict:
    """``web.AppRunner`` options every gateway runs with. aiohttp closes a connection that has not sent a
    whole request within ``keepalive_timeout`` of connecting (or of its last response); its default is an
    hour, which let slow-header clients hold connections open: this is the header timeout. No access log:
    aiohttp's names whole URLs, and some carry a credential in the query (an unsubscribe link's token)."""
    return {"keepalive_timeout": settings.header_timeout_s, "access_log": None}


def create_app(settings: Settings, backends: Backends | None = None) -> web.Application:
    quiet_malformed_requests()
    metrics = GatewayMetrics()
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        # Metrics outermost so the status recorded is the one the error middleware produced;
        # CORS before any handler so a foreign origin's unsafe request never runs one.
        middlewares=[
            metrics_middleware(metrics),
            security.cors_middleware(settings),
            error_middleware,
            *([websocket_only_middleware()] if settings.workers > 1 else []),
        ],
    )
    app[SETTINGS] = settings
    app[METRICS] = metrics
    app[BACKENDS] = backends = backends or Backends(settings)
    if isinstance(backends, Backends) and backends.timings is None:
        # Every call this gateway makes to PostgreSQL, MongoDB and Redis: clubhub_store_operation_seconds.
        backends.timings = StoreTimings(metrics.store_operation)
    sio = create_sio(app, settings, metrics)
    sio.attach(app, socketio_path="socket.io")
    app[SIO] = sio

    api = build_api(settings)
    if settings.metrics_on_main_port:  # prod: only on the metrics listener (added below)
        api.route(
            "GET",
            "/metrics",
            summary="Prometheus metrics",
            auth=False,
            tags=("operations",),
            content_type="text/plain",
        )(metrics_handler(metrics))
    api.register(app, authenticate)
    app[API] = api
    http_media.register_files(app)
    webapp.register(app, settings.web_dist)  # last: its fallback answers every other GET

    async def backends_ctx(app: web.Application):
        backends = app[BACKENDS]
        await backends.start()
        redis = backends.stores.redis
        accounts = app[ACCOUNTS] = Accounts(settings, redis)
        urls = backends.services.urls()
        # The pubsub listener connects on the first socket; the URL is known only now.
        app[DELIVERY].redis_url = urls["redis"]
        actors = app[ACTORS] = ActorClient(settings, urls, redis, metrics)
        await actors.start()
        interactions = app[INTERACTIONS] = Interactions(redis)
        app[MEDIA] = MediaActions(
            settings, backends.stores.objects, redis, backends.stores.mongo[mongo_store.MESSAGES]
        )
        if backends.stores.objects is not None:
            upload_origin = security.origin_of(backends.stores.objects.public_endpoint)
            if upload_origin:
                app[security.UPLOAD_ORIGIN] = upload_origin
        chat = app[CHAT] = Chat(settings, actors, redis, app[MEDIA])
        app[DMS] = Dms(actors)
        clubs = app[CLUBS] = Clubs(actors, interactions, redis, backends.stores.mongo, app[SIO].emit)
        app[SAFETY] = Safety(actors, chat, clubs, app[SIO].emit)
        app[EVENTS] = Events(settings.base_url, interactions)
        audio_keys = actors.actor_config.janus_keys()
        live = app[LIVE] = Live(actors, chat, interactions, redis, audit=clubs.audit, audio_keys=audio_keys)
        audio_origin = security.origin_of(audio_keys.url) if audio_keys else None
        if audio_origin:
            app[security.AUDIO_ORIGIN] = audio_origin
        app[NOTIFICATIONS] = Notifications(chat, app[SIO].emit)
        app[REELS] = Reels()
        app[SEARCH] = Search(chat, PostgresSearch())
        realtime = app[REALTIME]
        realtime.chat, realtime.live, realtime.interactions = chat, live, interactions
        # A revoked login (logout, a reused refresh token) closes its sockets on every gateway.
        realtime.accounts = accounts
        accounts.refresh_tokens.on_revoke = realtime.revoke_family
        realtime.start()
        achievements = AchievementWorker(redis, app[SIO].emit, actors.gateway_id)
        await achievements.start()
        digest = DigestWorker(settings, accounts.mailer, accounts.access.ring)  # the email digest (issue 19)
        digest.start()
        sweeper = MediaSweeper(app[MEDIA])  # uploads never completed, of anyone
        sweeper.start()
        loop_health = LoopHealth(metrics)
        loop_health.start()
        freeze_startup_heap()
        metrics.shard_stats = actors.shard_stats
        metrics.pipeline_stats = actors.pipeline_stats
        metrics.stream_stats = lambda: stream_stats(redis)
        metrics.readiness = backends.readiness
        log.info(
            "backends ready",
            extra={
                "urls": {name: redact(url) for name, url in urls.items()},
                "gateway_id": actors.gateway_id,
            },
        )
        try:
            yield
        finally:
            loop_health.stop()
            await realtime.stop()
            await achievements.stop()
            await digest.stop()
            await sweeper.stop()
            await actors.stop()
            await backends.stop()

    async def close_sockets(app: web.Application):
        began = time.monotonic()
        # sio.shutdown() only stops background tasks; without closing each connection the server
        # would wait its whole shutdown timeout for the websocket handlers to end.
        eio_sids = list(app[SIO].eio.sockets)
        if eio_sids:
            try:
                # A polite close waits until each socket's queue is sent; a client that stopped reading
                # would hold the shutdown for ever, so past a few seconds the rest are cut.
                await asyncio.wait_for(app[SIO].eio.disconnect(), 5.0)
            except TimeoutError:
                cut = sum(app[DELIVERY].abort(eio_sid) for eio_sid in eio_sids)
                log.warning("sockets cut after the close timeout", extra={"sockets": cut})
        await app[SIO].shutdown()
        log.info("sockets closed", extra={"seconds": round(time.monotonic() - began, 2)})

    app.cleanup_ctx.append(backends_ctx)
    app.on_shutdown.append(close_sockets)
    security.install(app, settings)
    if settings.metrics_listener is not None:
        host, port = settings.metrics_listener
        listener = app[METRICS_LISTENER] = MetricsListener(
            metrics, host, port, lambda a: security.install(a, settings)
        )

        async def metrics_listener_ctx(app: web.Application):
            await listener.start()
            try:
                yield
            finally:
                await listener.stop()

        app.cleanup_ctx.append(metrics_listener_ctx)
    return app
