"""Fan-out: how actors reach the gateways' sockets and the Redis streams.

The one module that knows python-socketio's Redis pub/sub message format (so any gateway's
``AsyncRedisManager`` delivers an actor's emit to its own sockets), the Socket.IO room names actors
address (``room:<id>``, ``user:<id>``, ``live:<id>``), and the fields of the activity and interaction
stream entries. The keys and channel names themselves come from ``storage.keys``.

Two kinds of channel: python-socketio's shared one, which every gateway hears (kicks, revocations,
presence, live sessions, a user's events), and one channel per gateway. A room's message batches and
message changes go only to the channels of the gateways holding sockets in that room (``Room.gateway_ids``),
so a gateway decodes the traffic of its own rooms and nothing else; adding gateways does not add load
to all of them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from storage import keys

log = logging.getLogger(__name__)

ROOMS_EVENT = "clubhub:rooms"  # internal pubsub event: ordered batches of new messages, per room
MAX_UNPUBLISHED = 10_000  # stored messages kept for a later publish while Redis is unreachable
_COMPACT = (",", ":")


def pubsub_message(
    event: str, data: Any, room: str | None, skip_sid: str | None = None, host_id: str = "shard"
) -> str:
    """One python-socketio pubsub message (the format its Redis manager reads), so any gateway's
    ``AsyncRedisManager`` delivers it to its own sockets."""
    return json.dumps(
        {
            "method": "emit",
            "event": event,
            "data": [data],
            "binary": False,
            "namespace": "/",
            "room": room,
            "skip_sid": skip_sid,
            "callback": None,
            "host_id": host_id,
        },
        separators=_COMPACT,
    )


def rooms_message(encoded_batches: Iterable[str], host_id: str) -> str:
    """``pubsub_message(ROOMS_EVENT, batches, None, host_id=host_id)`` from batches already encoded as
    JSON, so a batch going to several gateways is encoded once, not once per gateway."""
    head = pubsub_message(ROOMS_EVENT, [], None, host_id=host_id)
    marker = '"data":[[]]'
    assert head.count(marker) == 1
    before, after = head.split(marker)
    return before + '"data":[[' + ",".join(encoded_batches) + "]]" + after


def per_gateway(room_ids: Iterable[int], audience: Callable[[int], Collection[str]]) -> dict[str, list[int]]:
    """For each gateway, the indexes (into ``room_ids``, in order) of the items it must get: the rooms
    it holds sockets in. Order is kept, so each gateway gets a room's batches in seq order."""
    out: dict[str, list[int]] = {}
    for i, room_id in enumerate(room_ids):
        for gateway_id in audience(room_id):
            out.setdefault(gateway_id, []).append(i)
    return out


def room_target(room_id: int) -> str:
    return f"room:{room_id}"


def user_target(user_id: int) -> str:
    return f"user:{user_id}"


def live_target(event_id: int) -> str:
    return f"live:{event_id}"


# -- stream schemas ----------------------------------------------------------------------------------


def activity_entry(user_id: int, kind: str, ref: int) -> dict[str, Any]:
    """An entry of ``keys.ACTIVITY_STREAM`` (read by the achievement workers)."""
    return {"user_id": user_id, "kind": kind, "ref": ref}


NOTICE_TEXT_MAX = 200  # characters of a message's text carried into its notifications


def notice_entry(message: dict, club_id: int, reply_to_author: int | None) -> dict[str, Any]:
    """An entry of ``keys.NOTIFY_STREAM`` for a message (new, or edited to mention someone) that may
    notify people: its mentions, ``@everyone`` and the author of the message it replies to (None: not in
    the room's recent messages; the notifier reads it from the store)."""
    return {
        "kind": "message",
        "room_id": message["room_id"],
        "club_id": club_id,
        "seq": message["seq"],
        "author_id": message["author"]["id"],
        "author_name": message["author"]["display_name"],
        "text": (message["text"] or attachments_summary(message))[:NOTICE_TEXT_MAX],
        "mentions": ",".join(str(u) for u in message.get("mentions", ())),
        "everyone": int(bool(message.get("mentions_everyone"))),
        "reply_to_seq": message.get("reply_to_seq") or 0,
        "reply_to_author": reply_to_author or 0,
    }


