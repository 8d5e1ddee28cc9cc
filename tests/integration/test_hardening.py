"""Hardening defaults (issue 11: M2, M4, M5, L5, L7, Must-show 6): what a deployment gets without
asking — the dev mailbox only for this machine, security headers, a CORS allow-list, metrics off the
public port in prod, Ray and the embedded services closed to other users and machines, secrets from
files, and no password or token in any log of the run."""

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import psutil
import pytest
import ray
import redis
import socketio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from support import secret_audit
from support.chat import GatewayProcess
from support.members import make_member
from support.secret_audit import remember

from actors import runtime
from gateway.core.mail import Mail, Mailer
from gateway.http import security
from gateway.http.keys import METRICS_LISTENER
from storage.services import Services, free_port
from storage.settings import Settings, SettingsError

CLUBHUB = str(Path(sys.executable).parent / "clubhub")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLUBHUB_") and k != "RAY_ADDRESS"}
    env.update(extra)
    return env


def routable_address() -> str | None:
    """An address of this machine that is not loopback (where another machine would connect from)."""
    for addrs in psutil.net_if_addrs().values():
        for addr in addrs:
            if addr.family == socket.AF_INET and not addr.address.startswith("127."):
                return addr.address
    return None


# --------------------------------------------------------------------------- M2: dev mailbox, dev mode


async def test_M2_dev_mailbox_loopback_only(gateway, http):
    ok = await http.get("/api/v1/dev/mailbox", params={"email": "nobody@example.org"})
    assert ok.status == 200 and (await ok.json()) == {"messages": []}

    address = routable_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to connect from")
    # The same gateway, also listening on a routable address: a client there is another machine's.
    site = web.TCPSite(gateway.runner, address, 0)
    await site.start()
    try:
        port = site._server.sockets[0].getsockname()[1]
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0))) as remote:
            resp = await remote.get(
                f"http://{address}:{port}/api/v1/dev/mailbox", params={"email": "nobody@example.org"}
            )
            assert resp.status == 404, await resp.text()
            assert (await resp.json())["error"]["code"] == "not_found"
            # The rest of the API answers there as usual: only the mailbox is loopback-only.
            assert (await remote.get(f"http://{address}:{port}/healthz")).status == 200
    finally:
        await site.stop()


async def send_dev_mail(settings, gateway) -> tuple[str, str]:
    """A verification mail through the dev mailbox (no SMTP): returns (address, token)."""
    dev = settings.model_copy(update={"smtp_url": None, "verify_token_ttl_s": 600})
    token = "dev-mail-token-" + os.urandom(8).hex()
    remember(token)
    to = f"mailbox-{os.urandom(4).hex()}@example.org"
    await Mailer(dev, gateway.backends.stores.redis).send(
        Mail(
            to=to,
            subject="Verify",
            body=f"open /verify?token={token}",
            link=f"http://127.0.0.1/verify?token={token}",
        )
    )
    return to, token


async def test_M2_dev_mail_link_not_logged_and_expires(settings, gateway, caplog):
    redis_client = gateway.backends.stores.redis
    with caplog.at_level("DEBUG"):
        to, token = await send_dev_mail(settings, gateway)
    assert "dev mailbox: mail stored" in caplog.text
    assert token not in caplog.text and not any(token in str(vars(r)) for r in caplog.records)
    # The mail (a credential) leaves Redis when its link expires.
    key = f"clubhub:devmail:{to}"
    assert 0 < await redis_client.ttl(key) <= 600


