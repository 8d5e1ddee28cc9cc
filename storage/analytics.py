"""The analytics store: the interaction stream as Parquet, partitioned by day, on the data dir or on S3.

The interaction consumer seals what it has applied into a *seal*: one Parquet file per UTC day of the
interactions' ``ts`` under ``interactions/day=YYYY-MM-DD/``, then a small JSON manifest under
``seals/date=YYYY-MM-DD/`` (the date the seal was written) naming those files. A seal's id is the
stream id of its last entry, written sortably (``0001764547200000-0000000003``), so seals order like the
stream. Readers list manifests, never data files: a seal exists once its manifest does (files first,
manifest last; a crash in between leaves files nobody reads), and "everything after seal S" is found by
listing the manifest dates from S's on — work proportional to what came after S, not to history.

Training reads every seal up to the newest (``files_until``) with Ray Data; the consumer reads only the
seals after a model's watermark (``seals_after``) when it switches to that model.
"""

from __future__ import annotations

import json
import posixpath
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("user_id", pa.int64()),
        ("item_type", pa.string()),
        ("item_id", pa.int64()),
        ("kind", pa.string()),
        ("dwell_ms", pa.int64()),
        ("ts", pa.float64()),
        ("source", pa.string()),
        # Reels: how long it was watched (play, watch, complete, skip). Last, and null in files written
        # before reels: reading with this schema fills it with nulls, so old seals stay readable.
        ("watch_ms", pa.int64()),
    ]
)
COLUMNS = SCHEMA.names
DATA = "interactions"
SEALS = "seals"


def seal_id(stream_id: str | bytes) -> str:
    """``1764547200000-3`` -> ``0001764547200000-0000000003``: sorts as the stream does."""
    if isinstance(stream_id, bytes):
        stream_id = stream_id.decode()
    ms, _, seq = stream_id.partition("-")
    return f"{int(ms):016d}-{int(seq or 0):010d}"


def stream_id(seal: str) -> str:
    ms, _, seq = seal.partition("-")
    return f"{int(ms)}-{int(seq)}"


