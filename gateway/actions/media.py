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

import datetime as dt
import logging
import uuid
from typing import Any

from actors.domain import media as rules
from actors.domain.errors import DomainError
from gateway.core.ratelimit import RateLimiter
from storage import keys
from storage.models import Media, MediaKind, MediaStatus
from storage.objects import UPLOADS, ObjectMissing, ObjectStore
from storage.settings import Settings

log = logging.getLogger(__name__)

# A pending upload not completed this long after its URL expired is abandoned: its object (if any) is
# deleted and the row failed, the next time its owner starts an upload.
ABANDON_AFTER_S = 3600
# Served media URLs (presigned GETs) live this long; clients ask again for a fresh one.
VIEW_URL_TTL_S = 3600


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
    def __init__(self, settings: Settings, objects: ObjectStore | None, redis) -> None:
        self.settings = settings
        self.objects = objects
        self.redis = redis
        self.limiter = RateLimiter(redis)

    def _store(self) -> ObjectStore:
        if self.objects is None:
            raise _unavailable()
        return self.objects

    # -- POST /media/uploads --------------------------------------------------------------------------
    async def create_upload(self, user_id: int, kind: str, content_type: str, size: int) -> dict[str, Any]:
        refusal = rules.upload_refusal(kind, content_type, size)
        if refusal is not None:
            raise DomainError(*refusal)
        store = self._store()
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

    async def _abandon_expired(self, user_id: int, now: dt.datetime) -> None:
        """The owner's uploads never completed: their objects deleted, their rows failed (bounded: at most
        ``media_pending_max`` of them can exist)."""
        cutoff = now - dt.timedelta(seconds=self.settings.media_upload_ttl_s + ABANDON_AFTER_S)
        stale = await Media.filter(owner_id=user_id, status=MediaStatus.pending, created_at__lt=cutoff)
        for row in stale:
            await self._refuse(row, "the upload was never completed", raise_error=False)

    # -- POST /media/{id}/complete --------------------------------------------------------------------
    async def complete(self, user_id: int, raw_id: str) -> dict[str, Any]:
        row = await self._own(user_id, raw_id)
        if row.status in (MediaStatus.processing, MediaStatus.ready):
            return {"media_id": row.id.hex, "status": row.status.value}  # a retried complete
        if row.status == MediaStatus.failed:
            raise DomainError("conflict", f"this upload was refused: {row.error}")
        store = self._store()
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

    async def _refuse(self, row: Media, why: str, *, raise_error: bool = True) -> None:
        """Delete the uploaded object and fail the row; then refuse with ``invalid``."""
        try:
            await self._store().delete(row.upload_key)
        except Exception:
            # The row is not failed while its object may remain: a later complete or sweep tries again.
            log.warning("deleting a refused upload failed", extra={"media_id": row.id.hex})
            if raise_error:
                raise _unavailable() from None
            return
        await Media.filter(id=row.id, status=MediaStatus.pending).update(
            status=MediaStatus.failed, error=why[:300]
        )
        if raise_error:
            raise DomainError("invalid", why)

    # -- GET /media/{id} ------------------------------------------------------------------------------
    async def get(self, user_id: int, raw_id: str) -> dict[str, Any]:
        media_id = parse_media_id(raw_id)
        row = await Media.get_or_none(id=media_id)
        if row is None or not await can_view(row, user_id):
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
            store = self._store()
            for field, key in (
                ("url", row.object_key),
                ("thumbnail_url", row.thumbnail_key),
                ("poster_url", row.poster_key),
            ):
                if key:
                    out[field] = await store.presign_get(key, VIEW_URL_TTL_S)
        return out

    async def _own(self, user_id: int, raw_id: str) -> Media:
        """The caller's own media row; anyone else's is ``not_found`` (its existence is not revealed)."""
        row = await Media.get_or_none(id=parse_media_id(raw_id), owner_id=user_id)
        if row is None:
            raise DomainError("not_found", f"no such media: {raw_id[:40]}")
        return row


async def can_view(row: Media, user_id: int) -> bool:
    """Who may see a media item: its owner, always. The hook for attachments and reels (issue 21, points
    4-6): also anyone who can see a message or reel holding it (``storage.visibility``) once it is ready."""
    return row.owner_id == user_id
