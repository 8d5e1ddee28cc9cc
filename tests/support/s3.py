"""A real S3 server for tests: the project's own embedded SeaweedFS (``storage.services.S3Service``).

``SeaweedS3(root).start()`` runs it with everything under ``root`` (its data dir) — how ``weed server`` is
run, its eight ports pinned to loopback, its identity and the cleanup of its ``/tmp`` sockets are the
service's (see its docstring) — and returns once its bucket takes writes. ``url`` is what the project's
S3 settings take (``s3://KEY:SECRET@127.0.0.1:PORT/BUCKET``, plain HTTP), ``filesystem()`` an admin
``S3FileSystem`` (bucket creation allowed). ``stop()`` ends the process group and removes what it left
outside ``root``; ``leftovers()`` is what would still remain (empty after a clean stop).
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

from storage.objects import parse_s3_url
from storage.services import S3Service
from storage.settings import Settings


class SeaweedS3:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.service = S3Service(Settings(data_dir=self.root))
        self.started_in_s = 0.0

    # -- addresses ------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """``s3://KEY:SECRET@127.0.0.1:PORT/BUCKET``: append ``/prefix`` for a store of its own."""
        url = self.service.url()
        if not url:
            raise RuntimeError("not started")
        return url

    @property
    def bucket(self) -> str:
        return self.service.bucket

    @property
    def ports(self) -> dict[str, int]:
        return dict(self.service.read_state().get("ports") or {})

    @property
    def port(self) -> int:
        return self.ports["s3"]

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def access_key(self) -> str:
        return self.service.credentials()[0]

    @property
    def secret_key(self) -> str:
        return self.service.credentials()[1]

    def filesystem(self, **overrides):
        """An ``S3FileSystem`` with the admin identity (bucket creation allowed)."""
        import pyarrow.fs as pafs

        loc = parse_s3_url(self.url)
        options = dict(
            access_key=loc.access_key,
            secret_key=loc.secret_key,
            endpoint_override=self.endpoint,
            scheme="http",
            region="us-east-1",
            allow_bucket_creation=True,
            connect_timeout=2,
            request_timeout=10,
        )
        options.update(overrides)
        return pafs.S3FileSystem(**options)

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> SeaweedS3:
        began = time.time()
        self.service.start()
        self.started_in_s = time.time() - began
        return self

    def stop(self) -> None:
        self.service.stop()

    def listening(self) -> list[tuple[str, int]]:
        """(address, port) of every TCP listener of the server process."""
        proc = self.service.process()
        if proc is None:
            return []
        conns = proc.net_connections(kind="inet")
        return sorted((c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN)

    def leftovers(self) -> list[str]:
        return self.service.leftovers()

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