def _date(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%d")


def _seal_date(seal: str) -> str:
    return _date(int(seal.partition("-")[0]) / 1000)


@dataclass(frozen=True)
class Seal:
    id: str
    files: list[str]  # paths inside the store's filesystem
    rows: int


class AnalyticsStore:
    """``url``: a directory (the embedded default, ``<data dir>/analytics``), or
    ``s3://KEY:SECRET@host:port/bucket[/prefix]`` (plain HTTP, e.g. a loopback server) or
    ``https://KEY:SECRET@host[:port]/bucket[/prefix][?region=R]`` (AWS, R2, MinIO behind TLS): the
    contract's ``CLUBHUB_S3_URL``, with the analytics under ``<prefix>/analytics``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.fs, self.root = _filesystem(url)

    def __repr__(self) -> str:  # never the credentials
        return f"AnalyticsStore({redacted(self.url)})"

    @property
    def kind(self) -> str:
        return "s3" if isinstance(self.fs, pafs.S3FileSystem) else "local"

    def _path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    # -- writing ---------------------------------------------------------------------------------------
    def write_seal(self, seal: str, rows: list[tuple]) -> Seal:
        """Write ``rows`` (tuples in ``COLUMNS`` order; without the trailing ``watch_ms``, as rows were before
        reels, it is null) as seal ``seal``; idempotent for the same rows."""
        cols: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in COLUMNS]
        if len(cols) == len(COLUMNS) - 1:
            cols.append([None] * len(rows))
        return self.write_table(
            seal,
            pa.Table.from_arrays(
                [pa.array(c, t) for c, t in zip(cols, SCHEMA.types, strict=True)], schema=SCHEMA
            ),
        )

    def write_table(self, seal: str, table: pa.Table) -> Seal:
        """Write ``table`` (``SCHEMA``) as seal ``seal``: one file per day of ``ts``, then the manifest."""
        days = pc.strftime(
            pc.cast(
                pc.cast(pc.floor(pc.multiply(table["ts"], 1000)), pa.int64()), pa.timestamp("ms", tz="UTC")
            ),
            format="%Y-%m-%d",
        )
        files = []
        for day in sorted(set(days.to_pylist())):
            part = table.filter(pc.equal(days, day))
            path = self._path(DATA, f"day={day}", f"part-{seal}.parquet")
            self.fs.create_dir(posixpath.dirname(path), recursive=True)
            _atomic_write(
                self.fs, path, lambda sink, part=part: pq.write_table(part, sink, compression="zstd")
            )
            files.append(path)
        manifest = {"seal": seal, "files": files, "rows": table.num_rows, "written_at": time.time()}
        path = self._path(SEALS, f"date={_seal_date(seal)}", f"{seal}.json")
        self.fs.create_dir(posixpath.dirname(path), recursive=True)
        _atomic_write(self.fs, path, lambda sink: sink.write(json.dumps(manifest).encode()))
        return Seal(seal, files, table.num_rows)

    # -- reading ---------------------------------------------------------------------------------------
    def _dates(self) -> list[str]:
        info = self.fs.get_file_info(pafs.FileSelector(self._path(SEALS), allow_not_found=True))
        return sorted(
            i.base_name[5:]
            for i in info
            if i.type == pafs.FileType.Directory and i.base_name.startswith("date=")
        )

    def _manifests(self, date: str) -> list[str]:
        info = self.fs.get_file_info(
            pafs.FileSelector(self._path(SEALS, f"date={date}"), allow_not_found=True)
        )
        return sorted(i.path for i in info if i.base_name.endswith(".json"))

    def _seal(self, path: str) -> Seal:
        with self.fs.open_input_stream(path) as f:
            doc = json.loads(f.read())
        return Seal(doc["seal"], list(doc["files"]), int(doc["rows"]))

    def seals_after(self, after: str | None) -> list[Seal]:
        """Seals newer than ``after`` (all with None), oldest first: only manifest dates from ``after``'s."""
        first = _seal_date(after) if after else ""
        out = []
        for date in self._dates():
            if date < first:
                continue
            for path in self._manifests(date):
                sid = posixpath.basename(path)[: -len(".json")]
                if after is None or sid > after:
                    out.append(self._seal(path))
        return out

    def latest(self) -> str | None:
        """The newest seal's id (the last date's last manifest)."""
        for date in reversed(self._dates()):
            names = self._manifests(date)
            if names:
                return posixpath.basename(names[-1])[: -len(".json")]
        return None

    def files_until(self, until: str | None = None) -> tuple[list[str], str | None, int]:
        """Every data file of the seals up to ``until`` (all by default): (files, the last seal, rows).
        Training's input; a full listing of manifests, which only an offline job does."""
        files, last, rows = [], None, 0
        for s in self.seals_after(None):
            if until is not None and s.id > until:
                break
            files += s.files
            last, rows = s.id, rows + s.rows
        return files, last, rows

    def read(self, files: list[str]) -> pa.Table:
        """A few files into one table (the consumer's tail of a model switch; small by construction)."""
        if not files:
            return SCHEMA.empty_table()
        return pa.concat_tables(pq.read_table(f, filesystem=self.fs, schema=SCHEMA) for f in files)


def _atomic_write(fs: pafs.FileSystem, path: str, write) -> None:
    """Local files: write beside, then rename (a reader never sees half a file). S3: one PUT is atomic."""
    if isinstance(fs, pafs.S3FileSystem):
        with fs.open_output_stream(path) as sink:
            write(sink)
        return
    tmp = f"{path}.tmp"
    with fs.open_output_stream(tmp) as sink:
        write(sink)
    fs.move(tmp, path)


def _filesystem(url: str) -> tuple[pafs.FileSystem, str]:
    parts = urlsplit(url)
    if parts.scheme in ("s3", "https", "http"):
        if not parts.hostname or not parts.path.strip("/"):
            raise ValueError("an S3 URL needs a host and a bucket: s3://KEY:SECRET@host:port/bucket")
        endpoint = parts.hostname + (f":{parts.port}" if parts.port else "")
        # AWS signs with the bucket's region: ?region=, else the one in an s3.<region>.amazonaws.com host;
        # S3-compatible servers (SeaweedFS, MinIO, R2) accept us-east-1.
        region = parse_qs(parts.query).get("region", [""])[0]
        host = parts.hostname
        if not region and host.startswith("s3.") and host.endswith(".amazonaws.com") and host.count(".") == 3:
            region = host.split(".")[1]
        fs = pafs.S3FileSystem(
            access_key=unquote(parts.username or ""),
            secret_key=unquote(parts.password or ""),
            endpoint_override=endpoint,
            scheme="https" if parts.scheme == "https" else "http",
            region=region or "us-east-1",
            # The object store is on the hot path of nothing: a slow one must fail, not hang a seal.
            connect_timeout=10,
            request_timeout=60,
        )
        return fs, posixpath.join(parts.path.strip("/"), "analytics")
    path = Path(url).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return pafs.LocalFileSystem(), path.as_posix()


def redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def store_info(store: AnalyticsStore) -> dict[str, Any]:
    return {"kind": store.kind, "url": redacted(store.url)}
