"""Media uploads that bypass the gateway: a presigned PUT straight to object storage, then ``complete``
checks what really arrived and hands it to processing (``storage.keys.MEDIA_STREAM``).

The bytes never pass through a gateway. The presigned request signs one key (``uploads/<media id>``), the
Content-Type and the Content-Length, and expires (``Settings.media_upload_ttl_s``): the object store itself
refuses another key, another length, a changed signature or a late request. ``complete`` then trusts
nothing the client said: it reads the object's real size and sniffs its type from its first bytes
(``actors.domain.media``); what fails is deleted and the row marked ``failed``. Nothing is served before
processing marks it ``ready``, and then only to whoever ``can_view`` allows.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import logging
import random
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from tortoise.transactions import in_transaction

from actors.domain import media as rules
from actors.domain.errors import DomainError
from gateway.core.ratelimit import RateLimiter
from storage import keys
from storage.models import Media, MediaKind, MediaStatus, Reel
from storage.objects import UPLOADS, ObjectInfo, ObjectMissing, ObjectStore
from storage.settings import Settings
from storage.visibility import can_read_room, visible_club

log = logging.getLogger(__name__)

# A pending upload not completed this long after its URL expired is abandoned: its object (if any) is
# deleted and the row failed, the next time its owner starts an upload, or by the sweeper below.
ABANDON_AFTER_S = 3600
# The sweeper's pace: a page of abandoned uploads per pass, a pass every so often on every gateway (the
# failing update is conditional, so gateways sweeping the same rows at once do no harm).
SWEEP_EVERY_S = 600.0
SWEEP_PAGE = 200
SWEEP_MAX_BACKOFF_S = 3600.0
# A message holds at most this many attachments (the contract's limit).
MAX_ATTACHMENTS = 10
# An attachment claimed by a send that was never stored (refused by the room, the gateway died) is free
# again after this long; a claim by a stored message (its seq known) is never released.
CLAIM_STALE_S = 60
# The served variants of a media item: /media/<id>/<variant>.
VARIANTS = ("file", "thumbnail", "poster")
# Who may see what, remembered per (user, media) this long: a thumbnail grid of a long room asks for
# dozens at once. A delete, a leave or a ban takes effect within this.
VIEW_CACHE_S = 5.0
VIEW_CACHE_MAX = 20_000
# Objects under media/<id>/ never change once written: their size and ETag are cached.
INFO_CACHE_MAX = 20_000


def _unavailable() -> DomainError:
    return DomainError("unavailable", "media storage is not configured or does not answer; retry later")


def upload_key(media_id: uuid.UUID) -> str:
    return f"{UPLOADS}/{media_id.hex}"


def parse_media_id(raw: str) -> uuid.UUID:
    """A media id as handed out (32 lowercase hex digits), else ``not_found`` like any unknown id."""
    if len(raw) != 32 or any(c not in "0123456789abcdef" for c in raw):
        raise DomainError("not_found", f"no such media: {raw[:40]}")
    return uuid.UUID(hex=raw)


class MediaActions:
    def __init__(self, settings: Settings, objects: ObjectStore | None, redis, messages=None) -> None:
        self.settings = settings
        self.objects = objects
        self.redis = redis
        self.messages = messages  # the chat's Mongo collection: is an attachment's message deleted?
        self.limiter = RateLimiter(redis)
        self._views: OrderedDict[tuple[int, uuid.UUID], tuple[float, bool]] = OrderedDict()
        self._info: OrderedDict[str, ObjectInfo] = OrderedDict()

    def store(self) -> ObjectStore:
        if self.objects is None:
            raise _unavailable()
        return self.objects

    # -- POST /media/uploads --------------------------------------------------------------------------
    async def create_upload(self, user_id: int, kind: str, content_type: str, size: int) -> dict[str, Any]:
        refusal = rules.upload_refusal(kind, content_type, size)
        if refusal is not None:
            raise DomainError(*refusal)
        store = self.store()
        await self.limiter.enforce(
            [keys.media_uploads_by_user(user_id)], self.settings.media_uploads_per_hour, 3600, "uploads"
        )
        now = dt.datetime.now(dt.UTC)
        await self._abandon_expired(user_id, now)
        pending = await Media.filter(owner_id=user_id, status=MediaStatus.pending).count()
        if pending >= self.settings.media_pending_max:
            raise DomainError(
                "rate_limited",
                f"{pending} uploads are still pending: complete them first",
                retry_after=self.settings.media_upload_ttl_s,
            )
        day_ago = now - dt.timedelta(days=1)
        recent = await Media.filter(owner_id=user_id, created_at__gte=day_ago).values_list(
            "size", "created_at"
        )
        used = sum(s for s, _ in recent)
        if used + size > self.settings.media_daily_bytes:
            oldest = min((at for _, at in recent), default=now)
            wait = max(1, int((oldest + dt.timedelta(days=1) - now).total_seconds()))
            raise DomainError(
                "rate_limited",
                f"daily upload quota reached ({used} of {self.settings.media_daily_bytes} bytes in 24 h)",
                retry_after=wait,
            )
        media_id = uuid.uuid4()
        key = store.key(upload_key(media_id))
        ttl = self.settings.media_upload_ttl_s
        try:
            url, headers = await store.presign_put(key, content_type, size, ttl)
        except Exception as exc:
            log.warning("presigning an upload failed", extra={"error": type(exc).__name__})
            raise _unavailable() from None
        await Media.create(
            id=media_id,
            owner_id=user_id,
            kind=MediaKind(kind),
            content_type=content_type,
            size=size,
            upload_key=key,
        )
        expires = (now + dt.timedelta(seconds=ttl)).isoformat().replace("+00:00", "Z")
        return {
            "media_id": media_id.hex,
            "upload": {"url": url, "method": "PUT", "headers": headers, "expires_at": expires},
        }

    def _abandoned_before(self, now: dt.datetime) -> dt.datetime:
        return now - dt.timedelta(seconds=self.settings.media_upload_ttl_s + ABANDON_AFTER_S)

    async def _abandon_expired(self, user_id: int, now: dt.datetime) -> None:
        """The owner's uploads never completed: their objects deleted, their rows failed (bounded: at most
        ``media_pending_max`` of them can exist)."""
        stale = await Media.filter(
            owner_id=user_id, status=MediaStatus.pending, created_at__lt=self._abandoned_before(now)
        )
        for row in stale:
            await self._refuse(row, "the upload was never completed", raise_error=False)

    async def sweep_abandoned(self, now: dt.datetime | None = None, limit: int = SWEEP_PAGE) -> int:
        """One page of everyone's abandoned uploads (oldest first): objects deleted, rows failed; the number
        swept. A row whose object could not be deleted stays pending for the next pass."""
        if self.objects is None:
            return 0
        before = self._abandoned_before(now or dt.datetime.now(dt.UTC))
        rows = (
            await Media.filter(status=MediaStatus.pending, created_at__lt=before)
            .order_by("created_at")
            .limit(limit)
        )
        deleted = [
            await self._refuse(row, "the upload was never completed", raise_error=False) for row in rows
        ]
        if rows and not any(deleted):
            raise _unavailable()  # the object store refuses every delete: the sweeper backs off
        return sum(deleted)

    # -- POST /media/{id}/complete --------------------------------------------------------------------
    async def complete(self, user_id: int, raw_id: str) -> dict[str, Any]:
        row = await self._own(user_id, raw_id)
        if row.status in (MediaStatus.processing, MediaStatus.ready):
            return {"media_id": row.id.hex, "status": row.status.value}  # a retried complete
        if row.status == MediaStatus.failed:
            raise DomainError("conflict", f"this upload was refused: {row.error}")
        store = self.store()
        try:
            info = await store.head(row.upload_key)
        except ObjectMissing:
            raise DomainError("conflict", "nothing was uploaded yet: PUT the bytes first") from None
        except Exception:
            raise _unavailable() from None
        head = b""
        if 0 < info.size <= row.size:
            try:
                head = await store.get_range(row.upload_key, 0, rules.SNIFF_BYTES)
            except ObjectMissing:
                raise DomainError("conflict", "nothing was uploaded yet: PUT the bytes first") from None
            except Exception:
                raise _unavailable() from None
        why = rules.content_refusal(row.content_type, row.size, info.size, head)
        if why is not None:
            await self._refuse(row, why)
        # Only the call that moves it from pending announces it: two completes at once add one entry.
        moved = await Media.filter(id=row.id, status=MediaStatus.pending).update(
            status=MediaStatus.processing
        )
        if moved:
            await self.redis.xadd(
                keys.MEDIA_STREAM, {"media_id": row.id.hex}, maxlen=keys.MEDIA_MAXLEN, approximate=True
            )
        row = await Media.get(id=row.id)
        return {"media_id": row.id.hex, "status": row.status.value}

    async def _refuse(self, row: Media, why: str, *, raise_error: bool = True) -> bool:
        """Delete the uploaded object and fail the row; then refuse with ``invalid`` (or, without
        ``raise_error``, answer whether the object could be deleted)."""
        try:
            await self.store().delete(row.upload_key)
        except Exception:
            # The row is not failed while its object may remain: a later complete or sweep tries again.
            log.warning("deleting a refused upload failed", extra={"media_id": row.id.hex})
            if raise_error:
                raise _unavailable() from None
            return False
        await Media.filter(id=row.id, status=MediaStatus.pending).update(
            status=MediaStatus.failed, error=why[:300]
        )
        if raise_error:
            raise DomainError("invalid", why)
        return True

    # -- GET /media/{id} ------------------------------------------------------------------------------
    async def get(self, user_id: int, raw_id: str) -> dict[str, Any]:
        media_id = parse_media_id(raw_id)
        row = await Media.get_or_none(id=media_id)
        if row is None or not await self._may_view(row, user_id):
            raise DomainError("not_found", f"no such media: {raw_id[:40]}")
        out: dict[str, Any] = {
            "id": row.id.hex,
            "kind": row.kind.value,
            "status": row.status.value,
            "url": None,
            "thumbnail_url": None,
            "poster_url": None,
            "width": row.width,
            "height": row.height,
            "duration_ms": row.duration_ms,
            "blurhash": row.blurhash,
            "error": row.error,
        }
        if row.status == MediaStatus.ready:  # nothing is public until processed
            out.update(served_urls(row))
        return out

    async def _own(self, user_id: int, raw_id: str) -> Media:
        """The caller's own media row; anyone else's is ``not_found`` (its existence is not revealed)."""
        row = await Media.get_or_none(id=parse_media_id(raw_id), owner_id=user_id)
        if row is None:
            raise DomainError("not_found", f"no such media: {raw_id[:40]}")
        return row

    # -- attachments ---------------------------------------------------------------------------------
    async def attach(self, user_id: int, room_id: int, client_id: str, raw_ids: list[str]) -> list[dict]:
        """Claim the sender's media for the message ``client_id`` of the room: each ready, the sender's, not
        a reel and not attached to another message; all or none. Returns them as the message carries them.

        The claim is one conditional ``UPDATE`` per item in one transaction, so two sends racing for the
        same item cannot both have it; a re-sent ``client_id`` claims its own items again."""
        ids = list(dict.fromkeys(raw_ids))  # the same item twice is once
        if len(ids) > MAX_ATTACHMENTS:
            raise DomainError(
                "too_large", f"{len(ids)} attachments; a message holds at most {MAX_ATTACHMENTS}"
            )
        media_ids = [parse_media_id(raw) for raw in ids]
        rows = {r.id: r for r in await Media.filter(id__in=media_ids, owner_id=user_id)}
        for raw, media_id in zip(ids, media_ids, strict=True):
            row = rows.get(media_id)
            if row is None:
                raise DomainError("not_found", f"no such media: {raw}")
            if row.status != MediaStatus.ready:
                raise DomainError(
                    "invalid", f"media {raw} is {row.status.value}, not ready: wait for media:ready"
                )
        if await Reel.filter(media_id__in=media_ids).exists():
            raise DomainError("conflict", "a reel's video cannot be attached to a message")
        now = dt.datetime.now(dt.UTC)
        stale = now - dt.timedelta(seconds=CLAIM_STALE_S)
        async with in_transaction() as conn:
            for raw, media_id in zip(ids, media_ids, strict=True):
                claimed = await conn.execute_query_dict(
                    "UPDATE media SET room_id = $1, client_id = $2, updated_at = $3 WHERE id = $4"
                    " AND owner_id = $5 AND (room_id IS NULL OR (room_id = $1 AND client_id = $2)"
                    " OR (seq IS NULL AND updated_at < $6)) RETURNING id",
                    [room_id, client_id, now, media_id, user_id, stale],
                )
                if not claimed:
                    # Raising rolls back this call's earlier claims.
                    raise DomainError("conflict", f"media {raw} is already attached to another message")
        return [attachment_of(rows[m]) for m in media_ids]

    async def attached(self, room_id: int, client_id: str, raw_ids: list[str], seq: int) -> None:
        """The message was stored as ``seq``: its claims become permanent."""
        media_ids = [parse_media_id(raw) for raw in dict.fromkeys(raw_ids)]
        await Media.filter(id__in=media_ids, room_id=room_id, client_id=client_id).update(seq=seq)

    # -- delivery: GET /media/{id}/{variant} -------------------------------------------------------
    async def open_variant(self, user_id: int, raw_id: str, variant: str) -> Served:
        """The object behind a served URL, for a viewer allowed to see it; ``not_found`` for everyone else
        and for what does not exist (existence is not revealed)."""
        if variant not in VARIANTS:
            raise DomainError("not_found", f"no such media variant: {variant[:20]}")
        media_id = parse_media_id(raw_id)
        row = await Media.get_or_none(id=media_id)
        key = (
            None
            if row is None
            else {"file": row.object_key, "thumbnail": row.thumbnail_key, "poster": row.poster_key}[variant]
        )
        if (
            row is None
            or row.status != MediaStatus.ready
            or not key
            or not await self._may_view(row, user_id)
        ):
            raise DomainError("not_found", f"no such media: {raw_id[:40]}")
        info = self._info.get(key)
        if info is None:
            try:
                info = await self.store().head(key)
            except ObjectMissing:
                raise DomainError("not_found", f"no such media: {raw_id[:40]}") from None
            except DomainError:
                raise
            except Exception:
                raise _unavailable() from None
            self._info[key] = info
            while len(self._info) > INFO_CACHE_MAX:
                self._info.popitem(last=False)
        content_type = _served_type(row, variant, info)
        return Served(key, info, content_type)

    async def _may_view(self, row: Media, user_id: int) -> bool:
        cache_key = (user_id, row.id)
        hit = self._views.get(cache_key)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        allowed = await can_view(row, user_id, self.messages)
        self._views[cache_key] = (now + VIEW_CACHE_S, allowed)
        self._views.move_to_end(cache_key)
        while len(self._views) > VIEW_CACHE_MAX:
            self._views.popitem(last=False)
        return allowed

    def cdn_url(self, served: Served) -> str | None:
        """Where a permitted viewer is sent in production (``media_public_url``); None: served here."""
        base, secret = self.settings.media_public_url, self.settings.media_url_secret
        if not base or secret is None:
            return None
        return signed_cdn_url(
            base, served.key, secret.get_secret_value().encode(), self.settings.media_url_ttl_s, time.time()
        )


@dataclass(frozen=True)
class Served:
    key: str
    info: ObjectInfo
    content_type: str


def _served_type(row: Media, variant: str, info: ObjectInfo) -> str:
    """What processing wrote (the store keeps it); the worker's formats when a store does not say."""
    if info.content_type and info.content_type != "binary/octet-stream":
        return info.content_type
    if variant == "file":
        return "video/mp4" if row.kind == MediaKind.video else "image/jpeg"
    return "image/jpeg"