def attachments_summary(message: dict) -> str:
    """What a notification says of a message that is only attachments."""
    kinds = [a.get("kind") for a in message.get("attachments") or ()]
    if not kinds:
        return ""
    if len(kinds) == 1:
        return f"[{'a video' if kinds[0] == 'video' else 'an image'}]"
    return f"[{len(kinds)} attachments]"


def search_entry(room_id: int, messages: Iterable[dict]) -> dict[str, Any]:
    """An entry of ``keys.SEARCH_STREAM``: what the search index needs of messages of one room (a deleted
    message has empty text, which takes it out of the index)."""
    rows = [
        {
            "seq": m["seq"],
            "rev": m["rev"],
            "author": m["author"],
            "ts": m["ts"],
            "text": "" if m.get("deleted") else m["text"],
        }
        for m in messages
    ]
    return {"room_id": str(room_id), "messages": json.dumps(rows, separators=_COMPACT)}


def reindexes(message: dict) -> bool:
    """A changed message the search index must see again: an edit or a delete (not a reaction)."""
    return bool(message.get("deleted") or "edited_at" in message)


def notifies(message: dict) -> bool:
    """Whether a new message may notify anyone (so it gets a ``notice_entry``)."""
    return bool(message.get("mentions") or message.get("mentions_everyone") or message.get("reply_to_seq"))


def interaction_entry(
    user_id: int,
    item_type: str,
    item_id: int,
    kind: str,
    ts: float,
    source: str,
    *,
    id: str | None = None,
    dwell_ms: int | None = None,
    watch_ms: int | None = None,
) -> dict[str, Any]:
    """An entry of ``keys.INTERACTIONS_STREAM``; ``ts`` travels as its ``repr`` (no precision lost)."""
    entry: dict[str, Any] = {
        "id": id or uuid.uuid4().hex,
        "user_id": user_id,
        "item_type": item_type,
        "item_id": item_id,
        "kind": kind,
        "ts": repr(ts),
        "source": source,
    }
    if dwell_ms is not None:
        entry["dwell_ms"] = dwell_ms
    if watch_ms is not None:
        entry["watch_ms"] = watch_ms
    return entry


@dataclass(frozen=True)
class Interaction:
    """An interaction stream entry as read back by the consumer."""

    id: str
    user_id: int
    item_type: str
    item_id: int
    kind: str
    ts: float
    source: str
    dwell_ms: int | None
    watch_ms: int | None = None  # reels; absent from entries written before reels

    @classmethod
    def parse(cls, fields: Mapping[bytes, bytes]) -> Interaction:
        d = {k.decode(): v.decode() for k, v in fields.items()}
        return cls(
            id=d["id"],
            user_id=int(d["user_id"]),
            item_type=d["item_type"],
            item_id=int(d["item_id"]),
            kind=d["kind"],
            ts=float(d["ts"]),
            source=d.get("source", "client"),
            dwell_ms=int(d["dwell_ms"]) if d.get("dwell_ms") else None,
            watch_ms=int(d["watch_ms"]) if d.get("watch_ms") else None,
        )


async def append_interactions(redis: Any, entries: Iterable[Mapping[str, Any]]) -> None:
    """Add interactions to the stream, one pipeline; each entry has id, user_id, item_type, item_id, kind,
    ts, source and optionally dwell_ms and watch_ms."""
    async with redis.pipeline(transaction=False) as pipe:
        for fields in entries:
            if fields.get("dwell_ms") is None or fields.get("watch_ms") is None:
                fields = {
                    k: v for k, v in fields.items() if v is not None or k not in ("dwell_ms", "watch_ms")
                }
            pipe.xadd(keys.INTERACTIONS_STREAM, fields, maxlen=keys.INTERACTIONS_MAXLEN, approximate=True)
        await pipe.execute()


