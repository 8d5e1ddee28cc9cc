"""Helpers for chat tests: a club with a room made through the storage layer, and a Socket.IO client
that records what it receives (``message`` and ``message:batch`` alike)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
import uuid
from collections import defaultdict
from pathlib import Path

import aiohttp
import socketio

from storage.models import Club, Membership, Role, Room, User
from storage.services import free_port
from support.processes import terminate
from support.wait import wait_for


async def make_club_room(
    owner_id: int, members: list[int] = (), slow_mode_s: int = 0, moderators: list[int] = ()
) -> Room:
    owner = await User.get(id=owner_id)
    club = await Club.create(name=f"club-{uuid.uuid4().hex[:8]}", created_by=owner)
    await Membership.create(club=club, user_id=owner_id, role=Role.owner)
    for uid in members:
        await Membership.create(
            club=club, user_id=uid, role=Role.moderator if uid in moderators else Role.member
        )
    return await Room.create(club=club, name="general", slow_mode_s=slow_mode_s)


async def send_all(client: ChatClient, room_id: int, texts: list[str]) -> None:
    """Sends in order, sitting out the per-user rate limit (burst 40, then 5 a second)."""
    for text in texts:
        for _ in range(100):
            ack = await client.send(room_id, text)
            if ack.get("ok", True) and "error" not in ack:
                break
            assert ack["error"]["code"] == "rate_limited", ack
            await asyncio.sleep(max(0.2, float(ack["error"].get("retry_after") or 0.2)))
        else:
            raise AssertionError(f"could not send {text!r}")


CLOSE_TIMEOUT_S = 15.0


class ChatClient:
    def __init__(self, url: str, token: str, source: str | None = None) -> None:
        """``source``: a loopback address of its own to connect from (per-address limits see it alone)."""
        self.url = url
        self.token = token
        self._http = None
        if source is not None:
            self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(source, 0)))
        self.sio = socketio.AsyncClient(reconnection=False, http_session=self._http)
        self.messages: dict[int, list[dict]] = defaultdict(list)
        self.frames = 0
        self.updated: list[dict] = []
        self.presence: list[dict] = []
        self.typing: list[dict] = []
        self.reads: list[dict] = []
        self.notifications: list[dict] = []
        self.notifications_read: list[dict] = []
        self.blocks_changed: list[dict] = []
        self.events: dict[str, list] = defaultdict(list)  # any other server event, by name
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

        @sio.on("notification")
        async def on_notification(n):
            self.notifications.append(n)

        @sio.on("notification:read")
        async def on_notification_read(r):
            self.notifications_read.append(r)

        @sio.on("blocks:changed")
        async def on_blocks_changed(b):
            self.blocks_changed.append(b)

        @sio.on("*")
        async def on_any(event, *args):
            self.events[event].append(args[0] if args else None)

        @sio.event
        async def disconnect(reason=None):
            self.disconnected.set()

    async def connect(self) -> ChatClient:
        await self.sio.connect(
            self.url, transports=["websocket"], auth={"token": self.token}, wait_timeout=10
        )
        return self

    async def call(self, event: str, data, timeout: float = 20.0) -> dict:
        return await self.sio.call(event, data, timeout=timeout)

    async def call_unless_dropped(self, event: str, data, timeout: float = 60.0) -> dict | None:
        """The ack, or None when the server closes the socket first: a delivery-gap resync disconnects on
        purpose, and an ack the socket was still waiting for is then never coming."""
        call = asyncio.ensure_future(self.call(event, data, timeout=timeout))
        dropped = asyncio.ensure_future(self.disconnected.wait())
        try:
            await asyncio.wait({call, dropped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            dropped.cancel()
        if call.done():
            return call.result()
        call.cancel()
        return None

    async def resume(self, *room_ids: int) -> None:
        """What the web client does after a drop: connect again and rejoin each room from the last seq it
        saw, recording the messages it missed."""
        if self.sio.connected:
            await self.sio.disconnect()
        self.disconnected.clear()
        await self.connect()
        for room_id in room_ids:
            ack = await self.join(room_id, since_seq=max(self.seqs(room_id), default=0))
            self.messages[room_id].extend(ack.get("missed", []))

    async def join(self, room_id: int, **kw) -> dict:
        ack = await self.call("room:join", {"room_id": room_id, **kw})
        assert ack["ok"], ack
        return ack

    async def send(self, room_id: int, text: str, client_id: str | None = None, **kw) -> dict:
        return await self.call(
            "message:send",
            {"room_id": room_id, "client_id": client_id or uuid.uuid4().hex, "text": text, **kw},
        )

    def seqs(self, room_id: int) -> list[int]:
        return [m["seq"] for m in self.messages[room_id]]

    async def wait_seqs(self, room_id: int, count: int, timeout: float = 20.0) -> list[int]:
        async def enough():
            return len(self.messages[room_id]) >= count

        await wait_for(enough, timeout=timeout)
        return self.seqs(room_id)

    async def close(self) -> None:
        if self.sio.connected:
            # Bounded: a disconnect waits for the client's read loop, which a server that never answers the
            # close would hold open; a test's cleanup must end either way (the server drops the socket later).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.sio.disconnect(), CLOSE_TIMEOUT_S)
        if self._http is not None:
            await self._http.close()


CLUBHUB = str(Path(sys.executable).parent / "clubhub")


class GatewayProcess:
    """Another ``clubhub run`` sharing the session's services, Ray instance and signing keys."""

    def __init__(
        self, settings, services, ray_address: str, tmp_path: Path, extra_env: dict | None = None
    ) -> None:
        urls = services.urls()
        # RAY_AUTH_MODE (set by the session's ray.init) stays: joining its cluster needs the token.
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLUBHUB_") and k != "RAY_ADDRESS"}
        env.update(
            CLUBHUB_DATA_DIR=str(settings.data_path),
            CLUBHUB_POSTGRES_URL=urls["postgres"],
            CLUBHUB_MONGO_URL=urls["mongo"],
            CLUBHUB_REDIS_URL=urls["redis"],
            CLUBHUB_RAY_ADDRESS=ray_address,
            CLUBHUB_USER_MSG_BURST=str(settings.user_msg_burst),
            CLUBHUB_HOUSEKEEPING_S=str(settings.housekeeping_s),
        )
        env.update(extra_env or {})
        self.env, self.tmp_path = env, tmp_path
        self._launch()

    def _launch(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.tmp_path / f"gateway-{self.port}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [CLUBHUB, "run"], env={**self.env, "CLUBHUB_PORT": str(self.port)}, stdout=out, stderr=out
            )

    async def ready(self) -> None:
        """Up and ready. A free port can be taken between choosing it and binding it (by any process's
        outgoing connection: the same ephemeral range): then it starts again on another one."""
        for attempt in range(3):
            async with aiohttp.ClientSession() as http:

                async def up():
                    if self.proc.poll() is not None:
                        return "exited"
                    try:
                        async with http.get(f"{self.url}/readyz") as resp:
                            return resp.status == 200
                    except aiohttp.ClientError:
                        return False

                state = await wait_for(up, timeout=90, interval=0.25)
            if state is True:
                return
            text = self.log.read_text()
            assert "address already in use" in text and attempt < 2, text[-3000:]
            self._launch()

    def stop(self) -> None:
        terminate(self.proc, 30)


