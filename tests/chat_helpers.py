"""Helpers for chat tests: a club with a room made through the storage layer, and a Socket.IO client
that records what it receives (``message`` and ``message:batch`` alike)."""
from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

import socketio

from conftest import wait_for
from storage.models import Club, Membership, Role, Room, User


async def make_club_room(owner_id: int, members: list[int] = (), slow_mode_s: int = 0,
                         moderators: list[int] = ()) -> Room:
    owner = await User.get(id=owner_id)
    club = await Club.create(name=f"club-{uuid.uuid4().hex[:8]}", created_by=owner)
    await Membership.create(club=club, user_id=owner_id, role=Role.owner)
    for uid in members:
        await Membership.create(club=club, user_id=uid, role=Role.moderator if uid in moderators else Role.member)
    return await Room.create(club=club, name="general", slow_mode_s=slow_mode_s)


class ChatClient:
    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token
        self.sio = socketio.AsyncClient(reconnection=False)
        self.messages: dict[int, list[dict]] = defaultdict(list)
        self.frames = 0
        self.updated: list[dict] = []
        self.presence: list[dict] = []
        self.typing: list[dict] = []
        self.reads: list[dict] = []
        self.disconnected = asyncio.Event()
        sio = self.sio

        @sio.on("message")
        async def on_message(msg):
            self.frames += 1
            self.messages[msg["room_id"]].append(msg)

        @sio.on("message:batch")
        async def on_batch(batch):
            self.frames += 1
            self.messages[batch["room_id"]].extend(batch["messages"])

        @sio.on("message:updated")
        async def on_updated(msg):
            self.updated.append(msg)

        @sio.on("presence")
        async def on_presence(p):
            self.presence.append(p)

        @sio.on("typing")
        async def on_typing(t):
            self.typing.append(t)

        @sio.on("read:updated")
        async def on_read(r):
            self.reads.append(r)

        @sio.event
        async def disconnect(reason=None):
            self.disconnected.set()

    async def connect(self) -> "ChatClient":
        await self.sio.connect(self.url, transports=["websocket"], auth={"token": self.token}, wait_timeout=10)
        return self

    async def call(self, event: str, data, timeout: float = 20.0) -> dict:
        return await self.sio.call(event, data, timeout=timeout)

    async def join(self, room_id: int, **kw) -> dict:
        ack = await self.call("room:join", {"room_id": room_id, **kw})
        assert ack["ok"], ack
        return ack

    async def send(self, room_id: int, text: str, client_id: str | None = None, **kw) -> dict:
        return await self.call("message:send", {"room_id": room_id, "client_id": client_id or uuid.uuid4().hex,
                                                "text": text, **kw})

    def seqs(self, room_id: int) -> list[int]:
        return [m["seq"] for m in self.messages[room_id]]

    async def wait_seqs(self, room_id: int, count: int, timeout: float = 20.0) -> list[int]:
        async def enough():
            return len(self.messages[room_id]) >= count

        await wait_for(enough, timeout=timeout)
        return self.seqs(room_id)

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()
