"""``/healthz`` (the process is up) and ``/readyz`` (every backing service answers, and not draining)."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from gateway.schemas.operations import HealthOut, ReadyOut

from .api import Api
from .errors import error_body
from .keys import BACKENDS

api = Api()


class Drain:
    """A gateway on its way out (SIGTERM): ``/readyz`` answers 503 from ``start()`` on, so the load
    balancer stops sending new connections here while the open sockets still work; ``/healthz`` stays 200,
    so the liveness probe does not kill the pod mid-drain."""

    def __init__(self) -> None:
        self.since: float | None = None

    @property
    def draining(self) -> bool:
        return self.since is not None

    def start(self) -> None:
        if self.since is None:
            self.since = time.monotonic()


# Set before the app starts (a started app's keys are frozen); absent in apps that never drain (tests).
DRAIN = web.AppKey("drain", Drain)


@api.route(
    "GET", "/healthz", summary="The process is up", response=HealthOut, auth=False, tags=("operations",)
)
async def healthz(request: web.Request) -> HealthOut:
    return HealthOut(status="ok")


@api.route(
    "GET",
    "/readyz",
    summary="Every backing service answers",
    response=ReadyOut,
    auth=False,
    tags=("operations",),
    errors=("unavailable",),
)
async def readyz(request: web.Request):
    drain = request.app.get(DRAIN)
    if drain is not None and drain.draining:
        return web.json_response(
            error_body("unavailable", "draining: this gateway is shutting down"), status=503
        )
    backends = request.app[BACKENDS]
    report, model = await asyncio.gather(backends.readiness(), backends.model_status())
    failing = sorted(name for name, state in report.items() if state != "ok")
    if failing:
        body = error_body("unavailable", f"not ready: {', '.join(failing)}")
        body["services"] = report
        return web.json_response(body, status=503)
    # A stale model is reported, not a reason to leave the load balancer: the feed still answers.
    return ReadyOut(status="ready", services=report, model=model)
