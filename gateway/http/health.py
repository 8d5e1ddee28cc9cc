"""``/healthz`` (the process is up) and ``/readyz`` (every backing service answers)."""

from __future__ import annotations

from aiohttp import web

from gateway.schemas.operations import HealthOut, ReadyOut

from .api import Api
from .errors import error_body
from .keys import BACKENDS

api = Api()


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
    report = await request.app[BACKENDS].readiness()
    failing = sorted(name for name, state in report.items() if state != "ok")
    if failing:
        body = error_body("unavailable", f"not ready: {', '.join(failing)}")
        body["services"] = report
        return web.json_response(body, status=503)
    return ReadyOut(status="ready", services=report)
