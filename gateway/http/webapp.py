"""The browser client: ``web/dist`` served at ``/``.

Hashed build files under ``/assets/`` never change under a name, so they are cached for a year; everything
else that is not the API, Socket.IO or an operations route answers ``index.html`` (the SPA's router takes the
path from there) and is revalidated on every load (``no-cache``), so a new build reaches browsers at once.

Compression happens at build time, not per request: ``web/scripts/compress.mjs`` writes ``<file>.br`` and
``<file>.gz`` next to each compressible file after ``vite build``. A client that accepts one gets those bytes
with ``Content-Encoding`` and the original file's ``Content-Type``; every answer for a file that has them says
``Vary: Accept-Encoding`` (the uncompressed one too), so a shared cache never hands brotli to a client that
did not ask for it.
"""

from __future__ import annotations

import logging
import mimetypes
from pathlib import Path

from aiohttp import hdrs, web

from actors.domain.errors import DomainError

log = logging.getLogger(__name__)

DEFAULT_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"
IMMUTABLE = "public, max-age=31536000, immutable"
RESERVED = ("/api/", "/socket.io", "/healthz", "/readyz", "/metrics")
# Best first: brotli is ~15 % smaller than gzip on the JS bundle.
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))


def content_type(path: Path) -> str:
    """JavaScript is ``text/javascript`` (RFC 9239), which Python's ``mimetypes`` before 3.12 calls
    ``application/javascript``."""
    if path.suffix in (".js", ".mjs"):
        return "text/javascript"
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def accepted(header: str) -> dict[str, float]:
    """``Accept-Encoding`` as coding -> q (RFC 9110 §12.5.3); ``*`` stands for any coding not named."""
    out: dict[str, float] = {}
    for part in header.lower().split(","):
        coding, _, params = part.strip().partition(";")
        if not coding.strip():
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        out[coding.strip()] = q
    return out


def choose(path: Path, header: str) -> tuple[Path, str | None, bool]:
    """The file to send for ``path``, its Content-Encoding (None: as is), and whether ``path`` has compressed
    siblings at all (then the answer varies by Accept-Encoding)."""
    q = accepted(header)
    varies = False
    for coding, suffix in ENCODINGS:
        sibling = path.with_name(path.name + suffix)
        if not sibling.is_file():
            continue
        varies = True
        if q.get(coding, q.get("*", 0.0)) > 0:
            return sibling, coding, True
    return path, None, varies


def send(request: web.Request, path: Path, cache_control: str) -> web.StreamResponse:
    accept = request.headers.get(hdrs.ACCEPT_ENCODING, "")
    chosen, coding, varies = choose(path, accept)
    # One type for a file whatever its encoding (FileResponse would guess by the name it sends).
    headers = {hdrs.CACHE_CONTROL: cache_control, hdrs.CONTENT_TYPE: content_type(path)}
    if varies:
        headers[hdrs.VARY] = hdrs.ACCEPT_ENCODING
    if coding is not None:
        # The file chosen here is sent as it is (FileResponse finds no ".br.br" beside it); nothing
        # compresses a response on the fly, so nothing is compressed twice.
        headers[hdrs.CONTENT_ENCODING] = coding
    elif varies and any(name in accept.lower() for name, _ in ENCODINGS):
        # aiohttp's FileResponse would pick a .br/.gz sibling whenever the header merely names its coding
        # (even "br;q=0"): a refusing client gets the plain bytes read here instead.
        return web.Response(body=chosen.read_bytes(), headers=headers)
    # FileResponse brings ETag/Last-Modified (per file sent), conditional requests, Range and sendfile.
    return web.FileResponse(chosen, headers=headers)


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
        return send(request, path, IMMUTABLE)

    async def page(request: web.Request) -> web.StreamResponse:
        if request.path.startswith(RESERVED):
            raise DomainError("not_found", f"no route {request.method} {request.path}")
        top = request.match_info["tail"]
        path = file_in(dist, top) if top and "/" not in top else None  # favicon.svg, robots.txt …
        if path is not None and path != index:
            return send(request, path, "public, max-age=3600")
        return send(request, index, "no-cache")

    # Named "web-…": the browser client's files, not API routes (the OpenAPI document leaves them out).
    app.router.add_get("/assets/{name:.+}", asset, name="web-assets")
    app.router.add_get("/{tail:.*}", page, name="web-page")
    log.info("serving the web client", extra={"dist": str(dist)})
    return True
