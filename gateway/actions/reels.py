"""Reels: a member posts one of their own ready videos to a club with a caption; whoever may see the club
sees the reel (``storage.visibility``) until its author or a moderator deletes it. Reels are items of the
feed (``type: reel``) and of the interactions it learns from (play, watch, complete, skip).

A reel's video is the ``Media`` row itself: it stays where the media worker put it, and the delivery
routes under ``/media/{id}`` serve it to whoever can see the reel.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from actors.domain.errors import DomainError
from actors.domain.roles import require
from storage.models import Club, Media, MediaKind, MediaStatus, Membership, Reel, User

from .lookup import visible_club, visible_reel


def _value(v: Any) -> str:
    return str(getattr(v, "value", v))


def parse_media_id(raw: str) -> uuid.UUID:
    """A media id as handed out (32 lowercase hex digits); anything else is ``not_found`` like an unknown
    id (the schema already refuses other shapes as ``invalid``)."""
    if len(raw) != 32 or any(c not in "0123456789abcdef" for c in raw):
        raise DomainError("not_found", f"no such media: {raw[:40]}")
    return uuid.UUID(hex=raw)


def media_out(media: Media) -> dict:
    """A video as a reel embeds it. The URLs are the gateway's delivery routes (which check who may see
    it on every request), not presigned object URLs: a reel's JSON can be cached and handed around
    without leaking storage credentials or expiring."""
    hex_id = media.id.hex
    return {
        "id": hex_id,
        "kind": _value(media.kind),
        "url": f"/media/{hex_id}/file",
        "thumbnail_url": None,  # videos have a poster instead
        "poster_url": f"/media/{hex_id}/poster",
        "width": media.width,
        "height": media.height,
        "duration_ms": media.duration_ms,
        "blurhash": media.blurhash,
    }


def reel_out(reel: Reel, club: Club, author: User, media: Media) -> dict:
    return {
        "id": reel.id,
        "club_id": reel.club_id,
        "club_name": club.name,
        "author": {"id": author.id, "display_name": author.display_name},
        "caption": reel.caption,
        "created_at": reel.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "media": media_out(media),
    }


async def reels_payload(reel_ids: list[int]) -> dict[int, dict]:
    """{reel id: its JSON} of the reels that still exist (not deleted), in one query; the feed's reel
    items carry it (the caller already knows the feed's rule let them see these)."""
    if not reel_ids:
        return {}
    rows = await Reel.filter(id__in=reel_ids, deleted_at=None).prefetch_related("club", "author", "media")
    return {r.id: reel_out(r, r.club, r.author, r.media) for r in rows}


class Reels:
    async def create(self, club_id: int, user_id: int, raw_media_id: str, caption: str) -> dict:
        _, role = await visible_club(club_id, user_id)  # a private club's outsider: not_found
        require(role, "post_reel")  # a public club's outsider: forbidden
        # A timeout silences a member everywhere in the club: a reel is speaking too.
        membership = await Membership.get_or_none(club_id=club_id, user_id=user_id)
        muted = membership.muted_until if membership is not None else None
        if muted is not None and muted > datetime.now(UTC):
            raise DomainError("forbidden", "you are timed out in this club")
        media = await Media.get_or_none(id=parse_media_id(raw_media_id), owner_id=user_id)
        if media is None:  # someone else's media is not revealed either
            raise DomainError("not_found", f"no such media: {raw_media_id[:40]}")
        if _value(media.kind) != MediaKind.video.value:
            raise DomainError("invalid", "a reel is a video; this media is an image")
        if _value(media.status) != MediaStatus.ready.value:
            raise DomainError("invalid", f"the video is {_value(media.status)}: post it once it is ready")
        if media.room_id is not None:
            raise DomainError("conflict", "this video is attached to a message")
        if await Reel.exists(media_id=media.id):
            raise DomainError("conflict", "this video is already a reel")
        try:
            reel = await Reel.create(club_id=club_id, author_id=user_id, media_id=media.id, caption=caption)
        except IntegrityError:  # the same video posted twice at once: the one-to-one's unique index
            raise DomainError("conflict", "this video is already a reel") from None
        return {"reel_id": reel.id}

    async def get(self, reel_id: int, user_id: int) -> dict:
        reel, club, _ = await visible_reel(reel_id, user_id)
        author, media = await User.get(id=reel.author_id), await Media.get(id=reel.media_id)
        return reel_out(reel, club, author, media)

    async def delete(self, reel_id: int, user_id: int) -> None:
        reel, _, role = await visible_reel(reel_id, user_id)
        if reel.author_id != user_id:
            require(role, "delete_any_reel")
        # Only the first of two deletes at once changes the row; the second found it alive and is answered
        # as the first (deleting a reel is idempotent for whoever may delete it).
        await Reel.filter(id=reel.id, deleted_at=None).update(deleted_at=datetime.now(UTC))
