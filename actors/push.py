"""Web Push (RFC 8030) with VAPID (RFC 8292) and message encryption (RFC 8291, ``aes128gcm``).

- ``vapid_key(settings)``: the server's VAPID private key (PEM), from ``CLUBHUB_VAPID_PRIVATE_KEY`` (PEM or the
  base64url raw 32-byte scalar) or generated once into ``<data_dir>/vapid/private_key.pem``;
  ``vapid_public_key(pem)`` is what browsers take as ``applicationServerKey``.
- ``save_subscription`` / ``delete_subscription``: a device's subscription, stored per endpoint (a re-post is
  idempotent, another user's post moves it), at most ``MAX_SUBSCRIPTIONS_PER_USER`` per user.
- ``WebPusher.deliver(notifications)``: one encrypted push per (notification, subscription) of their users,
  best effort: a 404/410 answer deletes the subscription, any other failure is logged and counted, never raised
  (the inbox holds the notification either way).

The request is a plain HTTP/1.1 POST written on an asyncio stream (this layer imports no HTTP framework). The
endpoint is the subscriber's URL, so the server is told to POST to an address a user chose: it must be
``https`` (plain ``http`` only to loopback in development), and the address it resolves to must be a public
one (loopback only in development) at send time too, so a name pointing at an internal service (or rebound to
one) is refused. Nothing of the answer but its status line is read, redirects are not followed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import json
import logging
import os
import socket
import ssl
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from tortoise import connections

from storage.models import PushSubscription
from storage.settings import Settings, is_loopback

from .config import ActorConfig

log = logging.getLogger(__name__)

ENDPOINT_MAX = 1000  # PushSubscription.endpoint's column
MAX_SUBSCRIPTIONS_PER_USER = 20  # devices; a new one past this drops the least recently (re)posted
P256DH_BYTES = 65  # an uncompressed P-256 point
AUTH_BYTES = 16  # RFC 8291's auth secret
# A push message is at most 4096 bytes encrypted; aes128gcm adds 86 (header with the key id) + 17 (tag and
# the padding delimiter). Well under it, so push services that count differently take it too.
PAYLOAD_MAX = 3000
TEXT_MAX = 200
TIMEOUT_S = 10.0  # per push: connect, TLS, request and the status line
CONCURRENCY = 32  # pushes in flight per WebPusher
STATUS_LINE_MAX = 1024
AUTHORIZATION_CACHE_MAX = 1000  # signed VAPID headers kept, one per push service origin
VAPID_TTL_S = 12 * 3600  # a VAPID JWT's lifetime (RFC 8292: at most 24 h); re-signed an hour before it ends
# How long a push service keeps a message for a device that is offline (the TTL header), per kind: a reminder
# or "live now" is of no use hours later; a mention or a DM still is.
TTL_S = {"event_reminder": 3600, "live_started": 3600}
TTL_DEFAULT_S = 24 * 3600
URGENT = frozenset({"mention", "dm", "reply", "event_reminder", "live_started"})


class PushError(Exception):
    """A push could not be sent; the message says why (never the endpoint's secret path)."""


# -- the VAPID key ------------------------------------------------------------------------------------


def vapid_key(settings: Settings) -> str:
    """The VAPID private key as PKCS#8 PEM: the configured one (PEM, or base64url of the raw 32 bytes), else
    the one generated once into ``<data_dir>/vapid/private_key.pem``. Two gateways starting together agree:
    the key is written to a temporary file and hard-linked into place, which fails for the second one, which
    then reads the first one's complete file."""
    if settings.vapid_private_key is not None:
        return _normalize_key(settings.vapid_private_key.get_secret_value().strip())
    path = settings.data_path / "vapid" / "private_key.pem"
    if not path.exists():
        _generate_key_file(path)
    try:
        return _normalize_key(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"VAPID key {path}: {exc} (delete it to generate a new one)") from None


def _generate_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = _pem(ec.generate_private_key(ec.SECP256R1()))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # atomic and exclusive: the file appears complete, or not at all
        except FileExistsError:
            pass  # another gateway won: its key is the one
    finally:
        tmp.unlink(missing_ok=True)


def _normalize_key(value: str) -> str:
    if value.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(value.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"not a PEM private key: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("the VAPID key must be an EC P-256 (prime256v1) private key")
        return _pem(key)
    raw = _b64url_decode(value)
    if raw is None or len(raw) != 32:
        raise ValueError("the VAPID key must be PEM or base64url of the raw 32-byte P-256 private key")
    try:
        return _pem(ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1()))
    except ValueError:
        raise ValueError("the VAPID key is not a valid P-256 private key") from None


def _pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@lru_cache(maxsize=8)
def vapid_public_key(pem: str) -> str:
    """The public key of a VAPID private key (PEM): base64url, unpadded, of the uncompressed P-256 point, as a
    browser's ``pushManager.subscribe({applicationServerKey})`` takes it."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)  # nosec B101: vapid_key() made it
    return b64url(
        key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64url_decode(value: str) -> bytes | None:
    """base64url, padded or not (a browser's ``toJSON()`` leaves the padding off); None when it is not."""
    if not value or not all(c.isascii() and (c.isalnum() or c in "-_=") for c in value):
        return None
    try:
        return base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        return None


# -- subscriptions ---------------------------------------------------------------------------------------


def endpoint_problem(endpoint: str, allow_loopback: bool) -> str | None:
    """Why this push endpoint is refused, or None. ``https`` only (``http`` only to loopback, and loopback
    only when ``allow_loopback``: development); an IP-literal host must be a public address."""
    if len(endpoint) > ENDPOINT_MAX:
        return f"endpoint is longer than {ENDPOINT_MAX} characters"
    if not endpoint.isascii() or any(c.isspace() or not c.isprintable() for c in endpoint):
        return "endpoint must be a URL of printable ASCII without spaces"
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        return "endpoint is not a valid URL"
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        return "endpoint must be an https URL"
    if parts.username is not None or parts.password is not None or parts.fragment:
        return "endpoint must not hold credentials or a fragment"
    loopback = is_loopback(host)
    if loopback and not allow_loopback:
        return "endpoint must be a push service on the internet"
    if parts.scheme == "http" and not loopback:
        return "endpoint must be an https URL"
    if port == 0:
        return "endpoint is not a valid URL"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if not (ip.is_global or (loopback and allow_loopback)):
        return "endpoint must be a push service on the internet"
    return None


def key_problem(p256dh: str, auth: str) -> str | None:
    """Why these subscription keys are refused, or None: ``p256dh`` must be a P-256 public point (65 bytes,
    uncompressed), ``auth`` 16 bytes, both base64url."""
    raw = _b64url_decode(p256dh)
    if raw is None or len(raw) != P256DH_BYTES or raw[0] != 4:
        return "keys.p256dh must be base64url of an uncompressed P-256 public key (65 bytes)"
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        return "keys.p256dh is not a point on P-256"
    secret = _b64url_decode(auth)
    if secret is None or len(secret) != AUTH_BYTES:
        return "keys.auth must be base64url of 16 bytes"
    return None


_UPSERT_SQL = """
INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, created_at)
VALUES ($1, $2, $3, $4, now())
ON CONFLICT (endpoint) DO UPDATE
    SET user_id = EXCLUDED.user_id, p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth, created_at = now()
"""
_TRIM_SQL = """
DELETE FROM push_subscriptions WHERE user_id = $1 AND id NOT IN (
    SELECT id FROM push_subscriptions WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2
)
"""


async def save_subscription(user_id: int, endpoint: str, p256dh: str, auth: str) -> None:
    """Store a device's subscription (validated by the caller). The same endpoint again replaces its keys and
    counts as new; posted by another user (the browser's login changed) it moves to that user. Past
    ``MAX_SUBSCRIPTIONS_PER_USER`` the least recently posted ones are dropped."""
    conn = connections.get("default")
    await conn.execute_query(_UPSERT_SQL, [user_id, endpoint, p256dh, auth])
    await conn.execute_query(_TRIM_SQL, [user_id, MAX_SUBSCRIPTIONS_PER_USER])


async def delete_subscription(user_id: int, endpoint: str) -> None:
    """Forget a device's subscription (only the caller's own; nothing to delete is no error)."""
    await PushSubscription.filter(user_id=user_id, endpoint=endpoint).delete()


# -- delivery -------------------------------------------------------------------------------------------


def push_payload(notification: dict[str, Any]) -> bytes:
    """The JSON a service worker gets: the notification's fields that say what to show and where to go, the
    text cut to ``TEXT_MAX`` characters and shorter still if the whole would not fit ``PAYLOAD_MAX`` bytes."""
    body: dict[str, Any] = {
        k: notification[k]
        for k in ("id", "kind", "created_at", "room_id", "seq", "event_id")
        if notification.get(k) is not None
    }
    actor = notification.get("actor")
    if isinstance(actor, dict) and actor.get("id") is not None:
        body["actor"] = {"id": actor["id"], "display_name": str(actor.get("display_name") or "")[:50]}
    text = str(notification.get("text") or "")
    if len(text) > TEXT_MAX:
        text = text[: TEXT_MAX - 1] + "…"
    while True:
        body["text"] = text
        encoded = json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str).encode()
        if len(encoded) <= PAYLOAD_MAX or not text:
            return encoded
        text = text[: len(text) // 2]


class WebPusher:
    """Sends notifications as Web Push messages to their users' subscribed devices.

    The notifier calls ``deliver`` for the users with no connected socket; ``stats`` counts what happened
    (``sent``, ``expired``, ``failed``, ``refused``) for its metrics. ``close()`` is a no-op kept for symmetry:
    each push opens and closes its own connection."""

    def __init__(
        self,
        config: ActorConfig,
        *,
        timeout_s: float = TIMEOUT_S,
        concurrency: int = CONCURRENCY,
        allow_loopback: bool | None = None,
    ) -> None:
        self.subject = config.vapid_subject
        self.vapid = Vapid02.from_pem(config.vapid_private_key.encode()) if config.vapid_private_key else None
        # Pushing to loopback is a development setup's: allowed when this deployment itself is on loopback.
        if allow_loopback is None:
            allow_loopback = is_loopback(urlsplit(config.public_url).hostname or "")
        self.allow_loopback = allow_loopback
        self.timeout_s = timeout_s
        self._slots = asyncio.Semaphore(concurrency)
        self._authorization: dict[str, tuple[str, float]] = {}  # audience -> (header, expires)
        self._tls = ssl.create_default_context()
        self.stats: Counter[str] = Counter()

    async def deliver(self, notifications: list[dict[str, Any]]) -> int:
        """Push each notification (a contract notification plus ``user_id``) to every subscription of its user;
        the number of pushes a push service accepted. Never raises for a failed push."""
        if not notifications:
            return 0
        if self.vapid is None:
            log.warning("web push: no VAPID key configured; nothing pushed")
            return 0
        by_user: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for n in notifications:
            by_user[int(n["user_id"])].append(n)
        subscriptions = await PushSubscription.filter(user_id__in=list(by_user)).values(
            "id", "user_id", "endpoint", "p256dh", "auth"
        )
        gone: set[int] = set()
        jobs = [(s, n) for s in subscriptions for n in by_user[s["user_id"]]]
        results = await asyncio.gather(*(self._push_one(s, n, gone) for s, n in jobs))
        if gone:
            await PushSubscription.filter(id__in=sorted(gone)).delete()
            log.info("web push: expired subscriptions removed", extra={"count": len(gone)})
        return sum(results)

    async def _push_one(
        self, subscription: dict[str, Any], notification: dict[str, Any], gone: set[int]
    ) -> bool:
        async with self._slots:
            if subscription["id"] in gone:
                return False
            try:
                status = await self.send(
                    subscription["endpoint"],
                    subscription["p256dh"],
                    subscription["auth"],
                    push_payload(notification),
                    ttl_s=TTL_S.get(str(notification.get("kind")), TTL_DEFAULT_S),
                    urgency="high" if notification.get("kind") in URGENT else "normal",
                )
            except PushError as exc:
                self.stats["refused" if "refused" in str(exc) else "failed"] += 1
                log.warning(
                    "web push failed",
                    extra={
                        "subscription_id": subscription["id"],
                        "user_id": subscription["user_id"],
                        "error": str(exc),
                    },
                )
                return False
            if status in (404, 410):
                gone.add(subscription["id"])
                self.stats["expired"] += 1
                return False
            if 200 <= status < 300:
                self.stats["sent"] += 1
                return True
            self.stats["failed"] += 1
            log.warning(
                "web push refused by the push service",
                extra={
                    "subscription_id": subscription["id"],
                    "user_id": subscription["user_id"],
                    "status": status,
                },
            )
            return False

    def authorization(self, endpoint: str) -> str:
        """The VAPID ``Authorization`` header for this endpoint's push service (one JWT per origin, reused
        until an hour before it expires)."""
        assert self.vapid is not None  # nosec B101: deliver() checked
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        now = time.time()
        cached = self._authorization.get(audience)
        if cached is not None and cached[1] - 3600 > now:
            return cached[0]
        expires = int(now) + VAPID_TTL_S
        header = self.vapid.sign({"sub": self.subject, "aud": audience, "exp": expires})["Authorization"]
        if audience not in self._authorization and len(self._authorization) >= AUTHORIZATION_CACHE_MAX:
            # Audiences are push services' origins, few in practice; a subscription's endpoint is the
            # client's choice, so the cache is bounded anyway: the oldest entry goes.
            del self._authorization[next(iter(self._authorization))]
        self._authorization[audience] = (header, expires)
        return header

    async def send(
        self, endpoint: str, p256dh: str, auth: str, payload: bytes, *, ttl_s: int, urgency: str = "normal"
    ) -> int:
        """Encrypt ``payload`` for this subscription (RFC 8291, aes128gcm), POST it with VAPID, and answer the
        push service's status; ``PushError`` when it could not be sent."""
        problem = endpoint_problem(endpoint, self.allow_loopback) or key_problem(p256dh, auth)
        if problem:
            raise PushError(f"refused: {problem}")
        receiver = _b64url_decode(p256dh)
        secret = _b64url_decode(auth)
        body = http_ece.encrypt(
            payload,
            private_key=ec.generate_private_key(ec.SECP256R1()),  # one ephemeral key per message
            dh=receiver,
            auth_secret=secret,
            version="aes128gcm",
        )
        parts = urlsplit(endpoint)
        headers = {
            "TTL": str(int(ttl_s)),
            "Urgency": urgency,
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "Authorization": self.authorization(endpoint),
        }
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._post(parts, headers, body)
        except TimeoutError:
            raise PushError(f"no answer within {self.timeout_s:g} s") from None
        except (OSError, ssl.SSLError) as exc:
            raise PushError(f"{type(exc).__name__}: {exc}") from None
        except ValueError:  # a status line past the stream's limit
            raise PushError("malformed answer") from None

    async def _post(self, parts, headers: dict[str, str], body: bytes) -> int:
        host = parts.hostname or ""
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        addresses = await self._addresses(host, port)
        reader, writer = await self._connect(addresses, port, host if tls else None)
        try:
            target = parts.path or "/"
            if parts.query:
                target += "?" + parts.query
            host_header = host if ":" not in host else f"[{host}]"
            if parts.port is not None:
                host_header += f":{parts.port}"
            head = [f"POST {target} HTTP/1.1", f"Host: {host_header}"]
            head += [f"{k}: {v}" for k, v in headers.items()]
            head += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
            writer.write("\r\n".join(head).encode("ascii") + body)
            await writer.drain()
            line = await reader.readline()
            if len(line) > STATUS_LINE_MAX:
                raise PushError("malformed answer")
            version, _, rest = line.decode("latin-1").partition(" ")
            code = rest[:3]
            if not version.startswith("HTTP/1.") or not code.isdigit():
                raise PushError("malformed answer")
            return int(code)
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (OSError, ssl.SSLError):
                pass

    async def _addresses(self, host: str, port: int) -> list[str]:
        """The addresses ``host`` resolves to that may be pushed to (public ones; loopback in development)."""
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        allowed = [str(info[4][0]) for info in infos if self._address_allowed(str(info[4][0]))]
        if not allowed:
            raise PushError("refused: the endpoint's host resolves to no public address")
        return list(dict.fromkeys(allowed))

    def _address_allowed(self, address: str) -> bool:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        return ip.is_global or (self.allow_loopback and ip.is_loopback)

    async def _connect(self, addresses: Iterable[str], port: int, server_hostname: str | None):
        error: Exception | None = None
        for address in addresses:
            try:
                return await asyncio.open_connection(
                    address,
                    port,
                    ssl=self._tls if server_hostname else None,
                    server_hostname=server_hostname,
                    limit=STATUS_LINE_MAX * 4,
                )
            except (OSError, ssl.SSLError) as exc:
                error = exc
        raise PushError(f"cannot connect: {error}")

    async def close(self) -> None:
        return None
