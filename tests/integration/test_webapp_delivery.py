"""The web client's delivery (issue 14, must show 4): the build writes brotli and gzip copies of its assets
(``web/scripts/compress.mjs``, run by ``npm run build``), and the gateway serves them (``gateway/http/webapp.py``)
with ``Content-Encoding`` and ``Vary: Accept-Encoding`` to clients that accept them, the plain bytes to those
that do not; ``index.html`` is revalidated on every load, hashed assets are immutable.

The script runs for real (Node) on a small build made here; the gateway's web routes run in an aiohttp
server of their own (they need no backing service). The last test reads what the session gateway serves.
"""

from __future__ import annotations

import gzip
import random
import shutil
import subprocess  # nosec B404: runs the repository's own build script with node
from pathlib import Path

import aiohttp
import brotli
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.http import webapp
from gateway.http.errors import error_middleware

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "web" / "scripts" / "compress.mjs"
NODE = shutil.which("node")
JS = ("export const greeting = 'hello from the club';\n" * 200).encode()
CSS = (".card { border: 1px solid #ccc; padding: 1rem; }\n" * 100).encode()
INDEX = (
    b'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>ClubHoloHub</title>'
    b'<script type="module" src="/assets/index-abc123.js"></script>'
    b'<link rel="stylesheet" href="/assets/index-def456.css"></head><body><div id="root"></div>'
    + b"<!-- padding so the page is worth compressing -->" * 8
    + b"</body></html>"
)

