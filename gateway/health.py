"""``/healthz`` (the process is up) and ``/readyz`` (every backing service answers)."""
from __future__ import annotations

from aiohttp import web

from .backends import BACKENDS
from .errors import error_body


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    report = await request.app[BACKENDS].readiness()
    failing = sorted(name for name, state in report.items() if state != "ok")
    if failing:
        body = error_body("unavailable", f"not ready: {', '.join(failing)}")
        body["services"] = report
        return web.json_response(body, status=503)
    return web.json_response({"status": "ready", "services": report})
