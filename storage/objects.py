"""Object storage (S3) for media: one small client the gateway and the media worker share.

``CLUBHUB_S3_URL`` names any S3-compatible store the way the analytics store takes it:
``s3://KEY:SECRET@host:port/bucket[/prefix]`` (plain HTTP, e.g. the embedded SeaweedFS on loopback) or
``https://KEY:SECRET@host[:port]/bucket[/prefix][?region=R]`` (AWS, R2, MinIO behind TLS). Media objects
live under ``<prefix>/media/``. Nothing here depends on one server's quirks: path-style addressing,
SigV4, plain ``PutObject``/``HeadObject``/``GetObject``/``DeleteObject`` and presigned ``PUT`` only.

Every call has bounded connect and read timeouts and few retries: a slow store fails a request, it
never holds one.
"""

from __future__ import annotations

import contextlib
import posixpath
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0
# Uploaded objects live under <prefix>/uploads/<media id> (deleted once processed or refused).
UPLOADS = "uploads"


@dataclass(frozen=True)
class S3Location:
    endpoint_url: str
    access_key: str
    secret_key: str
    bucket: str
    prefix: str
    region: str

    def __repr__(self) -> str:  # never the secret
        return f"S3Location({self.endpoint_url}/{self.bucket}/{self.prefix})"


def parse_s3_url(url: str) -> S3Location:
    parts = urlsplit(url)
    if parts.scheme not in ("s3", "http", "https") or not parts.hostname or not parts.path.strip("/"):
        raise ValueError("an S3 URL needs a host and a bucket: s3://KEY:SECRET@host:port/bucket")
    bucket, _, prefix = parts.path.strip("/").partition("/")
    host = parts.hostname
    region = parse_qs(parts.query).get("region", [""])[0]
    # AWS signs with the bucket's region; S3-compatible servers (SeaweedFS, MinIO, R2) accept us-east-1.
    if not region and host.startswith("s3.") and host.endswith(".amazonaws.com") and host.count(".") == 3:
        region = host.split(".")[1]
    scheme = "https" if parts.scheme == "https" else "http"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return S3Location(
        endpoint_url=f"{scheme}://{netloc}",
        access_key=unquote(parts.username or ""),
        secret_key=unquote(parts.password or ""),
        bucket=bucket,
        prefix=prefix.strip("/"),
        region=region or "us-east-1",
    )


def _client_config(connect_timeout: float, read_timeout: float) -> Any:
    from botocore.config import Config

    return Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"max_attempts": 2, "mode": "standard"},
    )


def sync_client(location: S3Location, timeout: float = 1.0) -> Any:
    """A blocking botocore client (the service supervisor's ping and readiness probe)."""
    import botocore.session

    return botocore.session.get_session().create_client(
        "s3",
        endpoint_url=location.endpoint_url,
        region_name=location.region,
        aws_access_key_id=location.access_key,
        aws_secret_access_key=location.secret_key,
        config=_client_config(timeout, timeout),
    )


def ping_s3(url: str, timeout: float = 1.0) -> None:
    """The bucket exists and these credentials may use it (``HeadBucket``)."""
    location = parse_s3_url(url)
    client = sync_client(location, timeout)
    try:
        client.head_bucket(Bucket=location.bucket)
    finally:
        client.close()


class ObjectMissing(LookupError):
    """No object under that key."""


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    content_type: str | None
    etag: str