pytestmark = pytest.mark.skipif(NODE is None, reason="node is needed to run the build's compress script")


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A build as ``vite build`` leaves it, then compressed by the real script."""
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_bytes(INDEX)
    (root / "assets" / "index-abc123.js").write_bytes(JS)
    (root / "assets" / "index-def456.css").write_bytes(CSS)
    (root / "assets" / "tiny-0a1b2c.js").write_bytes(b"export default 1;\n")
    (root / "assets" / "logo-9f8e7d.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (root / "favicon.svg").write_bytes(
        b'<svg xmlns="http://www.w3.org/2000/svg">' + b"<g/>" * 200 + b"</svg>"
    )
    done = subprocess.run(  # nosec B603: fixed argv, no shell
        [NODE, str(SCRIPT), str(root)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return root


@pytest.fixture
async def server(dist: Path):
    app = web.Application(middlewares=[error_middleware])  # a DomainError answers as in the gateway
    assert webapp.register(app, dist)
    async with TestServer(app) as srv:
        yield srv


async def get(
    srv: TestServer, path: str, accept: str | None, **headers: str
) -> tuple[aiohttp.ClientResponse, bytes]:
    """The raw answer: the client neither asks for an encoding itself nor decodes one."""
    if accept is not None:
        headers["Accept-Encoding"] = accept
    session = aiohttp.ClientSession(auto_decompress=False, skip_auto_headers=("Accept-Encoding",))
    async with session as http, http.get(srv.make_url(path), headers=headers) as resp:
        return resp, await resp.read()


def test_the_script_writes_smaller_brotli_and_gzip_copies(dist: Path):
    for name, original in (
        ("assets/index-abc123.js", JS),
        ("assets/index-def456.css", CSS),
        ("index.html", INDEX),
    ):
        br = (dist / f"{name}.br").read_bytes()
        gz = (dist / f"{name}.gz").read_bytes()
        assert brotli.decompress(br) == original and gzip.decompress(gz) == original, name
        assert len(br) < len(original) and len(gz) < len(original), name
    assert len((dist / "assets/index-abc123.js.br").read_bytes()) * 20 < len(
        JS
    )  # quality 11, not a token effort
    # Too small to be worth it, or not compressible text: left alone.
    assert (
        not (dist / "assets/tiny-0a1b2c.js.br").exists() and not (dist / "assets/logo-9f8e7d.png.gz").exists()
    )


def test_a_copy_that_is_not_smaller_is_removed(dist: Path):
    noise = dist / "assets" / "noise-111111.js"
    noise.write_bytes(random.Random(14).randbytes(4096))  # incompressible
    Path(f"{noise}.br").write_bytes(b"stale")  # from an earlier build
    done = subprocess.run(  # nosec B603: fixed argv, no shell
        [NODE, str(SCRIPT), str(dist)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert not Path(f"{noise}.br").exists()


@pytest.mark.parametrize(
    ("accept", "encoding"),
    [
        ("gzip, deflate, br, zstd", "br"),  # Chromium
        ("br", "br"),
        ("gzip", "gzip"),
        ("br;q=0, gzip;q=0.8", "gzip"),  # brotli refused by name
        ("*", "br"),
        ("identity", None),
        (None, None),
        ("gzip;q=0, br;q=0", None),  # aiohttp's own lookup would still send brotli here
    ],
)
async def test_assets_in_the_encoding_the_client_accepts(server, accept, encoding):
    resp, body = await get(server, "/assets/index-abc123.js", accept)
    assert resp.status == 200
    assert resp.headers.get("Content-Encoding") == encoding
    assert resp.headers["Vary"] == "Accept-Encoding"  # the plain answer too: caches must keep them apart
    assert resp.headers["Content-Type"].split(";")[0] == "text/javascript"
    assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    decoded = {"br": brotli.decompress, "gzip": gzip.decompress, None: lambda b: b}[encoding](body)
    assert decoded == JS
    assert int(resp.headers["Content-Length"]) == len(body)


async def test_index_is_compressed_and_never_cached(server):
    for path in ("/", "/clubs/7", "/events/3"):  # the SPA's routes all answer index.html
        resp, body = await get(server, path, "gzip, br")
        assert resp.status == 200
        assert resp.headers["Cache-Control"] == "no-cache"
        assert resp.headers["Content-Encoding"] == "br" and resp.headers["Vary"] == "Accept-Encoding"
        assert resp.headers["Content-Type"].startswith("text/html")
        assert brotli.decompress(body) == INDEX
    resp, body = await get(server, "/", None)
    assert resp.headers["Cache-Control"] == "no-cache" and "Content-Encoding" not in resp.headers
    assert body == INDEX


async def test_css_top_level_files_and_files_without_copies(server):
    resp, body = await get(server, "/assets/index-def456.css", "gzip")
    assert resp.headers["Content-Encoding"] == "gzip" and gzip.decompress(body) == CSS
    assert resp.headers["Content-Type"].startswith("text/css")
    resp, body = await get(server, "/favicon.svg", "br")
    assert resp.headers["Content-Encoding"] == "br" and resp.headers["Content-Type"].startswith(
        "image/svg+xml"
    )
    assert resp.headers["Cache-Control"] == "public, max-age=3600"
    # No compressed copy: sent as it is, and nothing varies.
    resp, body = await get(server, "/assets/logo-9f8e7d.png", "gzip, br")
    assert "Content-Encoding" not in resp.headers and "Vary" not in resp.headers
    assert resp.headers["Content-Type"] == "image/png" and body.startswith(b"\x89PNG")
    resp, _ = await get(server, "/assets/nope-000000.js", "br")
    assert resp.status == 404


async def test_revalidation_per_encoding(server):
    """Each encoding has its own ETag, and a revalidation of it answers 304 without a body."""
    first, _ = await get(server, "/assets/index-abc123.js", "br")
    plain, _ = await get(server, "/assets/index-abc123.js", None)
    assert first.headers["ETag"] != plain.headers["ETag"]
    again, body = await get(
        server, "/assets/index-abc123.js", "br", **{"If-None-Match": first.headers["ETag"]}
    )
    assert again.status == 304 and body == b""


async def test_the_session_gateway_serves_the_compressed_build(gateway):
    """What the real gateway (with its security middleware) serves from ``web/dist``, once built."""
    dist = webapp.DEFAULT_DIST
    bundles = sorted((dist / "assets").glob("index-*.js")) if dist.is_dir() else []
    if not bundles:
        pytest.skip("web/dist is not built (make web)")
    if not Path(f"{bundles[0]}.br").exists():
        pytest.fail("web/dist was built without compressed copies: `npm run build` runs scripts/compress.mjs")
    url = f"/assets/{bundles[0].name}"
    async with aiohttp.ClientSession(gateway.url, auto_decompress=False) as http:
        async with http.get(url, headers={"Accept-Encoding": "gzip, deflate, br"}) as resp:
            body = await resp.read()
            assert resp.headers["Content-Encoding"] == "br" and resp.headers["Vary"] == "Accept-Encoding"
            assert brotli.decompress(body) == bundles[0].read_bytes()
            assert "immutable" in resp.headers["Cache-Control"]
        async with http.get("/", headers={"Accept-Encoding": "gzip"}) as resp:
            assert resp.headers["Cache-Control"] == "no-cache"
            assert resp.headers["Content-Encoding"] == "gzip"
