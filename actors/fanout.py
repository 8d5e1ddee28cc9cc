"""Fan-out: how actors reach every gateway's sockets and the Redis streams.

The one module that knows python-socketio's Redis pub/sub message format (so any gateway's
``AsyncRedisManager`` delivers an actor's emit to its own sockets), the Socket.IO room names actors
address (``room:<id>``, ``user:<id>``, ``live:<id>``), and the fields of the activity and interaction
stream entries. The keys themselves come from ``storage.keys``.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from storage import keys

log = logging.getLogger(__name__)

ROOMS_EVENT = "clubhub:rooms"  # internal pubsub event: ordered batches of new messages, per room
MAX_UNPUBLISHED = 10_000  # stored messages kept for a later publish while Redis is unreachable


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
        separators=(",", ":"),
    )


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
        )


async def append_interactions(redis: Any, entries: Iterable[Mapping[str, Any]]) -> None:
    """Add interactions to the stream, one pipeline; each entry has id, user_id, item_type, item_id, kind,
    ts, source and optionally dwell_ms."""
    async with redis.pipeline(transaction=False) as pipe:
        for fields in entries:
            if fields.get("dwell_ms") is None:
                fields = {k: v for k, v in fields.items() if k != "dwell_ms"}
            pipe.xadd(keys.INTERACTIONS_STREAM, fields, maxlen=keys.INTERACTIONS_MAXLEN, approximate=True)
        await pipe.execute()


# -- emitting ----------------------------------------------------------------------------------------


class Fanout:
    """Emits to sockets on every gateway through python-socketio's pub/sub channel."""

    def __init__(self, redis: Any, channel: str, host_id: str) -> None:
        self.redis = redis
        self.channel = channel
        self.host_id = host_id

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

    def read_updated_in(self, pipe: Any, user_id: int, room_id: int, seq: int, skip_sid: str | None) -> None:
        """A user's other sockets learn that one of them read up to ``seq``."""
        self.emit_in(pipe, "read:updated", {"room_id": room_id, "seq": seq}, user_target(user_id), skip_sid)


class MessageFanout:
    """Stored messages out to every gateway, in seq order per room, with the streams that follow a send.

    One pipeline per batch: the ordered batches (``ROOMS_EVENT``), each room's last seq, an activity entry
    per message and one interaction entry per author and room, and ``message:updated`` per changed message.
    Batches Redis refused are kept (up to ``MAX_UNPUBLISHED`` messages) and go out first next time.
    """

    def __init__(self, fanout: Fanout, counters: Counter[str]) -> None:
        self.fanout = fanout
        self.counters = counters
        self._unpublished: list[dict] = []  # stored batches whose publish failed, oldest first

    @property
    def behind(self) -> bool:
        return bool(self._unpublished)

    async def publish(self, new: list[dict], updated: list[dict]) -> None:
        """``new``: ``{"room_id", "messages"}`` batches just stored; ``updated``: changed messages.
        Callers serialize calls (the writer's publish lock), so batches leave in seq order."""
        # Batches stored while Redis was unreachable go out first, so gateways get every room in seq
        # order (a gateway that missed them anyway makes its sockets resume with since_seq).
        batches, self._unpublished = self._unpublished + new, []
        if not batches and not updated:
            return
        try:
            async with self.fanout.redis.pipeline(transaction=False) as pipe:
                if batches:
                    self.fanout.emit_in(pipe, ROOMS_EVENT, batches, None)
                    last = {b["room_id"]: b["messages"][-1]["seq"] for b in batches}
                    pipe.hset(keys.ROOM_LAST_SEQ, mapping=last)
                if new:
                    self._streams(pipe, new)
                for msg in updated:
                    self.fanout.emit_in(pipe, "message:updated", msg, room_target(msg["room_id"]))
                await pipe.execute()
        except Exception as exc:  # stored and acked regardless: published again on the next write or sweep
            self.counters["publish_errors"] += 1
            log.warning("publish failed: %s", exc)
            while sum(len(b["messages"]) for b in batches) > MAX_UNPUBLISHED:
                self.counters["unpublished_dropped"] += len(batches.pop(0)["messages"])  # sockets resync
            self._unpublished = batches

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
