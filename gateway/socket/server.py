"""Socket.IO transport for chat and live sessions: each event validates its payload and calls an action.

Every client→server event is acknowledged with ``{ok: true, ...}`` or ``{ok: false, error}``, built here and
nowhere else: an action answers its success body or raises ``DomainError``, which becomes the refusal ack.

A socket lives no longer than the login behind it: it sits in the Socket.IO room ``family:<login>``, so a
logout or a reused refresh token (``RefreshTokens.revoke_family``) reaches it on every gateway through the
Redis manager; and it is closed when its access token expires unless the client sent ``auth:refresh`` with a
fresh one. Every few seconds the gateway also asks Redis which of its sockets' logins are revoked, so a
revocation published while the pubsub link was down still closes them.
"""

from __future__ import annotations

import asyncio
import logging
import time

import socketio
from pydantic import BaseModel, ValidationError

from actors.domain.errors import DomainError
from gateway.actions.accounts import Accounts
from gateway.actions.chat import Chat
from gateway.actions.interactions import Interactions
from gateway.actions.live import Live
from gateway.core.broadcast import REVOKE_EVENT
from gateway.core.ratelimit import UserBuckets
from gateway.core.tokens import AccessClaims, TokenError
from gateway.schemas.accounts import AuthRefreshIn
from gateway.schemas.chat import (
    MessageDeleteIn,
    MessageEditIn,
    MessageHistoryIn,
    MessageSendIn,
    ReactionIn,
    ReadIn,
    RoomIn,
    RoomJoinIn,
)
from gateway.schemas.common import describe_validation_error
from gateway.schemas.live import (
    LiveAskIn,
    LiveHandIn,
    LiveJoinIn,
    LiveModerateIn,
    LivePinIn,
    LivePollIn,
    LivePollRefIn,
    LivePromoteIn,
    LiveQuestionIn,
    LiveVoteIn,
)

from .delivery import RoomDelivery

log = logging.getLogger(__name__)

REVOCATION_CHECK_S = 5.0
CLOSE_TIMEOUT_S = 5.0


def ack(result: dict | None = None) -> dict:
    """The ack of an event that succeeded: ``{ok: true}`` and the action's answer."""
    return {"ok": True, **(result or {})}


def refusal(exc: DomainError) -> dict:
    """The ack of a refused event: ``{ok: false, error: {code, message}}``."""
    return {"ok": False, "error": exc.as_dict()}


