"""Live-session actions: start and end (REST, host only) and the ``live:*`` events (Socket.IO).

A live session lives in the shard of the event's live room (``actors/domain/live_session.py`` hosted by
the room shard), so its changes are ordered like the room's messages; a joiner gets the whole state, then
every change reaches the sockets in the session as a ``live:update`` delta, and the ended session's summary
is stored on the event. Who may join or act is the live room's rule (``Chat.room_access``, then the shard's
member and timeout checks), so a ban or a departure ends it at once.

An anonymous question hides its author from every view of the session, the host's included; the real author
goes into the club's audit log (``Clubs.audit``), where the club's moderators can still hold it to account.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from actors.client import LIVE_UNAVAILABLE, ActorClient
from actors.domain.errors import DomainError
from actors.notifier import live_notice
from storage import keys
from storage.janus import JanusKeys
from storage.models import Event, EventStatus, Room, User

from .achievements import record_activity
from .chat import Chat
from .interactions import Interactions
from .lookup import visible_event

log = logging.getLogger(__name__)

ANONYMOUS_QUESTION = "live_anonymous_question"  # the audit log's action for one
NO_MEDIA_SERVER = "this server has no media server (Janus) configured: live sessions run without audio"


class Live:
    def __init__(
        self,
        actors: ActorClient,
        chat: Chat,
        interactions: Interactions,
        redis,
        audit: Callable[..., Awaitable[None]] | None = None,
        audio_keys: JanusKeys | None = None,
    ) -> None:
        """``audit``: ``Clubs.audit`` (club_id, actor_id, action, target_user_id, reason, details);
        ``audio_keys``: the media server's, when live sessions have audio."""
        self.actors = actors
        self.audio_keys = audio_keys
        self.chat = chat
        self.interactions = interactions
        self.redis = redis
        self.audit = audit
        self.room_of: dict[int, int] = {}  # event_id -> live room id

    async def _hosted_event(self, event_id: int, user_id: int) -> Event:
        """The event, if the caller may see it (an outsider gets ``not_found``, not "only the host")."""
        event, _, _ = await visible_event(event_id, user_id)
        return event

    async def start(self, event_id: int, user_id: int) -> dict:
        event = await self._hosted_event(event_id, user_id)
        if event.host_id != user_id:
            raise DomainError("forbidden", "only the event's host can start its live session")
        if event.status == EventStatus.ended:
            raise DomainError("conflict", "this event has ended")
        if event.room_id is None:
            room = await Room.create(club_id=event.club_id, name=f"live-{event.id}")
            event.room_id = room.id
        event.status = EventStatus.live
        await event.save(update_fields=["room_id", "status"])
        self.room_of[event_id] = event.room_id
        result = await self.actors.live_start(event_id, event.room_id, user_id)
        await record_activity(self.redis, user_id, "live_hosted", event_id)
        # Everyone who RSVPed hears that it is live (the notifier resolves them; once per event).
        host = await User.get(id=user_id)
        notice = live_notice(event_id, user_id, host.display_name, event.title)
        await self.redis.xadd(keys.NOTIFY_STREAM, notice, maxlen=keys.NOTIFY_MAXLEN, approximate=True)
        return {"event_id": event_id, "room_id": event.room_id, "state": result["state"]}

    async def end(self, event_id: int, user_id: int) -> dict:
        event = await self._hosted_event(event_id, user_id)
        if event.host_id != user_id:
            raise DomainError("forbidden", "only the event's host can end its live session")
        if event.status != EventStatus.live or event.room_id is None:
            raise DomainError("conflict", "the event is not live")
        state = await self.actors.live_state(event.room_id, event_id)
        result = await self.actors.live_act(event.room_id, event_id, user_id, "end", {}, LIVE_UNAVAILABLE)
        event.summary = result["summary"]
        event.status = EventStatus.ended
        await event.save(update_fields=["summary", "status"])
        attendees = set(state["present_users"]) if state and "present_users" in state else set()
        for uid in attendees - {user_id}:
            await record_activity(self.redis, uid, "live_attended", event_id)
        return {"event_id": event_id, "summary": event.summary}

    async def _room(self, event_id: int) -> int | None:
        room_id = self.room_of.get(event_id)
        if room_id is None:
            event = await Event.get_or_none(id=event_id)
            if event is None or event.room_id is None or event.status != EventStatus.live:
                return None
            room_id = self.room_of[event_id] = event.room_id
        return room_id

    async def _live_room(self, event_id: int, user_id: int) -> int:
        """The live room of an event the user may take part in, else the refusal (not live, or not theirs
        to see: ``not_found`` alike for a private club's outsider)."""
        room_id = await self._room(event_id)
        if room_id is not None:
            try:
                await self.chat.room_access(user_id, room_id)
                return room_id
            except DomainError as exc:
                if exc.code != "not_found":
                    raise
        raise DomainError("not_found", f"event {event_id} is not live")

    async def join(self, event_id: int, user_id: int, sid: str) -> dict:
        room_id = await self._live_room(event_id, user_id)
        result = await self.actors.live_join(room_id, event_id, user_id, sid)
        # Attending counts once per person and event, however often their socket rejoins.
        await self.interactions.signal(
            user_id, "event", event_id, "attend", interaction_id=f"attend-{event_id}-{user_id}"
        )
        return {
            "state": result["state"],
            "pending": result.get("pending", []),
            **self.audio(event_id, user_id, result),
        }

    def audio(self, event_id: int, user_id: int, joined: dict) -> dict:
        """How this member reaches the session's audio: the stage (AudioBridge room ``room``, with their own
        ``stage_token``) when they may speak, else the listening stream (Streaming mountpoint ``stream``
        with this epoch's ``pin``); ``token`` is for Janus's own token auth. The shard applied the same
        stage on Janus before this join was answered (``actors.live_host``). A client re-joins when its
        role changes or Janus hangs up on it, for fresh credentials."""
        keys = self.audio_keys
        if keys is None:
            return {"audio": None, "audio_unavailable": NO_MEDIA_SERVER}
        state = joined["state"]
        can_speak = user_id == state["host_id"] or user_id in state["speakers"]
        audio = {
            "janus_url": keys.url,
            "room": event_id,
            "token": keys.core_token(),
            "can_speak": can_speak,
            "participant_id": user_id,
            "stream": event_id,
            "pin": keys.listen_pin(event_id, joined.get("audio_epoch", 0)),
        }
        if can_speak:
            audio["stage_token"] = keys.stage_token(event_id, user_id)
        return {"audio": audio}

    async def act(self, event_id: int, user_id: int, action: str, args: dict) -> dict:
        room_id = await self._live_room(event_id, user_id)
        result = await self.actors.live_act(room_id, event_id, user_id, action, args)
        if action == "ask" and args.get("anonymous"):
            await self._audit_anonymous(room_id, event_id, user_id, result["question_id"], args["text"])
        return result

    async def _audit_anonymous(
        self, room_id: int, event_id: int, user_id: int, question_id: int, text: str
    ) -> None:
        """After the question is stored (its id is known only then). A failed write does not refuse the
        question, which is stored and may be broadcast already; its author stays in the session's journal."""
        if self.audit is None:
            return
        try:
            club_id = (await Room.get(id=room_id)).club_id
            details = {"event_id": event_id, "question_id": question_id, "text": text.strip()}
            await self.audit(club_id, user_id, ANONYMOUS_QUESTION, None, details=details)
        except Exception:
            log.exception("anonymous question %s of event %s not audited", question_id, event_id)

    async def leave(self, user_id: int, sid: str, event_ids: list[int]) -> None:
        for event_id in event_ids:
            room_id = self.room_of.get(event_id)
            if room_id is not None:
                await self.actors.live_leave(room_id, event_id, user_id, sid)
