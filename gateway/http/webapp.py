"""The browser client: ``web/dist`` served at ``/``.

Hashed build files under ``/assets/`` never change under a name, so they are cached for a year; everything
else that is not the API, Socket.IO or an operations route answers ``index.html`` (the SPA's router takes the
path from there) and is revalidated on every load, so a new build reaches browsers at once.
"""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web

from actors.domain.errors import DomainError

log = logging.getLogger(__name__)

DEFAULT_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"
IMMUTABLE = "public, max-age=31536000, immutable"
RESERVED = ("/api/", "/socket.io", "/healthz", "/readyz", "/metrics")


def register(app: web.Application, dist: Path | None) -> bool:
    """Add the web routes after every other route; False (and nothing added) when there is no build."""
    dist = (dist or DEFAULT_DIST).resolve()
    index = dist / "index.html"
    if not index.is_file():
        log.info("no web client build; serving the API only", extra={"dist": str(dist)})
        return False

    def file_in(root: Path, name: str) -> Path | None:
        if "\x00" in name:  # /assets/%00: no file has it, and the OS calls raise on it (M3)
            return None
        path = (root / name).resolve()
        return path if path.is_file() and path.is_relative_to(root) else None

    async def asset(request: web.Request) -> web.StreamResponse:
        path = file_in(dist / "assets", request.match_info["name"])
        if path is None:
            raise DomainError("not_found", "no such file")
        return web.FileResponse(path, headers={"Cache-Control": IMMUTABLE})

    async def page(request: web.Request) -> web.StreamResponse:
        if request.path.startswith(RESERVED):
            raise DomainError("not_found", f"no route {request.method} {request.path}")
        top = request.match_info["tail"]
        path = file_in(dist, top) if top and "/" not in top else None  # favicon.svg, robots.txt …
        if path is not None and path != index:
            return web.FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})
        return web.FileResponse(index, headers={"Cache-Control": "no-cache"})

    # Named "web-…": the browser client's files, not API routes (the OpenAPI document leaves them out).
    app.router.add_get("/assets/{name:.+}", asset, name="web-assets")
    app.router.add_get("/{tail:.*}", page, name="web-page")
    log.info("serving the web client", extra={"dist": str(dist)})
    return True
