"""Socket.IO transport for chat: each event validates its payload and calls a ``Chat`` action.

Every client→server event is acknowledged with ``{ok: true, ...}`` or ``{ok: false, error}``.
"""
from __future__ import annotations

import asyncio
import logging
import time

import socketio
from pydantic import BaseModel, ValidationError

from actors.room import RoomError, validate_text

from .api import describe_validation_error
from .chat import Chat, error
from .delivery import RoomDelivery
from .schemas import (LiveAskIn, LiveHandIn, LiveJoinIn, LivePinIn, LivePollIn, LivePollRefIn, LivePromoteIn,
                      LiveQuestionIn, LiveVoteIn, MessageDeleteIn, MessageEditIn, MessageHistoryIn, MessageSendIn,
                      ReactionIn, ReadIn, RoomIn, RoomJoinIn)

log = logging.getLogger(__name__)


class Realtime:
    """The chat events of one gateway's Socket.IO server."""

    def __init__(self, sio: socketio.AsyncServer, delivery: RoomDelivery, metrics) -> None:
        self.sio = sio
        self.delivery = delivery
        self.metrics = metrics
        self.chat: Chat | None = None
        self.live = None  # gateway.live.Live, set once the backends are up
        self.in_live: dict[str, set[int]] = {}   # sid -> event ids
        self.users: dict[str, int] = {}          # sid -> user_id
        self.joined: dict[str, set[int]] = {}    # sid -> room ids
        delivery.on_kick = self.kick_local
        for event, model, method in (
            ("room:join", RoomJoinIn, self.room_join), ("room:leave", RoomIn, self.room_leave),
            ("message:send", MessageSendIn, self.message_send),
            ("message:history", MessageHistoryIn, self.message_history),
            ("message:edit", MessageEditIn, self.message_edit), ("message:delete", MessageDeleteIn, self.message_delete),
            ("reaction:add", ReactionIn, self.reaction_add), ("reaction:remove", ReactionIn, self.reaction_remove),
            ("typing", RoomIn, self.typing), ("read", ReadIn, self.read),
            ("live:join", LiveJoinIn, self.live_join), ("live:hand", LiveHandIn, self.live_action("hand")),
            ("live:promote", LivePromoteIn, self.live_action("promote")),
            ("live:ask", LiveAskIn, self.live_action("ask")), ("live:upvote", LiveQuestionIn, self.live_action("upvote")),
            ("live:answer", LiveQuestionIn, self.live_action("answer")),
            ("live:poll", LivePollIn, self.live_action("poll")), ("live:vote", LiveVoteIn, self.live_action("vote")),
            ("live:close_poll", LivePollRefIn, self.live_action("close_poll")),
            ("live:pin", LivePinIn, self.live_action("pin")),
        ):
            sio.on(event, self._handler(event, model, method))

    def _handler(self, event: str, model: type[BaseModel], method):
        async def handle(sid, data=None):
            user_id = self.users.get(sid)
            if user_id is None or self.chat is None:
                result = error("unauthorized", "not connected")
            elif not isinstance(data, dict):
                result = error("invalid", f"{event} takes a JSON object")
            else:
                try:
                    payload = model.model_validate(data)
                except ValidationError as exc:
                    result = error("invalid", describe_validation_error(exc))
                else:
                    try:
                        result = await method(sid, user_id, payload)
                    except RoomError as exc:
                        result = {"ok": False, "error": exc.as_dict()}
                    except Exception:
                        log.exception("socket event failed", extra={"event": event})
                        result = error("internal", "internal error")
            outcome = "ok" if result.get("ok") else result["error"]["code"]
            self.metrics.chat_ops.labels(event, outcome).inc()
            return result

        handle.__name__ = event.replace(":", "_")
        return handle

    async def kick_local(self, sid: str, room_ids: list[int], reason: str) -> None:
        """This gateway's socket leaves rooms it may no longer be in (banned, left the club)."""
        user_id = self.users.get(sid)
        left = [r for r in room_ids if r in self.joined.get(sid, ())]
        for room_id in left:
            self.joined[sid].discard(room_id)
            await self.sio.leave_room(sid, f"room:{room_id}")
            self.delivery.forget(sid, room_id)
            await self.sio.emit("room:removed", {"room_id": room_id, "reason": reason}, to=sid)
        if left and user_id is not None and self.chat is not None:
            await self.chat.leave(user_id, sid, left)

    # -- lifecycle (called from the connect/disconnect handlers) -------------------------------
    async def connected(self, sid: str, user_id: int) -> None:
        self.users[sid] = user_id
        self.joined[sid] = set()
        await self.sio.enter_room(sid, f"user:{user_id}")
        if self.chat is not None:
            try:
                await self.chat.connected(user_id, sid)
            except Exception as exc:  # presence is best effort; the socket still works
                log.warning("session connect failed: %s", exc)

    async def disconnected(self, sid: str) -> None:
        user_id = self.users.pop(sid, None)
        rooms = self.joined.pop(sid, set())
        live = self.in_live.pop(sid, set())
        self.delivery.forget(sid)
        if user_id is None or self.chat is None:
            return
        if live and self.live is not None:
            await self.live.leave(user_id, sid, sorted(live))
        if rooms:
            await self.chat.leave(user_id, sid, sorted(rooms))
        await self.chat.disconnected(user_id, sid)

    # -- events ----------------------------------------------------------------------------
    async def room_join(self, sid: str, user_id: int, p: RoomJoinIn) -> dict:
        # Hold live delivery to this socket until the join is answered: no loss, no duplicate.
        self.delivery.hold(sid, p.room_id)
        await self.sio.enter_room(sid, f"room:{p.room_id}")
        result = await self.chat.join(user_id, p.room_id, sid, p.since_seq, p.since_rev)
        if not result.get("ok"):
            if p.room_id not in self.joined.get(sid, ()):
                await self.sio.leave_room(sid, f"room:{p.room_id}")
                self.delivery.forget(sid, p.room_id)
            else:
                self.delivery.release(sid, p.room_id, 0)
            return result
        if sid not in self.users:  # disconnected while the shard answered
            return result
        self.joined[sid].add(p.room_id)
        await self.chat.signal(user_id, "room", p.room_id, "join")
        eio_sid = self.sio.manager.eio_sid_from_sid(sid, "/")
        # Released after this handler returns, i.e. after the ack is queued: held messages follow it.
        asyncio.get_running_loop().call_soon(self._release, sid, eio_sid, p.room_id, result["last_seq"])
        return result

    def _release(self, sid: str, eio_sid: str, room_id: int, floor: int) -> None:
        later = self.delivery.release(sid, room_id, floor)
        self.delivery.send_messages(sid, eio_sid, room_id, later)

    async def room_leave(self, sid: str, user_id: int, p: RoomIn) -> dict:
        if p.room_id in self.joined.get(sid, ()):
            self.joined[sid].discard(p.room_id)
            await self.sio.leave_room(sid, f"room:{p.room_id}")
            self.delivery.forget(sid, p.room_id)
            await self.chat.leave(user_id, sid, [p.room_id])
        return {"ok": True}

    async def message_send(self, sid: str, user_id: int, p: MessageSendIn) -> dict:
        started = time.perf_counter()
        validate_text(p.text)  # refused here, before any Ray call
        result = await self.chat.send(user_id, p.room_id, p.client_id, p.text, p.reply_to_seq)
        if result.get("ok"):
            self.metrics.ack_latency.observe(time.perf_counter() - started)
        return result

    async def message_history(self, sid: str, user_id: int, p: MessageHistoryIn) -> dict:
        return await self.chat.history(user_id, p.room_id, p.before_seq, None, p.limit)

    async def message_edit(self, sid: str, user_id: int, p: MessageEditIn) -> dict:
        validate_text(p.text)
        return await self.chat.edit(user_id, p.room_id, p.seq, p.text)

    async def message_delete(self, sid: str, user_id: int, p: MessageDeleteIn) -> dict:
        return await self.chat.delete(user_id, p.room_id, p.seq)

    async def reaction_add(self, sid: str, user_id: int, p: ReactionIn) -> dict:
        return await self.chat.react(user_id, p.room_id, p.seq, p.emoji, add=True)

    async def reaction_remove(self, sid: str, user_id: int, p: ReactionIn) -> dict:
        return await self.chat.react(user_id, p.room_id, p.seq, p.emoji, add=False)

    async def typing(self, sid: str, user_id: int, p: RoomIn) -> dict:
        if p.room_id not in self.joined.get(sid, ()):
            return error("forbidden", "join the room first")
        if self.chat.typing_allowed(user_id, p.room_id):
            await self.sio.emit("typing", {"room_id": p.room_id, "user_id": user_id}, room=f"room:{p.room_id}",
                                skip_sid=sid)
        return {"ok": True}

    async def live_join(self, sid: str, user_id: int, p: LiveJoinIn) -> dict:
        await self.sio.enter_room(sid, f"live:{p.event_id}")
        result = await self.live.join(p.event_id, user_id, sid)
        if result.get("ok"):
            self.in_live.setdefault(sid, set()).add(p.event_id)
        elif p.event_id not in self.in_live.get(sid, ()):
            await self.sio.leave_room(sid, f"live:{p.event_id}")
        return result

    def live_action(self, action: str):
        async def act(sid: str, user_id: int, p) -> dict:
            args = p.model_dump(exclude={"event_id"})
            return await self.live.act(p.event_id, user_id, action, args)

        return act

    async def read(self, sid: str, user_id: int, p: ReadIn) -> dict:
        if p.room_id not in self.joined.get(sid, ()):
            return error("forbidden", "join the room first")
        return await self.chat.read(user_id, p.room_id, p.seq, sid)
