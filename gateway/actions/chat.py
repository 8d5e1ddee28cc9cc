"""Chat actions, one method per action, transport-free: both the Socket.IO events and the REST routes call
them. Each answers the success body or raises ``DomainError``; the transports turn that into an ack or a
response.
"""

from __future__ import annotations

import time
from typing import Any

from actors.client import ActorClient
from actors.domain.errors import DomainError
from actors.domain.room import validate_text
from gateway.core.ratelimit import UserBuckets
from storage import keys
from storage.settings import Settings

from .blocking import BlockSets, mark_blocked
from .lookup import visible_room
from .media import MediaActions


class Chat:
    def __init__(
        self, settings: Settings, actors: ActorClient, redis, media: MediaActions | None = None
    ) -> None:
        self.settings = settings
        self.actors = actors
        self.redis = redis
        self.media = media  # claims a message's attachments
        self.send_limits = UserBuckets(settings.user_msg_rate, settings.user_msg_burst)
        self._typing: dict[tuple[int, int], float] = {}
        # The block sets of this gateway's connected users (live delivery reads them too).
        self.blocks = BlockSets()

    async def room_access(self, user_id: int, room_id: int) -> None:
        """Refuses unless the user may enter the room's broadcasts: the club's visibility rule
        (``not_found`` to a private club's outsider), then membership (``forbidden``)."""
        _room, _club, role = await visible_room(room_id, user_id)
        if role is None:
            raise DomainError("forbidden", f"you are not a member of the club of room {room_id}")

    async def send(
        self,
        user_id: int,
        room_id: int,
        client_id: str,
        text: str,
        reply_to_seq: int | None,
        thread_root_seq: int | None = None,
        attachments: list[str] | None = None,
    ) -> dict:
        validate_text(text, bool(attachments))  # refused here, before any Ray call
        self.send_limits.take(user_id, "messages")
        media = None
        media_actions = self.media
        if attachments:
            if media_actions is None:
                raise DomainError("unavailable", "media storage is not configured")
            media = await media_actions.attach(user_id, room_id, client_id, attachments)
        op = {
            "kind": "send",
            "room_id": room_id,
            "user_id": user_id,
            "client_id": client_id,
            "text": text,
            "reply_to_seq": reply_to_seq,
            "thread_root_seq": thread_root_seq,
            "received_at": time.time(),  # the first stamp of the message's stage trace
        }
        if media:
            op["attachments"] = media
        result = await self.actors.apply(room_id, op)
        if media and attachments and media_actions is not None:
            await media_actions.attached(room_id, client_id, attachments, result["seq"])
        return result

    async def edit(self, user_id: int, room_id: int, seq: int, text: str) -> dict:
        validate_text(text)
        op = {"kind": "edit", "room_id": room_id, "user_id": user_id, "seq": seq, "text": text}
        return await self.actors.apply(room_id, op)

    async def delete(self, user_id: int, room_id: int, seq: int) -> dict:
        return await self.actors.apply(
            room_id, {"kind": "delete", "room_id": room_id, "user_id": user_id, "seq": seq}
        )

    async def react(self, user_id: int, room_id: int, seq: int, emoji: str, add: bool) -> dict:
        kind = "react_add" if add else "react_remove"
        op = {"kind": kind, "room_id": room_id, "user_id": user_id, "seq": seq, "emoji": emoji}
        return await self.actors.apply(room_id, op)

    async def pin(self, user_id: int, room_id: int, seq: int, add: bool) -> dict:
        """Pin or unpin (moderators; in a DM any of its people): a room change like an edit (it raises
        ``rev``, reaches members as ``room:pins`` and a rejoin with ``since_rev`` replays it)."""
        op = {"kind": "pin" if add else "unpin", "room_id": room_id, "user_id": user_id, "seq": seq}
        return await self.actors.apply(room_id, op)

    async def pins(self, user_id: int, room_id: int) -> dict:
        result = await self.actors.pins(user_id, room_id)
        blocked = await self.blocks.of_user(user_id)
        if blocked:
            result["pins"] = mark_blocked(result["pins"], blocked)
        return result

    async def thread(self, user_id: int, room_id: int, root_seq: int, after_seq: int, limit: int) -> dict:
        result = await self.actors.thread(user_id, room_id, root_seq, after_seq, limit)
        blocked = await self.blocks.of_user(user_id)
        if blocked:
            result["messages"] = mark_blocked(result["messages"], blocked)
            if "root" in result and result["root"] is not None:
                result["root"] = mark_blocked([result["root"]], blocked)[0]
        return result

    async def join(
        self, user_id: int, room_id: int, sid: str, since_seq: int | None, since_rev: int | None
    ) -> dict:
        result = await self.actors.join(user_id, room_id, sid, since_seq, since_rev)
        blocked = await self.blocks.of_user(user_id)
        if blocked:
            result["missed"] = mark_blocked(result.get("missed", []), blocked)
            result["updated"] = mark_blocked(result.get("updated", []), blocked)
        return result

    async def leave(self, user_id: int, sid: str, room_ids: list[int]) -> None:
        await self.actors.leave(user_id, sid, room_ids)

    async def history(
        self, user_id: int, room_id: int, before_seq: int | None, after_seq: int | None, limit: int
    ) -> dict:
        """A page of the room's messages, ascending seq (``GET /rooms/{id}/messages``, ``message:history``);
        messages by someone the reader blocked carry ``author_blocked: true``."""
        result = await self.actors.history(user_id, room_id, before_seq, after_seq, limit)
        blocked = await self.blocks.of_user(user_id)
        if blocked:
            result["messages"] = mark_blocked(result["messages"], blocked)
        return result

    async def read(self, user_id: int, room_id: int, seq: int, sid: str) -> dict:
        return await self.actors.read(user_id, room_id, seq, sid)

    async def connected(self, user_id: int, sid: str) -> None:
        await self.actors.connected(user_id, sid)

    async def disconnected(self, user_id: int, sid: str) -> None:
        await self.actors.disconnected(user_id, sid)

    def typing_allowed(self, user_id: int, room_id: int) -> bool:
        """At most one typing signal per user and room every ``typing_interval_s``."""
        now = time.monotonic()
        key = (user_id, room_id)
        if now - self._typing.get(key, -1e9) < self.settings.typing_interval_s:
            return False
        self._typing[key] = now
        if len(self._typing) > 100_000:
            cutoff = now - self.settings.typing_interval_s
            self._typing = {k: t for k, t in self._typing.items() if t > cutoff}
        return True

    async def unread(self, user_id: int) -> dict[str, Any]:
        """Unread messages per room of the user's clubs (the rooms' last seqs against the user's read marks,
        both kept in Redis by the shards), plus ``mentions`` (unread mention notifications per room) and
        ``notifications`` (unread notifications in all, the bell's count)."""
        from storage import dms, notifications
        from storage.models import Membership, Room

        total, mentions = await notifications.unread_counts(user_id)
        club_ids = await Membership.filter(user_id=user_id).values_list("club_id", flat=True)
        rows = await Room.filter(club_id__in=list(club_ids)).values_list("id", flat=True)
        room_ids = [int(r) for r in rows]  # type: ignore[call-overload]  # flat rows are ids, not tuples
        room_ids += await dms.dm_room_ids(user_id)
        out: dict[str, Any] = {}
        if room_ids:
            last = await self.redis.hmget(keys.ROOM_LAST_SEQ, [str(r) for r in room_ids])
            raw = await self.redis.hgetall(keys.read_marks(user_id))
            read = {int(k): int(v) for k, v in raw.items()}
            out = {
                str(r): max(0, int(seq or 0) - read.get(r, 0)) for r, seq in zip(room_ids, last, strict=True)
            }
        out["mentions"] = mentions
        out["notifications"] = total
        return out
