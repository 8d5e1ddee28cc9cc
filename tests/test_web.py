"""The web client's serving rules (gateway/webapp.py) on a build of our own making: the SPA fallback,
cache headers, and the API's own 404s untouched."""
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from gateway import webapp
from gateway.errors import error_middleware


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