# -- emitting ----------------------------------------------------------------------------------------


class Fanout:
    """Emits to sockets on every gateway through python-socketio's pub/sub channel, or on one gateway
    through its own channel (``emit_to_gateway_in``)."""

    def __init__(self, redis: Any, channel: str, host_id: str) -> None:
        self.redis = redis
        self.channel = channel
        self.host_id = host_id

    def gateway_channel(self, gateway_id: str) -> str:
        return keys.gateway_channel(self.channel, gateway_id)

    def message(self, event: str, data: Any, room: str | None, skip_sid: str | None = None) -> str:
        return pubsub_message(event, data, room, skip_sid=skip_sid, host_id=self.host_id)

    def emit_in(
        self, pipe: Any, event: str, data: Any, room: str | None, skip_sid: str | None = None
    ) -> None:
        """Queue an emit on a pipeline the caller executes (with its own writes, one round trip)."""
        pipe.publish(self.channel, self.message(event, data, room, skip_sid))

    async def emit(self, event: str, data: Any, room: str | None, skip_sid: str | None = None) -> None:
        await self.redis.publish(self.channel, self.message(event, data, room, skip_sid))

    async def presence(self, room_id: int, user_id: int, status: str) -> None:
        data = {"room_id": room_id, "user_id": user_id, "status": status}
        await self.emit("presence", data, room_target(room_id))

    async def live_update(self, event_id: int, update: dict) -> None:
        await self.emit("live:update", update, live_target(event_id))

    async def live_speaking(self, event_id: int, user_id: int, speaking: bool) -> None:
        """Who on a stage is talking (Janus's audio levels): a passing signal, not a stored change."""
        payload = {"event_id": event_id, "user_id": user_id, "speaking": speaking}
        await self.emit("live:speaking", payload, live_target(event_id))

    def read_updated_in(self, pipe: Any, user_id: int, room_id: int, seq: int, skip_sid: str | None) -> None:
        """A user's other sockets learn that one of them read up to ``seq``."""
        self.emit_in(pipe, "read:updated", {"room_id": room_id, "seq": seq}, user_target(user_id), skip_sid)