@pytest.mark.parametrize("how", [["--host", "0.0.0.0"], ["--host", "192.0.2.10"]])
def test_M2_dev_refuses_non_loopback_host(tmp_path, how):
    result = subprocess.run(
        [CLUBHUB, "run", *how],
        env=clean_env(CLUBHUB_DATA_DIR=str(tmp_path / "data")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("clubhub: CLUBHUB_ENV=dev serves only on loopback"), lines
    assert not (tmp_path / "data").exists(), "nothing was started"


def test_M2_dev_host_check_accepts_loopback():
    from gateway.cli import check_environment

    for host in ("127.0.0.1", "127.0.3.4", "::1", "localhost"):
        assert check_environment(Settings(host=host)) is None
    assert "loopback" in check_environment(Settings(host="0.0.0.0"))
    assert "loopback" in check_environment(Settings(host="::"))


# --------------------------------------------------------------------------- M4: security headers


def assert_hardened(
    resp: aiohttp.ClientResponse, host: str, upload_origin: str, audio_origin: str | None = None
) -> None:
    where = f"{resp.method} {resp.url.path} -> {resp.status}"
    csp = resp.headers.get("Content-Security-Policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives.get("script-src") == ["'self'"], (where, csp)
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, (where, csp)
    assert directives.get("frame-ancestors") == ["'none'"], (where, csp)
    assert directives.get("object-src") == ["'none'"], (where, csp)
    assert directives.get("base-uri") == ["'self'"], (where, csp)
    # The object store's origin too: browsers PUT uploads straight to it.
    # And the media server's WebSocket API, which browsers reach for live sessions' audio.
    connect = {
        "'self'",
        f"ws://{host}",
        f"wss://{host}",
        upload_origin,
        *([audio_origin] if audio_origin else []),
    }
    assert set(directives.get("connect-src", [])) == connect, (where, csp)
    assert resp.headers.get("X-Content-Type-Options") == "nosniff", where
    assert resp.headers.get("X-Frame-Options") == "DENY", where
    assert resp.headers.get("Referrer-Policy") in ("strict-origin-when-cross-origin", "no-referrer"), where
    server = resp.headers.get("Server", "")
    assert "aiohttp" not in server.lower() and "python" not in server.lower(), (where, server)
    assert "Strict-Transport-Security" not in resp.headers, f"{where}: HSTS over plain HTTP"


async def test_M4_security_headers(gateway, http, member):
    host = gateway.url.removeprefix("http://")
    endpoint = urlsplit(gateway.backends.stores.objects.public_endpoint)
    upload_origin = f"{endpoint.scheme}://{endpoint.netloc}"
    janus = urlsplit(gateway.backends.janus_url)
    audio_origin = f"{janus.scheme}://{janus.netloc}"
    auth = {"Authorization": f"Bearer {member.token}"}
    checks = [
        ("GET", "/healthz", {}, None, 200),
        ("GET", "/api/v1/me", auth, None, 200),
        ("GET", "/api/v1/me", {}, None, 401),
        ("GET", "/api/v1/no-such-route", {}, None, 404),
        ("POST", "/api/v1/auth/login", {}, {"email": 1}, 422),
        ("GET", "/api/v1/openapi.json", {}, None, 200),
        ("GET", "/", {}, None, 200),  # the web app
        ("GET", "/clubs/1", {}, None, 200),  # its SPA fallback
        ("GET", "/assets/no-such-file.js", {}, None, 404),
        ("GET", "/socket.io/?EIO=4&transport=polling", {}, None, 200),
        # A client claiming TLS through a proxy we do not trust gets no HSTS either.
        ("GET", "/healthz", {"X-Forwarded-Proto": "https"}, None, 200),
    ]
    for method, path, headers, body, status in checks:
        async with http.request(method, path, headers=headers, json=body) as resp:
            assert resp.status == status, (method, path, resp.status, await resp.text())
            assert_hardened(resp, host, upload_origin, audio_origin)
    async with http.get("/") as resp:
        assert "text/html" in resp.headers["Content-Type"]


@pytest.mark.parametrize("trust_proxy", [True, False])
async def test_M4_hsts_only_over_tls(tmp_path, trust_proxy):
    """HSTS when the client's connection was TLS: here, as a trusted proxy says in X-Forwarded-Proto."""
    app = web.Application()
    app.router.add_get("/", lambda request: web.Response(text="ok"))
    security.install(app, Settings(data_dir=tmp_path, trust_proxy=trust_proxy))
    async with TestClient(TestServer(app)) as client:
        plain = await client.get("/")
        assert "Strict-Transport-Security" not in plain.headers
        forwarded = await client.get("/", headers={"X-Forwarded-Proto": "https"})
        assert ("Strict-Transport-Security" in forwarded.headers) is trust_proxy
        if trust_proxy:
            assert "max-age=" in forwarded.headers["Strict-Transport-Security"]


# --------------------------------------------------------------------------- CORS allow-list


async def test_cors_allow_list_rest_and_socket(gateway, http, settings, member):
    listed = sorted(settings.allowed_origins)[0]  # default: the public URL's origin
    foreign = "https://evil.example"
    assert foreign not in settings.allowed_origins

    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    ok = await http.options("/api/v1/clubs", headers={"Origin": listed, **preflight})
    assert ok.status == 204
    assert ok.headers["Access-Control-Allow-Origin"] == listed
    assert ok.headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in ok.headers["Access-Control-Allow-Methods"]
    refused = await http.options("/api/v1/clubs", headers={"Origin": foreign, **preflight})
    assert refused.status == 403 and "Access-Control-Allow-Origin" not in refused.headers

    auth = {"Authorization": f"Bearer {member.token}"}
    mine = await http.get("/api/v1/me", headers={"Origin": listed, **auth})
    assert mine.status == 200 and mine.headers["Access-Control-Allow-Origin"] == listed
    assert "Origin" in mine.headers.get("Vary", "")
    theirs = await http.get("/api/v1/me", headers={"Origin": foreign, **auth})
    assert "Access-Control-Allow-Origin" not in theirs.headers  # the browser keeps the body from the page
    # An unsafe request a browser sends without a preflight (a form post) is refused before any handler.
    posted = await http.post("/api/v1/auth/logout", headers={"Origin": foreign, **auth})
    assert posted.status == 403 and (await posted.json())["error"]["code"] == "forbidden"
    # The gateway's own pages are always welcome, whatever the list says.
    own = await http.options("/api/v1/clubs", headers={"Origin": gateway.url, **preflight})
    assert own.status == 204 and own.headers["Access-Control-Allow-Origin"] == gateway.url

    # Socket.IO handshake: the same rule.
    for origin, allowed in ((listed, True), (gateway.url, True), (foreign, False)):
        client = socketio.AsyncClient(reconnection=False)
        try:
            await client.connect(
                gateway.url,
                transports=["websocket"],
                headers={"Origin": origin},
                auth={"token": member.token},
                wait_timeout=10,
            )
            connected = client.connected
        except socketio.exceptions.ConnectionError:
            connected = False
        finally:
            await client.disconnect()
        assert connected is allowed, origin
    # Polling, where a browser reads the response only with the CORS headers.
    poll = await http.get("/socket.io/?EIO=4&transport=polling", headers={"Origin": foreign})
    assert poll.status == 400 and "Access-Control-Allow-Origin" not in poll.headers


def test_cors_origins_setting():
    s = Settings(
        cors_origins="https://app.example.org, http://localhost:5173/ ,*", public_url="https://x.org/app"
    )
    assert s.allowed_origins == {"https://app.example.org", "http://localhost:5173"}  # never "*"
    assert Settings(public_url="https://Chat.Example.org/path").allowed_origins == {
        "https://chat.example.org"
    }
    assert Settings(port=9000).allowed_origins == {"http://127.0.0.1:9000"}


# --------------------------------------------------------------------------- L5: metrics port, prod


async def test_L5_metrics_port(gateway, http):
    listener = gateway.app[METRICS_LISTENER]
    assert listener.url.startswith("http://127.0.0.1:")  # loopback by default
    async with aiohttp.ClientSession() as plain:
        resp = await plain.get(listener.url)
        assert resp.status == 200 and "clubhub_http_requests_total" in await resp.text()
        assert (await plain.get(listener.url.replace("/metrics", "/healthz"))).status == 404
    # dev: also on the main port.
    assert (await http.get("/metrics")).status == 200


class ProdGateway(GatewayProcess):
    """``clubhub run`` with CLUBHUB_ENV=prod, its secrets in files, on the session's services and Ray
    (started, awaited and stopped like any other gateway process)."""

    def __init__(self, settings, services, ray_address: str, smtp_url: str, tmp_path: Path) -> None:
        self.port, self.metrics_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        urls = services.urls()
        secrets_dir = tmp_path / "secrets"
        secrets_dir.mkdir(mode=0o700)
        files = {}
        for name, value in (
            ("SECRET_KEY", os.urandom(24).hex()),
            ("SMTP_URL", smtp_url),
            ("REDIS_URL", urls["redis"]),
            ("MONGO_URL", urls["mongo"]),
            ("POSTGRES_URL", urls["postgres"]),
        ):
            path = secrets_dir / name.lower()
            path.write_text(value + "\n")  # as `echo` writes it: the newline is not part of the value
            files[f"CLUBHUB_{name}_FILE"] = str(path)
        # RAY_AUTH_MODE and RAY_AUTH_TOKEN_PATH (set by the session's start_ray) are inherited.
        env = clean_env(
            CLUBHUB_ENV="prod",
            CLUBHUB_DATA_DIR=str(settings.data_path),
            CLUBHUB_RAY_ADDRESS=ray_address,
            CLUBHUB_PORT=str(self.port),
            CLUBHUB_METRICS_PORT=str(self.metrics_port),
            **files,
        )
        self.log = tmp_path / "gateway-prod.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([CLUBHUB, "run"], env=env, stdout=out, stderr=out)


async def test_L5_prod_metrics_only_on_metrics_port(settings, services, ray_cluster, smtp, gateway, tmp_path):
    prod = ProdGateway(settings, services, ray_cluster, smtp.url, tmp_path)
    try:
        await prod.ready()
        async with aiohttp.ClientSession() as http:
            assert (await http.get(f"{prod.url}/metrics")).status == 404
            metrics = await http.get(f"http://127.0.0.1:{prod.metrics_port}/metrics")
            assert metrics.status == 200 and "clubhub_http_requests_total" in await metrics.text()
            # The OpenAPI document lists neither /metrics nor the dev mailbox; the mailbox is not there.
            doc = await (await http.get(f"{prod.url}/api/v1/openapi.json")).json()
            assert not [p for p in doc["paths"] if "metrics" in p or "/dev/" in p], sorted(doc["paths"])
            mailbox = await http.get(f"{prod.url}/api/v1/dev/mailbox", params={"email": "a@example.org"})
            assert mailbox.status == 404
            # The secrets came from files (the SMTP one too: signup mail reaches the session's server).
            email = f"prod-{os.urandom(4).hex()}@example.org"
            signup = await http.post(
                f"{prod.url}/api/v1/auth/signup",
                json={"email": email, "password": "prod password 1", "display_name": "P"},
            )
            remember("prod password 1")
            assert signup.status in (201, 202), await signup.text()
            remember(smtp.token_of(await smtp.wait_for(email)))
        listening = {
            c.laddr
            for c in psutil.Process(prod.proc.pid).net_connections("inet")
            if c.status == psutil.CONN_LISTEN
        }
        assert ("127.0.0.1", prod.metrics_port) in listening, listening
    finally:
        prod.stop()
    assert prod.proc.returncode == 0, prod.log.read_text()[-3000:]


# --------------------------------------------------------------------------- *_FILE secrets


def test_secret_file_variables(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("CLUBHUB_"):
            monkeypatch.delenv(name)
    key = tmp_path / "key"
    key.write_text("s3cret-from-a-file\n")
    monkeypatch.setenv("CLUBHUB_SECRET_KEY_FILE", str(key))
    monkeypatch.setenv("CLUBHUB_REDIS_URL_FILE", str(key))
    s = Settings()
    assert s.secret_key.get_secret_value() == "s3cret-from-a-file" and s.redis_url == "s3cret-from-a-file"

    monkeypatch.setenv("CLUBHUB_SECRET_KEY", "also-set")
    with pytest.raises(SettingsError, match="both CLUBHUB_SECRET_KEY and CLUBHUB_SECRET_KEY_FILE"):
        Settings()
    monkeypatch.delenv("CLUBHUB_SECRET_KEY")

    monkeypatch.setenv("CLUBHUB_SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(SettingsError, match="CLUBHUB_SECRET_KEY_FILE: cannot read"):
        Settings()
    # From the command line: one line naming the variable, no traceback.
    result = subprocess.run(
        [CLUBHUB, "services", "status"],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(
            CLUBHUB_DATA_DIR=str(tmp_path / "d"), CLUBHUB_POSTGRES_URL_FILE=str(tmp_path / "missing")
        ),
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"clubhub: CLUBHUB_POSTGRES_URL_FILE: cannot read {tmp_path / 'missing'}: No such file or directory"
    ]


# --------------------------------------------------------------------------- M5: Ray on loopback, token auth


def _is_loopback(ip: str) -> bool:
    return ip in ("127.0.0.1", "::1", "::ffff:127.0.0.1") or ip.startswith("127.")


def test_M5_ray_binds_loopback(ray_cluster, gateway):
    if os.environ.get("CLUBHUB_RAY_ADDRESS"):
        pytest.skip("the session joined an external Ray cluster")
    session_dir = ray._private.worker._global_node.get_session_dir_path()
    me = psutil.Process()
    ray_procs = [me]  # the driver: its core worker serves gRPC too
    for proc in me.children(recursive=True):
        try:
            cmd = " ".join(proc.cmdline())
            if session_dir in cmd or proc.name().startswith("ray::"):
                ray_procs.append(proc)
        except psutil.Error:
            continue
    names = {p.name() for p in ray_procs}
    assert {"gcs_server", "raylet"} <= names and any(n.startswith("ray::") for n in names), names
    exposed = []
    listening = 0
    for proc in ray_procs:
        try:
            for conn in proc.net_connections("inet"):
                if conn.status == psutil.CONN_LISTEN:
                    listening += 1
                    if not _is_loopback(conn.laddr.ip):
                        exposed.append((proc.name(), conn.laddr))
        except psutil.Error:
            continue
    assert listening >= 4  # GCS, raylet (node manager and object manager), a worker at least
    assert exposed == []
    assert runtime.gcs_address().startswith("127.0.0.1:")


def test_M5_ray_token_auth_is_mandatory(ray_cluster, settings, monkeypatch):
    if os.environ.get("CLUBHUB_RAY_ADDRESS"):
        pytest.skip("the session joined an external Ray cluster")
    assert runtime.token_auth_enabled()
    assert os.environ["RAY_AUTH_MODE"] == "token"
    token = Path(os.environ["RAY_AUTH_TOKEN_PATH"])
    assert token == runtime.token_path(settings)
    assert stat.S_IMODE(token.stat().st_mode) == 0o600 and len(token.read_text().strip()) == 64
    # Turning it off is refused, for a local instance and for joining alike.
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    for local in (True, False):
        with pytest.raises(runtime.RayConfigError, match="RAY_AUTH_MODE=disabled"):
            runtime.require_token_auth(settings, local=local)


# --------------------------------------------------------------------------- L7: data at rest


def _loose(path: Path, allowed: int = 0) -> list[str]:
    """Files and dirs under path that others (group or world) may read or write, beyond ``allowed``."""
    found = []
    for p in [path, *path.rglob("*")]:
        if p.is_symlink() or not p.exists():
            continue
        mode = stat.S_IMODE(p.stat().st_mode)
        if mode & 0o077 & ~allowed:
            found.append(f"{p} {oct(mode)}")
    return found


def test_L7_data_dir_permissions(settings, services, capsys, monkeypatch):
    data = settings.data_path
    # The dirs on PGDATA's path keep the search bit for pgserver's system user when we run as root.
    traverse_only = 0o011 if os.geteuid() == 0 else 0
    assert stat.S_IMODE(data.stat().st_mode) & 0o077 & ~traverse_only == 0, oct(data.stat().st_mode)
    for name in ("redis", "mongo", "janus"):  # janus: its secrets and the config that repeats them
        svc_dir = services.embedded[name].dir
        assert _loose(svc_dir) == [], _loose(svc_dir)
    aof = list((data / "redis").rglob("appendonly*"))
    assert aof, "the AOF exists"
    password_file = data / "redis" / "password"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600

    url = services.urls()["redis"]
    password = password_file.read_text().strip()
    assert f":{password}@127.0.0.1:" in url
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=port, socket_timeout=5).ping()
    assert redis.Redis.from_url(url, socket_timeout=5).ping()

    # Status output and the logs show the URL without the password.
    from gateway.cli import main

    for name in list(os.environ):
        if name.startswith("CLUBHUB_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CLUBHUB_DATA_DIR", str(data))
    assert main(["services", "status"]) == 0
    out = capsys.readouterr().out
    assert "redis://:***@127.0.0.1:" in out and password not in out
    remember(password)


def test_L7_existing_data_is_narrowed(tmp_path):
    """Data written world-readable by an earlier version is narrowed when the services start."""
    data = tmp_path / "data"
    (data / "redis").mkdir(parents=True)
    (data / "mongo" / "db").mkdir(parents=True)
    for path in (data / "redis", data / "mongo", data / "mongo" / "db"):
        path.chmod(0o755)
    old = data / "mongo" / "db" / "old.db"
    old.write_bytes(b"")
    old.chmod(0o644)
    svc = Services(Settings(data_dir=data))
    # redis and mongo are the ones that wrote world-readable files
    del svc.embedded["postgres"]
    del svc.embedded["s3"]
    svc.embedded.pop("janus", None)
    started = svc.up()
    try:
        assert set(started) == {"redis", "mongo"}
        assert _loose(data / "redis") == [] and _loose(data / "mongo") == []
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
    finally:
        svc.down(started)


# --------------------------------------------------------------------------- Must-show 6: logs hold no secret


async def test_no_secret_in_any_log(gateway, smtp, settings, tmp_path_factory):
    """Runs last (see tests/support/secret_audit.py): every log line of the run, in process and in files."""
    # Seed it, so this test alone still audits a login, a verification mail and a dev mailbox mail.
    member = await make_member(gateway.url, smtp, "Audited")
    await send_dev_mail(settings, gateway)
    assert member.password and secret_audit.registered() >= 3
    roots = [tmp_path_factory.getbasetemp()]
    node = ray._private.worker._global_node
    if node is not None:
        roots.append(Path(node.get_logs_dir_path()))
    leaks = secret_audit.findings(roots)
    assert leaks == [], "\n".join(leaks[:20])
    assert secret_audit.audited_lines() > 0


async def test_L7_a_process_with_every_service_external_keeps_postgres_reachable(settings, services):
    """A second gateway on the same data dir (all URLs external) once narrowed it to 0700: PostgreSQL, run
    by pgserver's own user when we are root, could no longer reach PGDATA and panicked at its next
    checkpoint, taking the rest of the test run down with it."""
    import asyncpg

    from storage.postgres import connect_kwargs

    urls = services.urls()
    external = settings.model_copy(
        update={"postgres_url": urls["postgres"], "mongo_url": urls["mongo"], "redis_url": urls["redis"]}
    )
    assert Services(external).up() == []
    if os.geteuid() == 0:
        assert settings.data_path.stat().st_mode & 0o777 == 0o711
    conn = await asyncpg.connect(**connect_kwargs(urls["postgres"], database="postgres"))
    try:
        await conn.execute("CHECKPOINT")  # reads and writes global/pg_control
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()