class ObjectStore:
    """An aiobotocore S3 client for one bucket and prefix; ``open()`` before use, ``close()`` after."""

    def __init__(self, url: str, *, public_endpoint: str | None = None) -> None:
        self.location = parse_s3_url(url)
        # Presigned URLs are for browsers: a store behind another name for them (a CDN, a proxy) signs
        # for that host instead. Default: the endpoint we use ourselves.
        self.public_endpoint = public_endpoint or self.location.endpoint_url
        self._stack: contextlib.AsyncExitStack | None = None
        self._client: Any = None
        self._presigner: Any = None

    def __repr__(self) -> str:
        return f"ObjectStore({self.location!r})"

    async def open(self) -> ObjectStore:
        from aiobotocore.session import get_session

        loc = self.location
        session = get_session()
        self._stack = contextlib.AsyncExitStack()
        common = dict(
            region_name=loc.region,
            aws_access_key_id=loc.access_key,
            aws_secret_access_key=loc.secret_key,
            config=_client_config(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
        )
        self._client = await self._stack.enter_async_context(
            session.create_client("s3", endpoint_url=loc.endpoint_url, **common)
        )
        if self.public_endpoint == loc.endpoint_url:
            self._presigner = self._client
        else:
            self._presigner = await self._stack.enter_async_context(
                session.create_client("s3", endpoint_url=self.public_endpoint, **common)
            )
        return self

    async def close(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
        self._stack = self._client = self._presigner = None

    @property
    def client(self) -> Any:
        if self._client is None:
            raise RuntimeError("ObjectStore used before open()")
        return self._client

    def key(self, *parts: str) -> str:
        return (
            posixpath.join(self.location.prefix, *parts) if self.location.prefix else posixpath.join(*parts)
        )

    @property
    def bucket(self) -> str:
        return self.location.bucket

    async def ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            await self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            await self.client.create_bucket(Bucket=self.bucket)

    async def ping(self) -> None:
        await self.client.head_bucket(Bucket=self.bucket)

    async def presign_put(self, key: str, content_type: str, size: int, expires_s: int) -> tuple[str, dict]:
        """A URL that lets its holder PUT exactly one object: this key, this Content-Type and this
        Content-Length (all three are signed: a different key, type or length breaks the signature).
        Returns the URL and the headers the client must send."""
        url = await self._presigner.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.bucket, "Key": key, "ContentType": content_type, "ContentLength": size},
            ExpiresIn=expires_s,
            HttpMethod="PUT",
        )
        return url, {"Content-Type": content_type, "Content-Length": str(size)}

    async def presign_get(self, key: str, expires_s: int) -> str:
        return await self._presigner.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_s
        )

    async def head(self, key: str) -> ObjectInfo:
        from botocore.exceptions import ClientError

        try:
            r = await self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _status(exc) == 404:
                raise ObjectMissing(key) from None
            raise
        return ObjectInfo(int(r["ContentLength"]), r.get("ContentType"), str(r.get("ETag", "")).strip('"'))

    async def get_range(self, key: str, start: int, length: int) -> bytes:
        """Bytes ``start`` .. ``start + length - 1`` (fewer at the end of the object)."""
        from botocore.exceptions import ClientError

        try:
            r = await self.client.get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes={start}-{start + length - 1}"
            )
        except ClientError as exc:
            if _status(exc) in (404, 416):
                if _status(exc) == 416:
                    return b""
                raise ObjectMissing(key) from None
            raise
        async with r["Body"] as body:
            return await body.read()

    async def get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            r = await self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _status(exc) == 404:
                raise ObjectMissing(key) from None
            raise
        async with r["Body"] as body:
            return await body.read()

    @contextlib.asynccontextmanager
    async def reader(self, key: str, start: int | None = None, end: int | None = None):
        """The object's bytes ``start`` .. ``end`` (inclusive; None: all) as a stream to ``read(n)`` from,
        without holding the whole object (videos are served in chunks)."""
        from botocore.exceptions import ClientError

        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if start is not None:
            params["Range"] = f"bytes={start}-{'' if end is None else end}"
        try:
            r = await self.client.get_object(**params)
        except ClientError as exc:
            if _status(exc) == 404:
                raise ObjectMissing(key) from None
            raise
        # The body itself, not what its context manager yields (aiohttp's response, whose read() takes no size).
        body = r["Body"]
        async with body:
            yield body

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    async def delete(self, key: str) -> None:
        """Idempotent: deleting a missing key is not an error (S3 semantics)."""
        await self.client.delete_object(Bucket=self.bucket, Key=key)


def _status(exc: Exception) -> int:
    response = getattr(exc, "response", {}) or {}
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