class MessageFanout:
    """Stored messages out to the gateways of their rooms, in seq order per room, with the streams that
    follow a send.

    One pipeline per flush: for each gateway holding sockets in any of the flushed rooms one message on
    its own channel with the ordered batches of its rooms (``ROOMS_EVENT``: each batch encoded once,
    whatever the number of gateways), each room's last seq, an activity entry per message and one
    interaction entry per author and room, and ``message:updated`` per changed message to the gateways
    of its room. ``audience(room_id)`` names those gateways (``Room.gateway_ids``); a room nobody holds
    a socket in costs no publish at all. Batches Redis refused are kept (up to ``MAX_UNPUBLISHED``
    messages) and go out first next time, to the gateways holding the room then (one that joined since
    got them with its join: they were stored before it).
    """

    def __init__(
        self, fanout: Fanout, counters: Counter[str], audience: Callable[[int], Collection[str]]
    ) -> None:
        self.fanout = fanout
        self.counters = counters
        self.audience = audience
        self._unpublished: list[dict] = []  # stored batches whose publish failed, oldest first
        self._unnoticed: list[dict] = []  # notice entries (keys.NOTIFY_STREAM) whose publish failed

    @property
    def behind(self) -> bool:
        return bool(self._unpublished or self._unnoticed)

    def owe(self, batch: dict) -> None:
        """A stored batch that was never published (a restarted shard found it): out with the next publish."""
        self._unpublished.append(batch)

    def owe_notice(self, entry: dict) -> None:
        self._unnoticed.append(entry)

    async def publish(
        self, new: list[dict], updated: list[dict], notices: Sequence[dict] = (), events: Sequence[tuple] = ()
    ) -> None:
        """``new``: ``{"room_id", "messages"}`` batches just stored; ``updated``: changed messages;
        ``notices``: ``notice_entry``s of what was just stored; ``events``: ``(room_id, event, data)``
        room events that follow from them (``room:pins``), behind them on the same channels. Callers
        serialize calls (the writer's publish lock), so batches leave in seq order."""
        # Batches stored while Redis was unreachable go out first, so gateways get every room in seq
        # order (a gateway that missed them anyway makes its sockets resume with since_seq).
        batches, self._unpublished = self._unpublished + new, []
        noticed, self._unnoticed = self._unnoticed + list(notices), []
        if not batches and not updated and not noticed and not events:
            return
        try:
            async with self.fanout.redis.pipeline(transaction=False) as pipe:
                if batches:
                    self._batches(pipe, batches)
                    last = {b["room_id"]: b["messages"][-1]["seq"] for b in batches}
                    pipe.hset(keys.ROOM_LAST_SEQ, mapping=last)
                    # The search index: one entry per room batch, also for a batch published late (the
                    # indexer writes a batch in one statement and only what is newer).
                    for b in batches:
                        entry = search_entry(b["room_id"], b["messages"])
                        pipe.xadd(keys.SEARCH_STREAM, entry, maxlen=keys.SEARCH_MAXLEN, approximate=True)
                if new:
                    self._streams(pipe, new)
                for entry in noticed:
                    pipe.xadd(keys.NOTIFY_STREAM, entry, maxlen=keys.NOTIFY_MAXLEN, approximate=True)
                if updated:
                    self._updated(pipe, updated)
                    self._reindex(pipe, updated)
                if events:
                    self._events(pipe, events)
                await pipe.execute()
        except Exception as exc:  # stored and acked regardless: published again on the next write or sweep
            self.counters["publish_errors"] += 1
            log.warning("publish failed: %s", exc)
            while sum(len(b["messages"]) for b in batches) > MAX_UNPUBLISHED:
                self.counters["unpublished_dropped"] += len(batches.pop(0)["messages"])  # sockets resync
            self._unpublished = batches
            # Kept like the batches: a notification is created once, so sending a notice again is safe.
            self.counters["notices_dropped"] += max(0, len(noticed) - MAX_UNPUBLISHED)
            self._unnoticed = noticed[-MAX_UNPUBLISHED:]

    def _batches(self, pipe: Any, batches: list[dict]) -> None:
        targets = per_gateway((b["room_id"] for b in batches), self.audience)
        if not targets:
            return
        published = time.time()
        for b in batches:
            if "trace" in b:
                b["trace"]["published"] = published
        encoded = [json.dumps(b, separators=_COMPACT) for b in batches]
        for gateway_id, indexes in targets.items():
            message = rooms_message((encoded[i] for i in indexes), self.fanout.host_id)
            pipe.publish(self.fanout.gateway_channel(gateway_id), message)
        self.counters["gateway_publishes"] += len(targets)
        self.counters["room_batches_published"] += sum(len(i) for i in targets.values())

    def _updated(self, pipe: Any, updated: list[dict]) -> None:
        # Behind the same room's batches on the same channels: a gateway never sees a change to a
        # message before the message.
        for gateway_id, indexes in per_gateway((m["room_id"] for m in updated), self.audience).items():
            channel = self.fanout.gateway_channel(gateway_id)
            for i in indexes:
                msg = updated[i]
                pipe.publish(
                    channel, self.fanout.message("message:updated", msg, room_target(msg["room_id"]))
                )

    def _events(self, pipe: Any, events: Sequence[tuple]) -> None:
        # Lost with a failed publish like a message:updated: a client that was away learns the change
        # from its rejoin (since_rev replays the changed messages).
        for gateway_id, indexes in per_gateway((e[0] for e in events), self.audience).items():
            channel = self.fanout.gateway_channel(gateway_id)
            for i in indexes:
                room_id, event, data = events[i]
                pipe.publish(channel, self.fanout.message(event, data, room_target(room_id)))

    @staticmethod
    def _reindex(pipe: Any, updated: list[dict]) -> None:
        by_room: dict[int, list[dict]] = {}
        for m in filter(reindexes, updated):
            by_room.setdefault(m["room_id"], []).append(m)
        for room_id, messages in by_room.items():
            entry = search_entry(room_id, messages)
            pipe.xadd(keys.SEARCH_STREAM, entry, maxlen=keys.SEARCH_MAXLEN, approximate=True)

    @staticmethod
    def _streams(pipe: Any, new: list[dict]) -> None:
        # The activity stream (achievements), in the same round trip as the fan-out.
        writers: set[tuple[int, int]] = set()
        for b in new:
            for m in b["messages"]:
                entry = activity_entry(m["author"]["id"], "message_sent", m["room_id"])
                pipe.xadd(keys.ACTIVITY_STREAM, entry, maxlen=keys.ACTIVITY_MAXLEN, approximate=True)
                writers.add((m["author"]["id"], m["room_id"]))
        # The feed's "message" signal: one per author and room per batch, not per message, so a busy
        # room cannot outrun the interaction consumer.
        now = time.time()
        for user_id, room_id in sorted(writers):
            entry = interaction_entry(user_id, "room", room_id, "message", now, "server")
            pipe.xadd(keys.INTERACTIONS_STREAM, entry, maxlen=keys.INTERACTIONS_MAXLEN, approximate=True)