class Realtime:
    """The chat and live-session events of one gateway's Socket.IO server."""

    def __init__(self, sio: socketio.AsyncServer, delivery: RoomDelivery, metrics, settings) -> None:
        self.sio = sio
        self.delivery = delivery
        self.metrics = metrics
        # The actions, set once the backends are up.
        self.chat: Chat | None = None
        self.live: Live | None = None
        self.accounts: Accounts | None = None
        self.interactions: Interactions | None = None
        self.actions = UserBuckets(settings.user_action_rate, settings.user_action_burst)
        self.joins = UserBuckets(settings.user_join_rate, settings.user_join_burst)
        self.addresses = UserBuckets(settings.ip_event_rate, settings.ip_event_burst)
        self.address_of: dict[str, str] = {}  # sid -> client address
        self.in_live: dict[str, set[int]] = {}  # sid -> event ids
        self.users: dict[str, int] = {}  # sid -> user_id
        self.joined: dict[str, set[int]] = {}  # sid -> room ids
        self.families: dict[str, str] = {}  # sid -> login family of its token
        self._expiry: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task] = set()
        self._checker: asyncio.Task | None = None
        delivery.on_kick = self.kick_local
        delivery.on_revoke = self.revoke_local
        limited, joins = self._limited(self.actions, "actions"), self._limited(self.joins, "joins")
        seen = self._room_visible
        for event, model, method in (
            ("auth:refresh", AuthRefreshIn, self.auth_refresh),
            ("room:join", RoomJoinIn, joins(self.room_join)),
            ("room:leave", RoomIn, self.room_leave),
            ("message:send", MessageSendIn, seen(self.message_send)),
            ("message:history", MessageHistoryIn, seen(self.message_history)),
            ("message:edit", MessageEditIn, limited(seen(self.message_edit))),
            ("message:delete", MessageDeleteIn, limited(seen(self.message_delete))),
            ("reaction:add", ReactionIn, limited(seen(self.reaction_add))),
            ("reaction:remove", ReactionIn, limited(seen(self.reaction_remove))),
            ("typing", RoomIn, seen(self.typing)),
            ("read", ReadIn, seen(self.read)),
            ("live:join", LiveJoinIn, joins(self.live_join)),
            ("live:hand", LiveHandIn, limited(self.live_action("hand"))),
            ("live:promote", LivePromoteIn, limited(self.live_action("promote"))),
            ("live:ask", LiveAskIn, limited(self.live_action("ask"))),
            ("live:upvote", LiveQuestionIn, limited(self.live_action("upvote"))),
            ("live:answer", LiveQuestionIn, limited(self.live_action("answer"))),
            ("live:poll", LivePollIn, limited(self.live_action("poll"))),
            ("live:vote", LiveVoteIn, limited(self.live_action("vote"))),
            ("live:close_poll", LivePollRefIn, limited(self.live_action("close_poll"))),
            ("live:pin", LivePinIn, limited(self.live_action("pin"))),
            ("live:moderate", LiveModerateIn, limited(self.live_action("moderate"))),
            ("live:approve", LiveQuestionIn, limited(self.live_action("approve"))),
            ("live:dismiss", LiveQuestionIn, limited(self.live_action("dismiss"))),
            ("live:pending", LiveJoinIn, limited(self.live_action("pending"))),
        ):
            sio.on(event, self._handler(event, model, method))

    def _handler(self, event: str, model: type[BaseModel], method):
        async def handle(sid, data=None):
            try:
                result = ack(await self._dispatch(event, model, method, sid, data))
            except DomainError as exc:
                result = refusal(exc)
            except Exception:
                log.exception("socket event failed", extra={"event": event})
                result = refusal(DomainError("internal", "internal error"))
            outcome = "ok" if result["ok"] else result["error"]["code"]
            self.metrics.chat_ops.labels(event, outcome).inc()
            return result

        handle.__name__ = event.replace(":", "_")
        return handle

    async def _dispatch(self, event: str, model: type[BaseModel], method, sid: str, data) -> dict | None:
        user_id = self.users.get(sid)
        if user_id is None or self.chat is None:
            raise DomainError("unauthorized", "not connected")
        if (wait := self.addresses.wait(self.address_of.get(sid, ""))) > 0:
            raise DomainError(
                "rate_limited",
                f"too many events from your address: wait {max(wait, 0.1):.1f}s",
                retry_after=wait,
            )
        if not isinstance(data, dict):
            raise DomainError("invalid", f"{event} takes a JSON object")
        try:
            payload = model.model_validate(data)
        except ValidationError as exc:
            raise DomainError("invalid", describe_validation_error(exc)) from None
        return await method(sid, user_id, payload)

    @staticmethod
    def _limited(buckets: UserBuckets, what: str):
        """Wrap an event so each call takes a token of the user's bucket (edits, deletes, reactions and live
        actions share one; joins have their own; sends are limited by the chat action itself)."""

        def wrap(method):
            async def limited(sid: str, user_id: int, payload) -> dict | None:
                buckets.take(user_id, what)
                return await method(sid, user_id, payload)

            return limited

        return wrap

    def _room_visible(self, method):
        """A room event from a socket that has not joined the room is first checked against the club's
        visibility, so a private club's outsider gets ``not_found`` (as over REST) rather than a refusal
        that confirms the room exists. Sockets in the room (the hot path) skip the check: the shard still
        checks membership on every operation."""

        async def visible(sid: str, user_id: int, payload) -> dict | None:
            if payload.room_id not in self.joined.get(sid, ()):
                await self.chat.room_access(user_id, payload.room_id)
            return await method(sid, user_id, payload)

        return visible

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- removal from a club, revocation and expiry ------------------------------------------
    async def kick_local(self, sid: str, room_ids: list[int], reason: str) -> None:
        """This gateway's socket leaves the chat rooms and live sessions of a club it may no longer see."""
        user_id = self.users.get(sid)
        gone = set(room_ids)
        left = [r for r in room_ids if r in self.joined.get(sid, ())]
        for room_id in left:
            self.joined[sid].discard(room_id)
            await self.sio.leave_room(sid, f"room:{room_id}")
            self.delivery.forget(sid, room_id)
            await self.sio.emit(
                "room:removed", {"room_id": room_id, "reason": reason}, to=sid, ignore_queue=True
            )
        live_left = [
            e for e in self.in_live.get(sid, ()) if self.live is not None and self.live.room_of.get(e) in gone
        ]
        for event_id in live_left:
            self.in_live[sid].discard(event_id)
            await self.sio.leave_room(sid, f"live:{event_id}")
            await self.sio.emit(
                "live:removed", {"event_id": event_id, "reason": reason}, to=sid, ignore_queue=True
            )
        if user_id is not None and self.chat is not None:
            if left:
                await self.chat.leave(user_id, sid, left)
            if live_left:
                await self.live.leave(user_id, sid, live_left)

    async def revoke_family(self, family: str, reason: str) -> None:
        """Close every socket of a login on every gateway (published through the Redis manager)."""
        await self.sio.emit(REVOKE_EVENT, {"family": family, "reason": reason}, room=f"family:{family}")

    async def revoke_local(self, sid: str, reason: str) -> None:
        messages = {
            "logout": "you logged out",
            "revoked": "this login was revoked; log in again",
            "expired": "your access token expired; refresh it and reconnect",
        }
        if sid not in self.users:
            return
        await self.sio.emit(
            "session:revoked",
            {"reason": reason, "code": "unauthorized", "message": messages.get(reason, "session ended")},
            to=sid,
            ignore_queue=True,
        )
        eio_sid = self.sio.manager.eio_sid_from_sid(sid, "/")
        try:
            # Waits until what is queued (session:revoked first) is sent; a client that stopped reading
            # would make it wait for ever, so past a few seconds the connection is cut.
            await asyncio.wait_for(self.sio.disconnect(sid, ignore_queue=True), CLOSE_TIMEOUT_S)
        except TimeoutError:
            self.delivery.abort(eio_sid)

    def _schedule_expiry(self, sid: str, expires_at: int) -> None:
        old = self._expiry.pop(sid, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        delay = max(0.0, expires_at - time.time())
        self._expiry[sid] = loop.call_later(delay, lambda: self._spawn(self.revoke_local(sid, "expired")))

    async def _check_revocations(self) -> None:
        """The safety net under the pubsub path: revoked logins found by asking Redis directly."""
        while True:
            await asyncio.sleep(REVOCATION_CHECK_S)
            if self.accounts is None or not self.families:
                continue
            try:
                revoked = await self.accounts.refresh_tokens.revoked_among(
                    sorted(set(self.families.values()))
                )
            except Exception as exc:
                log.warning("revocation check failed: %s", exc)
                continue
            for sid, family in list(self.families.items()):
                if family in revoked:
                    await self.revoke_local(sid, "revoked")

    def start(self) -> None:
        # The gateway's id is known once the actor client exists: the shards publish its rooms' batches
        # on the channel named after it, and the listener starts with the first socket, after this.
        self.delivery.listen_as(self.chat.actors.gateway_id)
        self.delivery.blocks = self.chat.blocks
        self._checker = asyncio.create_task(self._check_revocations())

    async def stop(self) -> None:
        if self._checker is not None:
            self._checker.cancel()
        for handle in self._expiry.values():
            handle.cancel()
        self._expiry.clear()

    # -- lifecycle (called from the connect/disconnect handlers) -------------------------------
    async def connected(self, sid: str, claims: AccessClaims, address: str) -> None:
        user_id = claims.user_id
        self.users[sid] = user_id
        self.address_of[sid] = address
        self.joined[sid] = set()
        self.families[sid] = claims.family
        await self.sio.enter_room(sid, f"user:{user_id}")
        await self.sio.enter_room(sid, f"family:{claims.family}")
        self._schedule_expiry(sid, claims.expires_at)
        if self.chat is not None:
            try:
                await self.chat.connected(user_id, sid)
            except Exception as exc:  # presence is best effort; the socket still works
                log.warning("session connect failed: %s", exc)
            try:
                await self.chat.blocks.connected(user_id, sid)
            except Exception as exc:  # the set stays empty until the next blocks:changed
                log.warning("block set not loaded: %s", exc)

    async def disconnected(self, sid: str) -> None:
        user_id = self.users.pop(sid, None)
        rooms = self.joined.pop(sid, set())
        live = self.in_live.pop(sid, set())
        self.families.pop(sid, None)
        self.address_of.pop(sid, None)
        handle = self._expiry.pop(sid, None)
        if handle is not None:
            handle.cancel()
        self.delivery.forget(sid)
        if user_id is None or self.chat is None:
            return
        self.chat.blocks.disconnected(sid)
        if live and self.live is not None:
            await self.live.leave(user_id, sid, sorted(live))
        if rooms:
            await self.chat.leave(user_id, sid, sorted(rooms))
        await self.chat.disconnected(user_id, sid)

    # -- events ----------------------------------------------------------------------------
    async def auth_refresh(self, sid: str, user_id: int, p: AuthRefreshIn) -> dict:
        """A fresh access token of the same user extends the socket's life to its expiry."""
        try:
            claims = await self.accounts.authenticate(p.token)
        except TokenError as exc:
            raise DomainError("unauthorized", str(exc)) from None
        if claims.user_id != user_id:
            raise DomainError("unauthorized", "that token belongs to another user")
        old = self.families.get(sid)
        if old != claims.family:
            if old is not None:
                await self.sio.leave_room(sid, f"family:{old}")
            self.families[sid] = claims.family
            await self.sio.enter_room(sid, f"family:{claims.family}")
        self._schedule_expiry(sid, claims.expires_at)
        return {"expires_at": claims.expires_at}

    async def room_join(self, sid: str, user_id: int, p: RoomJoinIn) -> dict:
        # Nobody enters a room's broadcasts (presence, typing, edits) before the membership check.
        await self.chat.room_access(user_id, p.room_id)
        # Hold live delivery to this socket until the join is answered: no loss, no duplicate.
        self.delivery.hold(sid, p.room_id)
        await self.sio.enter_room(sid, f"room:{p.room_id}")
        try:
            result = await self.chat.join(user_id, p.room_id, sid, p.since_seq, p.since_rev)
        except DomainError:
            if p.room_id not in self.joined.get(sid, ()):
                await self.sio.leave_room(sid, f"room:{p.room_id}")
                self.delivery.forget(sid, p.room_id)
            else:
                self.delivery.release(sid, p.room_id, 0)
            raise
        if sid not in self.users:  # disconnected while the shard answered: forget it there too
            await self.chat.leave(user_id, sid, [p.room_id])
            return result
        self.joined[sid].add(p.room_id)
        await self.interactions.signal(user_id, "room", p.room_id, "join")
        eio_sid = self.sio.manager.eio_sid_from_sid(sid, "/")
        # Released after this handler returns, i.e. after the ack is queued: held messages follow it.
        asyncio.get_running_loop().call_soon(self._release, sid, eio_sid, p.room_id, result["last_seq"])
        return result

    def _release(self, sid: str, eio_sid: str, room_id: int, floor: int) -> None:
        later = self.delivery.release(sid, room_id, floor)
        self.delivery.send_messages(sid, eio_sid, room_id, later)

    async def room_leave(self, sid: str, user_id: int, p: RoomIn) -> None:
        if p.room_id in self.joined.get(sid, ()):
            self.joined[sid].discard(p.room_id)
            await self.sio.leave_room(sid, f"room:{p.room_id}")
            self.delivery.forget(sid, p.room_id)
            await self.chat.leave(user_id, sid, [p.room_id])

    async def message_send(self, sid: str, user_id: int, p: MessageSendIn) -> dict:
        started = time.perf_counter()
        result = await self.chat.send(
            user_id, p.room_id, p.client_id, p.text, p.reply_to_seq, p.thread_root_seq, p.attachments
        )
        self.metrics.ack_latency.observe(time.perf_counter() - started)
        return result

    async def message_history(self, sid: str, user_id: int, p: MessageHistoryIn) -> dict:
        return await self.chat.history(user_id, p.room_id, p.before_seq, None, p.limit)

    async def message_edit(self, sid: str, user_id: int, p: MessageEditIn) -> dict:
        return await self.chat.edit(user_id, p.room_id, p.seq, p.text)

    async def message_delete(self, sid: str, user_id: int, p: MessageDeleteIn) -> dict:
        return await self.chat.delete(user_id, p.room_id, p.seq)

    async def reaction_add(self, sid: str, user_id: int, p: ReactionIn) -> dict:
        return await self.chat.react(user_id, p.room_id, p.seq, p.emoji, add=True)

    async def reaction_remove(self, sid: str, user_id: int, p: ReactionIn) -> dict:
        return await self.chat.react(user_id, p.room_id, p.seq, p.emoji, add=False)

    async def typing(self, sid: str, user_id: int, p: RoomIn) -> None:
        if p.room_id not in self.joined.get(sid, ()):
            raise DomainError("forbidden", "join the room first")
        if self.chat.typing_allowed(user_id, p.room_id):
            await self.sio.emit(
                "typing", {"room_id": p.room_id, "user_id": user_id}, room=f"room:{p.room_id}", skip_sid=sid
            )

    async def live_join(self, sid: str, user_id: int, p: LiveJoinIn) -> dict:
        # The shard checks membership first; the socket hears the session's updates only after that.
        # An update published between the two shows the client a gap in `version`: it re-joins.
        result = await self.live.join(p.event_id, user_id, sid)
        if sid not in self.users:  # disconnected while the shard answered: forget it there too
            await self.live.leave(user_id, sid, [p.event_id])
            return result
        await self.sio.enter_room(sid, f"live:{p.event_id}")
        self.in_live.setdefault(sid, set()).add(p.event_id)
        return result

    def live_action(self, action: str):
        async def act(sid: str, user_id: int, p) -> dict:
            args = p.model_dump(exclude={"event_id"})
            return await self.live.act(p.event_id, user_id, action, args)

        return act

    async def read(self, sid: str, user_id: int, p: ReadIn) -> dict:
        if p.room_id not in self.joined.get(sid, ()):
            raise DomainError("forbidden", "join the room first")
        return await self.chat.read(user_id, p.room_id, p.seq, sid)