class LiveView:
    """A participant's view of a live session: the join ack's state, kept current by ``live:update`` deltas
    exactly as a client applies them (tests compare it with the whole state a fresh joiner gets)."""

    def __init__(self) -> None:
        self.state: dict | None = None
        self.gaps = 0
        self.updates = 0

    def reset(self, state: dict) -> None:
        self.state = {
            **state,
            "questions": list(state["questions"]),
            "polls": list(state["polls"]),
            "hands": list(state["hands"]),
            "speakers": list(state["speakers"]),
        }

    def apply(self, update: dict) -> None:
        self.updates += 1
        s = self.state
        if s is None or update["version"] <= s["version"]:
            return  # not joined yet, or already part of the state
        base = update["version"] - len(update["changes"])
        if base > s["version"]:
            self.gaps += 1  # a real client re-joins here
            return
        for offset, change in enumerate(update["changes"], start=1):
            if base + offset > s["version"]:
                self._change(s, change)
                s["version"] = base + offset

    @staticmethod
    def _change(s: dict, c: dict) -> None:
        kind = c["kind"]
        if kind == "presence":
            s["present"], s["audience_count"] = c["present"], c["audience_count"]
            if not c["online"] and c["user_id"] in s["hands"]:
                s["hands"].remove(c["user_id"])
        elif kind == "hand":
            if c["raised"] and c["user_id"] not in s["hands"]:
                s["hands"].append(c["user_id"])
            elif not c["raised"] and c["user_id"] in s["hands"]:
                s["hands"].remove(c["user_id"])
        elif kind == "role":
            speakers = set(s["speakers"]) - {c["user_id"]}
            if c["role"] == "speaker":
                speakers.add(c["user_id"])
                if c["user_id"] in s["hands"]:
                    s["hands"].remove(c["user_id"])
            s["speakers"], s["audience_count"] = sorted(speakers), c["audience_count"]
        elif kind == "question":
            q = c["question"]
            rest = [x for x in s["questions"] if x["question_id"] != q["question_id"]]
            s["questions"] = sorted(rest + [q], key=lambda x: (-x["votes"], x["question_id"]))
        elif kind == "poll":
            p = c["poll"]
            rest = [x for x in s["polls"] if x["poll_id"] != p["poll_id"]]
            s["polls"] = sorted(rest + [p], key=lambda x: x["poll_id"])
        elif kind == "pin":
            s["pinned"] = c["pinned"]
        elif kind == "status":
            s["status"] = c["status"]
        elif kind == "pending":
            s["pending_count"] = c["count"]
        elif kind == "moderation":
            s["moderated"] = c["moderated"]
        else:
            raise AssertionError(f"unknown live change {kind!r}")


class LogRecords(logging.Handler):
    """Every WARNING-or-worse record logged while it is attached (tests assert no traceback, one line)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
