"""``clubhub run --workers N`` and ``--ray-address`` without services or Ray: which settings reach the
supervisor or the gateway, what a worker's environment holds, the port check and the refusal of polling."""

from __future__ import annotations

import socket

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import gateway.cli as cli
from gateway.app import POLLING_REFUSED, SIO, create_app, websocket_only_middleware
from storage.settings import Settings


@pytest.fixture(autouse=True)
def keep_the_test_loggers(monkeypatch):
    # main() replaces the root logger's handlers with the gateway's; in the test process that would take
    # away the capture the secret audit (tests/support/secret_audit.py) reads every later log line from.
    monkeypatch.setattr(cli, "setup_logging", lambda *args, **kwargs: None)


@pytest.fixture
def calls(monkeypatch, tmp_path):
    for variable in ("CLUBHUB_WORKERS", "CLUBHUB_RAY_ADDRESS", "CLUBHUB_PORT", "CLUBHUB_HOST", "CLUBHUB_ENV"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("CLUBHUB_DATA_DIR", str(tmp_path))
    seen: dict[str, list] = {"supervise": [], "serve": []}
    monkeypatch.setattr(cli, "supervise", lambda s: seen["supervise"].append(s) or 0)
    monkeypatch.setattr(cli, "run_gateway", lambda s, **kw: seen["serve"].append((s, kw)) or 0)
    return seen


def test_one_worker_is_the_single_process_gateway(calls):
    assert cli.main(["run", "--port", "8099"]) == 0
    assert calls["supervise"] == []
    settings, kw = calls["serve"][0]
    assert (settings.workers, settings.port, kw) == (1, 8099, {})


def test_workers_and_ray_address_reach_the_supervisor(calls):
    assert cli.main(["run", "--workers", "3", "--ray-address", "127.0.0.1:6390", "--port", "8099"]) == 0
    assert calls["serve"] == []
    (settings,) = calls["supervise"]
    assert (settings.workers, settings.ray_address, settings.port) == (3, "127.0.0.1:6390", 8099)


def test_workers_from_the_environment(calls, monkeypatch):
    monkeypatch.setenv("CLUBHUB_WORKERS", "2")
    assert cli.main(["run"]) == 0
    assert [s.workers for s in calls["supervise"]] == [2]


def test_ray_address_alone_joins_a_cluster_in_one_process(calls):
    assert cli.main(["run", "--ray-address", "127.0.0.1:6390"]) == 0
    settings, _ = calls["serve"][0]
    assert settings.ray_address == "127.0.0.1:6390"


def test_a_worker_never_supervises(calls, monkeypatch):
    monkeypatch.setenv("CLUBHUB_WORKERS", "4")
    assert cli.main(["run", "--supervisor-fd", "7"]) == 0
    assert calls["supervise"] == []
    settings, kw = calls["serve"][0]
    assert (settings.workers, kw) == (4, {"supervisor_fd": 7})


@pytest.mark.parametrize("workers", ["0", "65"])
def test_out_of_range_workers_are_refused(calls, workers):
    with pytest.raises(SystemExit, match="invalid --workers"):
        cli.main(["run", "--workers", workers])
    assert calls == {"supervise": [], "serve": []}


def test_supervisor_refuses_port_zero(tmp_path):
    assert cli.supervise(Settings(data_dir=tmp_path, workers=2, port=0)) == 2
    assert not (tmp_path / "ray").exists()  # nothing was started


def test_a_port_held_with_reuse_port_counts_as_in_use():
    """A gateway left running with SO_REUSEPORT would silently share the port with new workers."""
    held = socket.socket()
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    held.bind(("127.0.0.1", 0))
    held.listen()
    port = held.getsockname()[1]
    try:
        assert cli.port_in_use("127.0.0.1", port)
    finally:
        held.close()
    assert cli.port_in_use("127.0.0.1", port) is None


def test_worker_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "somewhere:1")
    for variable in ("CLUBHUB_POSTGRES_URL", "CLUBHUB_REDIS_URL", "CLUBHUB_METRICS_PORT"):
        monkeypatch.delenv(variable, raising=False)
    settings = Settings(
        data_dir=tmp_path, workers=2, port=8099, metrics_port=9500, redis_url="redis://r:6379/0"
    )
    urls = {"postgres": "postgres://embedded", "mongo": "mongodb://embedded/db", "redis": "redis://r:6379/0"}
    env = cli.worker_environment(settings, "127.0.0.1:6390", urls, 1)
    assert "RAY_ADDRESS" not in env
    assert env["CLUBHUB_RAY_ADDRESS"] == "127.0.0.1:6390"
    assert (env["CLUBHUB_WORKERS"], env["CLUBHUB_PORT"], env["CLUBHUB_METRICS_PORT"]) == ("2", "8099", "9501")
    assert env["CLUBHUB_POSTGRES_URL"] == "postgres://embedded"
    assert env["CLUBHUB_DATA_DIR"] == str(tmp_path.resolve())
    # An external URL is not written again: it may come from a _FILE, and both together are refused.
    assert "CLUBHUB_REDIS_URL" not in env


def test_several_workers_serve_websocket_only(tmp_path):
    assert create_app(Settings(data_dir=tmp_path, workers=2))[SIO].eio.transports == ["websocket"]
    assert "polling" in create_app(Settings(data_dir=tmp_path))[SIO].eio.transports


async def test_polling_is_refused_with_a_reason():
    app = web.Application(middlewares=[websocket_only_middleware()])

    async def engineio(request):
        return web.Response(text="engine.io")

    app.router.add_get("/socket.io/", engineio)
    app.router.add_get("/api/v1/x", engineio)
    async with TestClient(TestServer(app)) as client:
        for query in ("?EIO=4&transport=polling", "?EIO=4"):
            resp = await client.get(f"/socket.io/{query}")
            assert resp.status == 422
            assert (await resp.json())["error"] == {"code": "invalid", "message": POLLING_REFUSED}
        resp = await client.get("/socket.io/?EIO=4&transport=websocket")
        assert (resp.status, await resp.text()) == (200, "engine.io")
        assert (await client.get("/api/v1/x?transport=polling")).status == 200


def test_gateway_with_workers_is_supervised_too(calls, monkeypatch):
    """A pod may run N gateway processes against external stores and an existing cluster."""
    for variable, value in {
        "CLUBHUB_POSTGRES_URL": "postgres://u:p@db:5432/clubhub",
        "CLUBHUB_MONGO_URL": "mongodb://mongo:27017/clubhub",
        "CLUBHUB_REDIS_URL": "redis://redis:6379/0",
        "CLUBHUB_RAY_ADDRESS": "ray://ray-head:10001",
    }.items():
        monkeypatch.setenv(variable, value)
    assert cli.main(["gateway", "--workers", "2", "--port", "8099"]) == 0
    assert calls["serve"] == []
    assert [(s.workers, s.ray_address) for s in calls["supervise"]] == [(2, "ray://ray-head:10001")]
