"""Live-session actions: start and end (REST, host only) and the ``live:*`` events (Socket.IO).

A live session lives in the shard of the event's live room (``actors/live_session.py`` hosted by
``RoomShard``), so its changes are ordered like the room's messages; a joiner gets the whole state, then
every change reaches the sockets in the session as a ``live:update`` delta, and the ended session's summary
is stored on the event. Who may join or act is the live room's rule (``Chat.room_access``, then the shard's
member and timeout checks), so a ban or a departure ends it at once.
"""
from __future__ import annotations

import ray

from storage.models import Event, EventStatus, Room

from .chat import UNAVAILABLE, Chat
from .errors import ApiError


class Live:
    def __init__(self, chat: Chat) -> None:
        self.chat = chat
        self.room_of: dict[int, int] = {}  # event_id -> live room id

    async def _event(self, event_id: int) -> Event:
        event = await Event.get_or_none(id=event_id)
        if event is None:
            raise ApiError("not_found", f"no such event: {event_id}")
        return event

    async def start(self, event_id: int, user_id: int) -> dict:
        event = await self._event(event_id)
        if event.host_id != user_id:
            raise ApiError("forbidden", "only the event's host can start its live session")
        if event.status == EventStatus.ended:
            raise ApiError("conflict", "this event has ended")
        if event.room_id is None:
            room = await Room.create(club_id=event.club_id, name=f"live-{event.id}")
            event.room_id = room.id
        event.status = EventStatus.live
        await event.save(update_fields=["room_id", "status"])
        self.room_of[event_id] = event.room_id
        try:
            result = await self.chat.room_shard(event.room_id).live_start.remote(event_id, event.room_id, user_id)
        except ray.exceptions.RayError:
            raise ApiError("unavailable", "live sessions are unavailable; retry") from None
        await self.chat.activity(user_id, "live_hosted", event_id)
        return {"event_id": event_id, "room_id": event.room_id, "state": result["state"]}

    async def end(self, event_id: int, user_id: int) -> dict:
        event = await self._event(event_id)
        if event.host_id != user_id:
            raise ApiError("forbidden", "only the event's host can end its live session")
        if event.status != EventStatus.live or event.room_id is None:
            raise ApiError("conflict", "the event is not live")
        try:
            state = await self.chat.room_shard(event.room_id).live_state.remote(event_id)
            result = await self.chat.room_shard(event.room_id).live_act.remote(event_id, user_id, "end", {})
        except ray.exceptions.RayError:
            raise ApiError("unavailable", "live sessions are unavailable; retry") from None
        if not result.get("ok"):
            err = result["error"]
            raise ApiError(err["code"], err["message"])
        event.summary = result["summary"]
        event.status = EventStatus.ended
        await event.save(update_fields=["summary", "status"])
        attendees = set(state["present_users"]) if state and "present_users" in state else set()
        for uid in attendees - {user_id}:
            await self.chat.activity(uid, "live_attended", event_id)
        return {"event_id": event_id, "summary": event.summary}

    async def _room(self, event_id: int) -> int | None:
        room_id = self.room_of.get(event_id)
        if room_id is None:
            event = await Event.get_or_none(id=event_id)
            if event is None or event.room_id is None or event.status != EventStatus.live:
                return None
            room_id = self.room_of[event_id] = event.room_id
        return room_id

    async def _live_room(self, event_id: int, user_id: int) -> tuple[int | None, dict | None]:
        """The live room of an event the user may take part in, else the refusal (not live, or not theirs
        to see: ``not_found`` alike for a private club's outsider)."""
        room_id = await self._room(event_id)
        refusal = await self.chat.room_access(user_id, room_id) if room_id is not None else None
        if room_id is None or (refusal is not None and refusal["error"]["code"] == "not_found"):
            return None, {"ok": False, "error": {"code": "not_found", "message": f"event {event_id} is not live"}}
        return room_id, refusal

    async def join(self, event_id: int, user_id: int, sid: str) -> dict:
        room_id, refusal = await self._live_room(event_id, user_id)
        if refusal is not None:
            return refusal
        try:
            result = await self.chat.room_shard(room_id).live_join.remote(event_id, user_id,
                                                                         self.chat.socket_key(sid))
        except ray.exceptions.RayError:
            return UNAVAILABLE
        if result.get("ok"):
            # Attending counts once per person and event, however often their socket rejoins.
            await self.chat.signal(user_id, "event", event_id, "attend", interaction_id=f"attend-{event_id}-{user_id}")
        return result

    async def act(self, event_id: int, user_id: int, action: str, args: dict) -> dict:
        room_id, refusal = await self._live_room(event_id, user_id)
        if refusal is not None:
            return refusal
        try:
            return await self.chat.room_shard(room_id).live_act.remote(event_id, user_id, action, args)
        except ray.exceptions.RayError:
            return UNAVAILABLE

    async def leave(self, user_id: int, sid: str, event_ids: list[int]) -> None:
        for event_id in event_ids:
            room_id = self.room_of.get(event_id)
            if room_id is not None:
                try:
                    await self.chat.room_shard(room_id).live_leave.remote([(event_id, user_id,
                                                                             self.chat.socket_key(sid))])
                except ray.exceptions.RayError:
                    pass