# -- who is in a room, kept across restarts ---------------------------------------------------------


class RoomSockets:
    """The sockets of each active room in Redis (``keys.room_sockets``), so a room shard that Ray
    restarted knows again which gateways hold the room (and who is online) without any socket having
    to rejoin: otherwise the restarted shard would publish the room's batches to nobody until then.

    Written after the room's own state changed (a failure is logged and counted, never refused: the
    running shard still knows; only a later restart would miss the socket, and its gateway would then
    find the gap at the next batch and make the socket resume with ``since_seq``)."""

    def __init__(self, redis: Any, counters: Counter[str], timeout_s: float) -> None:
        self.redis = redis
        self.counters = counters
        self.timeout_s = timeout_s

    async def _run(self, what: str, call: Callable[[], Any]) -> bool:
        try:
            await asyncio.wait_for(call(), self.timeout_s)
            return True
        except Exception as exc:
            self.counters["room_sockets_errors"] += 1
            log.warning("room sockets %s failed: %s", what, exc)
            return False

    async def load(self, room_id: int) -> dict[str, int]:
        """The stored sockets of a room (key -> user id); raises when Redis does not answer."""
        raw = await asyncio.wait_for(self.redis.hgetall(keys.room_sockets(room_id)), self.timeout_s)
        return {k.decode() if isinstance(k, bytes) else k: int(v) for k, v in raw.items()}

    async def add(self, room_id: int, user_id: int, socket_key: str) -> None:
        await self._run("add", lambda: self.redis.hset(keys.room_sockets(room_id), socket_key, user_id))

    async def remove(self, by_room: Mapping[int, Iterable[str]]) -> None:
        async def run() -> None:
            async with self.redis.pipeline(transaction=False) as pipe:
                for room_id, socket_keys in by_room.items():
                    pipe.hdel(keys.room_sockets(room_id), *socket_keys)
                await pipe.execute()

        by_room = {r: list(s) for r, s in by_room.items() if s}
        if by_room:
            await self._run("remove", run)

    async def forget_gateway(self, room_ids: Iterable[int], gateway_id: str) -> None:
        """Delete a dead gateway's sockets from these rooms' hashes."""
        prefix = gateway_id + "/"

        async def run() -> None:
            for room_id in room_ids:
                key = keys.room_sockets(room_id)
                stale = [k async for k, _ in self.redis.hscan_iter(key, match=prefix + "*", count=1000)]
                if stale:
                    await self.redis.hdel(key, *stale)

        await self._run("forget gateway", run)

    async def forget_rooms(self, room_ids: Iterable[int]) -> None:
        """Evicted rooms hold no socket: their hashes go (and with them any entry a failed write left)."""
        room_keys = [keys.room_sockets(r) for r in room_ids]
        if room_keys:
            await self._run("forget rooms", lambda: self.redis.delete(*room_keys))
