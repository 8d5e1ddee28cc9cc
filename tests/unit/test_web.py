"""The web client's serving rules (gateway/webapp.py) on a build of our own making: the SPA fallback,
cache headers, and the API's own 404s untouched."""

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from gateway.http import webapp
from gateway.http.errors import error_middleware


async def test_spa_fallback_and_cache_headers(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><div id=root></div>")
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)")
    (tmp_path / "favicon.svg").write_text("<svg/>")
    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/healthz", lambda r: web.json_response({"status": "ok"}))
    assert webapp.register(app, tmp_path)
    async with TestClient(TestServer(app)) as client:
        for path in ("/", "/clubs/12/rooms/3", "/verify?token=x"):
            resp = await client.get(path)
            assert resp.status == 200 and "id=root" in await resp.text(), path
            assert resp.headers["Cache-Control"] == "no-cache"
        resp = await client.get("/assets/index-abc123.js")
        assert resp.status == 200 and "immutable" in resp.headers["Cache-Control"]
        assert (await client.get("/favicon.svg")).status == 200
        (tmp_path.parent / "secret.txt").write_text("secret")
        traversal = URL("/assets/..%2F..%2Fsecret.txt", encoded=True)
        for path in ("/assets/missing.js", traversal, "/api/v1/nothing", "/socket.io/x"):
            resp = await client.get(path)
            assert resp.status == 404, path
            assert (await resp.json())["error"]["code"] == "not_found"
        assert (await client.get("/healthz")).status == 200


def test_no_build_means_api_only(tmp_path):
    app = web.Application()
    assert not webapp.register(app, tmp_path / "missing")
    assert not list(app.router.routes())


def test_the_built_app_needs_no_inline_script_or_style():
    """The gateway's Content-Security-Policy allows only same-origin script and style files (no
    'unsafe-inline'): the built index.html must hold no inline <script>, no <style>, no style=""
    attribute and no inline event handler, and load its scripts and styles from /assets/."""
    from html.parser import HTMLParser

    index = webapp.DEFAULT_DIST / "index.html"
    assert index.is_file(), "web/dist is missing: `make web` builds it"

    class Inline(HTMLParser):
        def __init__(self):
            super().__init__()
            self.found, self.sources, self.open_script = [], [], False

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "style":
                self.found.append("<style>")
            for name in attrs:
                if name == "style" or name.startswith("on"):
                    self.found.append(f"{tag} {name}=")
            if tag == "script":
                self.open_script = True
                if attrs.get("src"):
                    self.sources.append(attrs["src"])
                else:
                    self.found.append("inline <script>")
            if tag == "link" and attrs.get("rel") in ("stylesheet", "modulepreload"):
                self.sources.append(attrs.get("href", ""))

        def handle_endtag(self, tag):
            if tag == "script":
                self.open_script = False

        def handle_data(self, data):
            if self.open_script and data.strip():
                self.found.append("script text")

    parser = Inline()
    parser.feed(index.read_text())
    assert parser.found == []
    assert parser.sources and all(src.startswith("/assets/") for src in parser.sources), parser.sources
