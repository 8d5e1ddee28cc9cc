"""``clubhub services up|down|status`` as a person runs it: real processes, a data dir of its own."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from support.processes import processes_using

from storage.services import PINGS, Services, redact
from storage.settings import Settings

CLUBHUB = str(Path(sys.executable).parent / "clubhub")
# Every embedded service, in the order `up` lists them (`make test` installs Janus, the fifth).
ALL = ("postgres", "mongo", "redis", "s3", "janus")


def clubhub(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CLUBHUB_")}
    environ.update(CLUBHUB_DATA_DIR=str(data_dir), **env)
    return subprocess.run([CLUBHUB, *args], env=environ, capture_output=True, text=True, timeout=120)


def test_up_status_down_lifecycle(tmp_path):
    data = tmp_path / "data"
    first = clubhub(data, "services", "up")
    assert first.returncode == 0, first.stderr
    assert f"started: {', '.join(ALL)}" in first.stdout
    for name in ALL:
        assert f"{name}" in first.stdout and "answering" in first.stdout

    services = Services(Settings(data_dir=data))
    pids = {name: svc.process().pid for name, svc in services.embedded.items()}
    urls = services.urls()

    # Idempotent: a second up starts nothing and leaves the same processes.
    again = clubhub(data, "services", "up")
    assert again.returncode == 0 and "nothing (already up)" in again.stdout
    assert {name: svc.process().pid for name, svc in services.embedded.items()} == pids

    status = clubhub(data, "services", "status")
    assert status.returncode == 0
    lines = status.stdout.strip().splitlines()
    assert len(lines) == len(ALL)
    for name, line in zip(ALL, lines, strict=True):
        # Shown without the password (the embedded Redis has one).
        assert (
            line.startswith(name) and redact(urls[name]) in line and "answering" in line and "not" not in line
        )

    # The object store listens on its eight pinned ports, on loopback only.
    s3 = services.embedded["s3"]
    listening = {
        (c.laddr.ip, c.laddr.port)
        for c in s3.process().net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    }
    assert listening == {("127.0.0.1", p) for p in s3.read_state()["ports"].values()}
    assert len(listening) == 8

    # The media server: its WebSocket API alone, on loopback; every request but info needs a signed token.
    janus = services.embedded["janus"]
    listening = {
        (c.laddr.ip, c.laddr.port)
        for c in janus.process().net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN
    }
    assert listening == {("127.0.0.1", janus.read_state()["port"])}
    keys = janus.secrets()
    assert _janus(urls["janus"], {"janus": "create"})["error"]["code"] == 403
    assert _janus(urls["janus"], {"janus": "create", "token": "1,janus:forged"})["error"]["code"] == 403
    assert _janus(urls["janus"], {"janus": "create", "token": _janus_token(keys["token_secret"])})[
        "janus"
    ] == ("success")
    for path in (janus.dir / "secrets.json", *(janus.dir / "conf").iterdir()):
        assert path.stat().st_mode & 0o077 == 0, path

    _write_marker(urls)

    down = clubhub(data, "services", "down")
    assert down.returncode == 0 and f"stopped: {', '.join(ALL)}" in down.stdout
    assert not any(
        psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        for pid in pids.values()
    )
    assert processes_using(data) == []
    stopped = clubhub(data, "services", "status")
    assert stopped.returncode == 1 and stopped.stdout.count("not answering") == len(ALL)
    assert s3.leftovers() == []  # no process, no listener, no /tmp socket of its ports

    # Data survives down + up (and the ports are kept, so URLs stay the same).
    assert clubhub(data, "services", "up").returncode == 0
    try:
        assert Services(Settings(data_dir=data)).urls()["redis"] == urls["redis"]
        _check_marker(Services(Settings(data_dir=data)).urls())
        # Janus keeps its secrets (tokens signed before the restart stay valid) and its port.
        again = Services(Settings(data_dir=data))
        assert again.embedded["janus"].secrets() == keys and again.urls()["janus"] == urls["janus"]
    finally:
        assert clubhub(data, "services", "down").returncode == 0
    assert processes_using(data) == []


def _write_marker(urls):
    import asyncio

    import asyncpg
    import redis
    from pymongo import MongoClient

    from storage.postgres import connect_kwargs

    async def pg():
        conn = await asyncpg.connect(**connect_kwargs(urls["postgres"], database="postgres"))
        await conn.execute("CREATE TABLE marker (value text)")
        await conn.execute("INSERT INTO marker VALUES ($1)", "kept")
        await conn.close()

    asyncio.run(pg())
    with MongoClient(urls["mongo"]) as client:
        client.get_default_database().marker.insert_one({"value": "kept"})
    redis.Redis.from_url(urls["redis"]).set("marker", "kept")
    _s3(urls).put_object(Bucket="clubhub", Key="marker", Body=b"kept")
    # Redis appends to its AOF every second; ask it to rewrite now so nothing depends on timing.
    redis.Redis.from_url(urls["redis"]).bgrewriteaof()


def _check_marker(urls):
    import asyncio

    import asyncpg
    import redis
    from pymongo import MongoClient

    from storage.postgres import connect_kwargs

    async def pg():
        conn = await asyncpg.connect(**connect_kwargs(urls["postgres"], database="postgres"))
        value = await conn.fetchval("SELECT value FROM marker")
        await conn.close()
        return value

    assert asyncio.run(pg()) == "kept"
    with MongoClient(urls["mongo"]) as client:
        assert client.get_default_database().marker.find_one()["value"] == "kept"
    assert redis.Redis.from_url(urls["redis"]).get("marker") == b"kept"
    assert _s3(urls).get_object(Bucket="clubhub", Key="marker")["Body"].read() == b"kept"


def _janus(url: str, request: dict) -> dict:
    import json

    import websocket

    ws = websocket.create_connection(url, subprotocols=["janus-protocol"], timeout=5)
    try:
        ws.send(json.dumps({**request, "transaction": "t"}))
        return json.loads(ws.recv())
    finally:
        ws.close()


def _janus_token(secret: str, plugins: str = "janus.plugin.audiobridge") -> str:
    """A token as Janus checks it (token_auth_secret): ``<expiry>,janus,<plugins>:<base64 HMAC-SHA1>``."""
    import base64
    import hashlib
    import hmac
    import time

    data = f"{int(time.time()) + 60},janus,{plugins}"
    signature = base64.b64encode(hmac.new(secret.encode(), data.encode(), hashlib.sha1).digest()).decode()
    return f"{data}:{signature}"


def _s3(urls):
    from storage.objects import parse_s3_url, sync_client

    return sync_client(parse_s3_url(urls["s3"]), timeout=5.0)


def test_port_in_use_is_one_line_naming_the_service(tmp_path):
    data = tmp_path / "data"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = clubhub(data, "services", "up", CLUBHUB_REDIS_PORT=str(port))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"clubhub: redis: port {port} on 127.0.0.1 is in use"]
    # What the failed call had started is stopped again.
    assert processes_using(data) == []


@pytest.mark.parametrize(
    "variable,service",
    [
        ("CLUBHUB_REDIS_SERVER_BIN", "redis"),
        ("CLUBHUB_MONGO_SERVER_BIN", "mongo"),
        ("CLUBHUB_WEED_BIN", "s3"),
        ("CLUBHUB_JANUS_BIN", "janus"),
    ],
)
def test_missing_binary_is_one_line_naming_the_service(tmp_path, variable, service):
    data = tmp_path / "data"
    result = clubhub(data, "services", "up", **{variable: str(tmp_path / "no-such-server")})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"clubhub: {service}: ") and "not found" in lines[0]
    assert processes_using(data) == []


# An S3 named elsewhere, so a step starts only the service it has broken (the embedded SeaweedFS starts
# alongside otherwise, and on a loaded machine its own start-up could be the line reported).
ELSEWHERE_S3 = "s3://key:secret@127.0.0.1:1/bucket"


def test_corrupt_data_dirs_are_one_line_naming_the_service(tmp_path):
    data = tmp_path / "data"
    assert clubhub(data, "services", "up").returncode == 0
    urls = Services(Settings(data_dir=data)).urls()
    with __import__("pymongo").MongoClient(urls["mongo"]) as client:
        client.get_default_database().things.insert_one({"x": 1})
    assert clubhub(data, "services", "down").returncode == 0

    # Redis: an append-only file that is not one.
    aof_dir = data / "redis"
    for path in aof_dir.rglob("appendonly*"):
        if path.is_file():
            path.write_bytes(b"*3\r\n$3\r\nSET\r\ngarbage without end")
    result = clubhub(
        data,
        "services",
        "up",
        CLUBHUB_POSTGRES_URL="postgres://x@127.0.0.1:1/x",
        CLUBHUB_MONGO_URL="mongodb://127.0.0.1:1/x",
        CLUBHUB_S3_URL=ELSEWHERE_S3,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("clubhub: redis: failed to start"), lines

    # MongoDB-wire server: its SQLite file overwritten with junk.
    for path in (data / "mongo" / "db").glob("*.db"):
        path.write_bytes(b"this is not a database" * 200)
    result = clubhub(
        data,
        "services",
        "up",
        CLUBHUB_POSTGRES_URL="postgres://x@127.0.0.1:1/x",
        CLUBHUB_REDIS_URL="redis://127.0.0.1:1/0",
        CLUBHUB_S3_URL=ELSEWHERE_S3,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("clubhub: mongo: "), lines

    # PostgreSQL: pg_control destroyed.
    (data / "postgres" / "data" / "global" / "pg_control").write_bytes(b"\0" * 8192)
    result = clubhub(
        data,
        "services",
        "up",
        CLUBHUB_MONGO_URL="mongodb://127.0.0.1:1/x",
        CLUBHUB_REDIS_URL="redis://127.0.0.1:1/0",
        CLUBHUB_S3_URL=ELSEWHERE_S3,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("clubhub: postgres: data dir"), lines

    assert processes_using(data) == []


def test_configured_url_makes_a_service_external(services, tmp_path):
    redis_url = services.urls()["redis"]
    external = Services(Settings(data_dir=tmp_path / "unused", redis_url=redis_url))
    assert set(external.embedded) == {"postgres", "mongo", "s3", "janus"}
    status = {s.name: s for s in external.status()}
    assert (
        status["redis"].embedded is False and status["redis"].answering and status["redis"].url == redis_url
    )
    assert status["postgres"].answering is False  # embedded, not started in this data dir
    PINGS["redis"](redis_url)


def test_a_configured_s3_url_starts_no_object_store(services, tmp_path):
    s3_url = services.urls()["s3"]
    assert s3_url and s3_url.startswith("s3://")
    external = Services(Settings(data_dir=tmp_path / "unused", s3_url=s3_url))
    assert "s3" not in external.embedded and external.urls()["s3"] == s3_url
    status = {s.name: s for s in external.status()}
    assert status["s3"].embedded is False and status["s3"].answering, status["s3"]
    assert redact(s3_url) != s3_url and "***" in redact(s3_url)  # the secret is never shown
    # `clubhub gateway` starts nothing: without a URL it has no object store at all.
    none = Services(Settings(data_dir=tmp_path / "unused", s3_embedded=False, janus_embedded=False))
    assert "s3" not in none.embedded and none.urls()["s3"] is None
    assert [s.name for s in none.status()] == ["postgres", "mongo", "redis"]


def test_a_configured_janus_url_starts_no_media_server(services, tmp_path):
    url = services.urls()["janus"]
    assert url and url.startswith("ws://127.0.0.1:")
    with pytest.raises(ValueError, match="janus_token_secret"):
        Settings(data_dir=tmp_path / "unused", janus_url=url)  # the gateway could sign no token
    keys = services.embedded["janus"].secrets()
    external = Services(
        Settings(
            data_dir=tmp_path / "unused",
            janus_url=url,
            janus_token_secret=keys["token_secret"],
            janus_admin_key=keys["admin_key"],
        )
    )
    assert "janus" not in external.embedded and external.urls()["janus"] == url
    status = {s.name: s for s in external.status()}
    assert status["janus"].embedded is False and status["janus"].answering, status["janus"]