def signed_cdn_url(base: str, key: str, secret: bytes, ttl_s: int, now: float) -> str:
    """A CDN URL for one object that an edge can check without asking us: ``?expires=E&signature=S`` with
    S = base64url(HMAC-SHA256(secret, "<path>:<E>")), unpadded. E is rounded up to a window of ``ttl_s``,
    so every viewer gets the same URL for a while (one cache entry at the edge and in browsers) and each
    URL stays valid between ``ttl_s`` and twice that."""
    expires = (int(now) // ttl_s + 2) * ttl_s
    path = "/" + quote(key, safe="/")
    digest = hmac.new(secret, f"{path}:{expires}".encode(), hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return f"{base.rstrip('/')}{path}?expires={expires}&signature={signature}"


def media_path(media_id: uuid.UUID, variant: str) -> str:
    """A media item's served URL: stable (messages store it), permission-checked on every request."""
    return f"/media/{media_id.hex}/{variant}"


def served_urls(row: Media) -> dict[str, str | None]:
    return {
        "url": media_path(row.id, "file") if row.object_key else None,
        "thumbnail_url": media_path(row.id, "thumbnail") if row.thumbnail_key else None,
        "poster_url": media_path(row.id, "poster") if row.poster_key else None,
    }


def attachment_of(row: Media) -> dict[str, Any]:
    """A ready media item as a message carries it."""
    out: dict[str, Any] = {"id": row.id.hex, "kind": row.kind.value, **served_urls(row)}
    out.update(width=row.width, height=row.height, blurhash=row.blurhash)
    if row.duration_ms is not None:
        out["duration_ms"] = row.duration_ms
    return out


async def can_view(row: Media, user_id: int, messages=None) -> bool:
    """Who may see a media item: its owner, always; once it is ready, also whoever may read the room of
    the message it is attached to while that message is not deleted, or see the club of its reel while
    the reel is not deleted (``storage.visibility``: one rule each)."""
    if row.owner_id == user_id:
        return True
    if row.status != MediaStatus.ready:
        return False
    if row.room_id is not None:
        if not await can_read_room(row.room_id, user_id):
            return False
        if messages is None:
            return False
        query: dict[str, Any] = {"room_id": row.room_id}
        if row.seq is not None:
            query["seq"] = row.seq
        else:  # stored, but the claim's seq was not yet written (or never will be: a gateway died)
            query["client_id"] = row.client_id
        doc = await messages.find_one(query, {"deleted": 1, "attachments": 1})
        return (
            doc is not None
            and not doc.get("deleted")
            and any(a.get("id") == row.id.hex for a in doc.get("attachments") or ())
        )
    reel = await Reel.get_or_none(media_id=row.id, deleted_at=None)
    return reel is not None and await visible_club(reel.club_id, user_id) is not None


class MediaSweeper:
    """Sweeps abandoned uploads on every gateway, a page per pass (an owner who never uploads again would
    otherwise keep them), backing off while the stores fail."""

    def __init__(self, media: MediaActions, every_s: float = SWEEP_EVERY_S) -> None:
        self.media = media
        self.every_s = every_s
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self.media.objects is not None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        failures = 0
        await asyncio.sleep(random.uniform(0, self.every_s))  # nosec B311: jitter, not security
        while True:
            try:
                swept = await self.media.sweep_abandoned()
                failures = 0
                if swept:
                    log.info("abandoned uploads swept", extra={"count": swept})
            except Exception:
                failures += 1
                log.warning("sweeping abandoned uploads failed", exc_info=True, extra={"failures": failures})
            delay = min(self.every_s * 2**failures, max(self.every_s, SWEEP_MAX_BACKOFF_S))
            await asyncio.sleep(delay * random.uniform(0.9, 1.1))  # nosec B311: jitter
