"""``LiveHost``: the live sessions of a room shard, hosted with the rooms they belong to.

Membership and timeouts come from the session's room, the same rules as sending a message, so a ban or
a leave is seen at once. Changes within ``LIVE_COALESCE_S`` go out together as one ``live:update`` (a
join storm is one frame per listener, not one per joiner). Answers are success payloads (plain dicts)
or ``DomainError``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from .domain.errors import DomainError
from .domain.live_session import LiveSession
from .domain.room import Member, Room
from .fanout import Fanout
from .hosting import TaskSet

log = logging.getLogger(__name__)

LIVE_COALESCE_S = 0.005

# action -> what it does to the session; a non-None answer is returned under the name in RESULT_NAMES.
_ACTIONS: dict[str, Callable[[LiveSession, int, dict], Any]] = {
    "hand": lambda s, user, a: s.hand(user, a["raised"]),
    "promote": lambda s, user, a: s.promote(user, a["user_id"], a["role"]),
    "ask": lambda s, user, a: s.ask(user, a["text"]),
    "upvote": lambda s, user, a: s.upvote(user, a["question_id"]),
    "answer": lambda s, user, a: s.answer(user, a["question_id"]),
    "poll": lambda s, user, a: s.poll(user, a["question"], a["options"]),
    "vote": lambda s, user, a: s.vote(user, a["poll_id"], a["option"]),
    "close_poll": lambda s, user, a: s.close_poll(user, a["poll_id"]),
    "pin": lambda s, user, a: s.pin(user, a["text"]),
    "end": lambda s, user, a: s.end(user),
}
RESULT_NAMES = {"ask": "question_id", "poll": "poll_id", "end": "summary"}


def not_live(event_id: int) -> DomainError:
    return DomainError("not_found", f"event {event_id} is not live")


class LiveHost:
    def __init__(
        self,
        room: Callable[[int], Awaitable[Room]],
        member: Callable[[int, int], Awaitable[Member]],
        fanout: Fanout,
        counters: Counter[str],
        tasks: TaskSet,
    ) -> None:
        self._room = room  # activates the room of a session
        self._member = member  # (room_id, user_id) -> the member, or DomainError
        self.fanout = fanout
        self.counters = counters
        self.tasks = tasks
        self.sessions: dict[int, LiveSession] = {}  # event_id -> its live session
        self._flush_due: set[int] = set()
        # One publish at a time, changes taken inside it: two flushes in flight on two Redis connections could
        # overtake each other, and a listener that gets version N+k before N drops both as a gap.
        self._publishing = asyncio.Lock()

    async def start(self, event_id: int, room_id: int, host_id: int) -> dict | DomainError:
        session = self.sessions.get(event_id)
        if session is None or session.status != "live":
            try:
                room = await self._room(room_id)
            except DomainError as err:
                return err
            session = self.sessions[event_id] = LiveSession(event_id, room_id, host_id, club_id=room.club_id)
        return {"state": session.state()}

    async def join(self, event_id: int, user_id: int, socket_key: str) -> dict | DomainError:
        session = self.sessions.get(event_id)
        if session is None:
            return not_live(event_id)
        try:
            await self._member(session.room_id, user_id)
            session.join(user_id, socket_key)
        except DomainError as err:
            return err
        self._changed(session)
        return {"state": session.state()}

    def leave(self, items: list[tuple[int, int, str]]) -> None:
        for event_id, user_id, socket_key in items:
            session = self.sessions.get(event_id)
            if session is not None and session.leave(user_id, socket_key) and session.status == "live":
                self._changed(session)

    async def act(self, event_id: int, user_id: int, action: str, args: dict) -> dict | DomainError:
        """One change to a live session; everyone in it gets the change as ``live:update``."""
        session = self.sessions.get(event_id)
        if session is None:
            return not_live(event_id)
        try:
            if action != "end":
                await self._may_act(session, user_id)
            do = _ACTIONS.get(action)
            if do is None:
                return DomainError("invalid", f"unknown live action {action}")
            answer = do(session, user_id, args)
        except DomainError as err:
            return err
        if session.status == "ended":
            self.sessions.pop(event_id, None)
            await self._flush(session)  # the last changes go out before the REST answer
        else:
            self._changed(session)
        return {RESULT_NAMES[action]: answer} if action in RESULT_NAMES else {}

    async def _may_act(self, session: LiveSession, user_id: int) -> None:
        member = await self._member(session.room_id, user_id)
        if member.muted_until and member.muted_until > time.time():
            raise DomainError("forbidden", "you are timed out in this club")
        if user_id not in session.present:
            raise DomainError("forbidden", "join the live session first")

    def state(self, event_id: int) -> dict | None:
        session = self.sessions.get(event_id)
        if session is None:
            return None
        return {**session.state(), "present_users": sorted(session.attendees)}

    def remove(self, club_id: int, user_id: int) -> None:
        """A user left or was banned from a club: out of its live sessions at once, whatever their sockets do."""
        for session in self.sessions.values():
            if session.club_id == club_id and session.status == "live" and session.remove(user_id):
                self._changed(session)

    def _changed(self, session: LiveSession) -> None:
        if session.event_id in self._flush_due:
            return
        self._flush_due.add(session.event_id)

        def flush() -> None:
            self._flush_due.discard(session.event_id)
            self.tasks.spawn(self._flush(session))

        asyncio.get_running_loop().call_later(LIVE_COALESCE_S, flush)

    async def _flush(self, session: LiveSession) -> None:
        async with self._publishing:
            version, changes = session.take_changes()
            if not changes:
                return
            update = {"event_id": session.event_id, "version": version, "changes": changes}
            try:
                await self.fanout.live_update(session.event_id, update)
            except Exception as exc:  # listeners see the gap in version and re-join for the whole state
                self.counters["live_publish_errors"] += 1
                log.warning("live update publish failed: %s", exc)
