"""Notification actions: the inbox, marking read (synced to the user's other devices), per-room levels.

Notifications are created by the notifier actor (``actors.notifier``), never by a request; these actions
read and change what it stored (``storage.notifications``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from actors.fanout import user_target
from storage import notifications

from .chat import Chat

Emit = Callable[..., Awaitable[Any]]


class Notifications:
    """``emit``: the Socket.IO server's emit (through the Redis manager, so every gateway's sockets)."""

    def __init__(self, chat: Chat, emit: Emit) -> None:
        self.chat = chat
        self.emit = emit

    async def inbox(self, user_id: int, cursor: str | None, limit: int, unread: bool) -> dict:
        items, next_id = await notifications.inbox(user_id, int(cursor) if cursor else None, limit, unread)
        return {"items": items, "next_cursor": str(next_id) if next_id is not None else None}

    async def read(self, user_id: int, ids: list[int] | None) -> None:
        """Mark read (``ids``; None: all); the user's devices learn it as ``notification:read``."""
        changed = await notifications.mark_read(user_id, ids)
        if changed:
            data = {"all": True} if ids is None else {"ids": changed}
            await self.emit("notification:read", data, room=user_target(user_id))

    async def level(self, user_id: int, room_id: int) -> dict:
        await self.chat.room_access(user_id, room_id)  # a private club's room does not exist for outsiders
        return {"level": await notifications.level_of(user_id, room_id)}

    async def set_level(self, user_id: int, room_id: int, level: str) -> dict:
        await self.chat.room_access(user_id, room_id)
        return {"level": await notifications.set_level(user_id, room_id, level)}
