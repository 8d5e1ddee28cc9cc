"""Direct messages: opening one and listing a member's own. A DM is a room (``kind`` dm, no club) and from
then on goes through the same chat actions, shards and guarantees as a club room; only who may write is its
own rule (``storage.dms``), which the room shards apply on every send."""

from __future__ import annotations

from typing import Any

from actors.client import ActorClient
from actors.domain.errors import DomainError
from storage import dms, safety
from storage.models import User

from .blocking import mark_blocked


class Dms:
    def __init__(self, actors: ActorClient) -> None:
        self.actors = actors

    async def open(self, user_id: int, user_ids: list[int]) -> tuple[dict, bool]:
        """The DM room of the caller and ``user_ids``; True when it was made now."""
        others = sorted(set(user_ids) - {user_id})
        if user_id in user_ids and not others:
            raise DomainError("invalid", "a direct message needs someone besides you")
        if not 1 <= len(others) <= dms.MAX_OTHERS:
            raise DomainError("invalid", f"a direct message has 1 to {dms.MAX_OTHERS} other people")
        found = set(await User.filter(id__in=others).values_list("id", flat=True))
        missing = [u for u in others if u not in found]
        if missing:
            raise DomainError("not_found", f"no such user: {missing[0]}")
        people = await dms.People.load([user_id, *others])
        why = people.refusal(user_id, others)
        if why is not None:
            raise DomainError("forbidden", why)
        room, created = await dms.get_or_create([user_id, *others])
        return {"room_id": room.id}, created

    async def list(self, user_id: int) -> dict[str, Any]:
        """The caller's DMs, newest activity first (its last message or its last opening, the later)."""
        rooms = await dms.rooms_of(user_id)
        if not rooms:
            return {"rooms": []}
        ids = [rid for rid, _ in rooms]
        people = await dms.people_of(ids)
        last = await self.actors.last_messages(ids)
        blocked = await safety.blocked_by(user_id)
        items = []
        for rid, opened in rooms:
            message = last.get(rid)
            if message is not None and blocked:
                message = mark_blocked([message], blocked)[0]
            items.append(
                {
                    "room_id": rid,
                    "members": people.get(rid, []),
                    "last_message": message,
                    "_at": max(message["ts"] if message else 0, opened),
                }
            )
        items.sort(key=lambda r: (r["_at"], r["room_id"]), reverse=True)
        for item in items:
            del item["_at"]
        return {"rooms": items}

    async def policy_changed(self, user_id: int) -> None:
        """The user's DM policy changed: their DMs check who may write again."""
        await self.actors.dm_changed([user_id])
