"""``Notifier``: a Ray actor that turns what happened into notifications, off the message hot path.

Room shards put a *notice* on the Redis stream ``keys.NOTIFY_STREAM`` for each stored message that
mentions someone, ``@everyone`` or replies to someone (in the pipeline that publishes the message: no
extra round trip), and for each edit that adds a mention; the gateway puts one there when a host starts a
live session. The notifier reads the stream in a consumer group (at least once: it re-reads what it took
and never acknowledged after a restart) and, per batch:

1. resolves each notice's recipients: the people mentioned (``@everyone``: the club's members), the author
   of the message replied to, the people who RSVPed to an event gone live — less the author, anyone who
   cannot read the room (or see the event) any more, anyone who set the room to ``none`` and anyone who
   blocked the author;
2. stores the notifications (``storage.notifications.create``: unique per user and cause, so a redelivered
   notice creates nothing twice), in chunks;
3. announces each chunk's new ones to their users' sockets (``notification``, on every gateway) and sends
   a Web Push to those with no socket connected (``actors.push``).

It also runs the event reminders: every ``notifier_tick_s`` it looks at the scheduled events starting
within the largest offset and reminds the people going of the offset whose window the event is in. A
reminder's cause names the event, the offset and the start time, so a tick repeated (a restart, a second
notifier) creates nothing twice, a moved event gets reminders for its new time and a cancelled one none.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import ray

from storage import keys

from .config import ActorConfig
from .fanout import Fanout, user_target
from .hashing import jump_hash
from .hosting import OpenOnce, TaskSet, every
from .runtime import NAMESPACE

log = logging.getLogger(__name__)

CONSUMER = "notifier-0"  # one named actor: its identity survives its restarts
LINGER_S = 0.1
READ_COUNT = 100  # notices per batch
REMIND_EVENTS_MAX = 500  # events looked at per tick
REMIND_RSVPS_MAX = 20_000  # people reminded per event and tick (the rest on the next tick)
PRUNE_EVERY_S = 3600.0
ONLINE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Notice:
    kind: str
    fields: dict[str, str]

    @classmethod
    def parse(cls, raw: Mapping[bytes, bytes]) -> Notice:
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        return cls(fields.get("kind", ""), fields)

    def num(self, name: str) -> int:
        return int(self.fields.get(name) or 0)

    def ids(self, name: str) -> list[int]:
        return [int(x) for x in self.fields.get(name, "").split(",") if x]


def live_notice(event_id: int, host_id: int, host_name: str, title: str) -> dict[str, Any]:
    """The notice the gateway puts on the stream when a host starts an event's live session."""
    return {
        "kind": "live_started",
        "event_id": event_id,
        "author_id": host_id,
        "author_name": host_name,
        "text": title,
    }


def humane(seconds: int) -> str:
    """An offset as people say it: "24 hours", "15 minutes", "30 seconds"."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            if unit == "day" and n == 1:
                return "24 hours"
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"


class NotifierHost:
    def __init__(self, config: ActorConfig | Mapping[str, Any]) -> None:
        self.config = ActorConfig.of(config)
        self.stream = self.config.notify_stream or keys.NOTIFY_STREAM
        self.started = time.time()
        self.tasks = TaskSet()
        self.counters: Counter[str] = Counter()
        self._opened = OpenOnce(self._open)
        self._started = OpenOnce(self._start)
        self._pruned_at = 0.0

    async def start(self) -> str:
        """Idempotent: concurrent callers (every gateway at start-up) start one loop."""
        await self._started()
        return "running"

    async def _start(self) -> None:
        await self._opened()
        self.tasks.spawn(self._run())
        self.tasks.spawn(every(self.config.notifier_tick_s, self.tick, "notifier"))

    async def _open(self) -> None:
        from storage import mongo as mongo_store
        from storage.postgres import init_tortoise, tortoise_config
        from storage.redis import connect_redis
        from storage.streams import ensure_group

        from .push import WebPusher

        await init_tortoise(tortoise_config(self.config.postgres_url))
        self.redis = connect_redis(self.config.redis_url)
        self.fanout = Fanout(self.redis, self.config.channel, "notifier")
        client = mongo_store.connect_mongo(self.config.mongo_url, timeout_ms=self.config.mongo_timeout_ms)
        self.messages = client[self.config.mongo_db][mongo_store.MESSAGES]
        self.pusher = WebPusher(self.config)
        # "0": notices written before the group existed (the shards start first) are read too.
        await ensure_group(self.redis, self.stream, keys.NOTIFY_GROUP, "0")

    async def _run(self) -> None:
        from storage.streams import consume

        await consume(
            self.redis,
            self.stream,
            keys.NOTIFY_GROUP,
            CONSUMER,
            self.handle,
            count=READ_COUNT,
            linger_s=LINGER_S,
        )

    # -- notices -----------------------------------------------------------------------------
    async def handle(self, entries: Sequence[tuple[bytes, Mapping[bytes, bytes]]]) -> None:
        """One batch of notices: every notification they cause, stored and announced."""
        from storage.notifications import NewNotification

        rows: list[NewNotification] = []
        for _, raw in entries:
            notice = Notice.parse(raw)
            if notice.kind == "message":
                rows += await self._message_rows(notice)
            elif notice.kind == "live_started":
                rows += await self._live_rows(notice)
            else:
                self.counters["notices_unknown"] += 1
        await self._create(rows)
        self.counters["notices"] += len(entries)  # handled: stored and announced

    async def _message_rows(self, n: Notice) -> list:
        from storage import notifications, visibility
        from storage.notifications import NewNotification

        room_id, club_id, seq, author = n.num("room_id"), n.num("club_id"), n.num("seq"), n.num("author_id")
        mentioned = n.ids("mentions")
        everyone = n.num("everyone") == 1
        in_dm = club_id == 0  # a DM room: its people are its readers
        dm = n.num("dm") == 1  # a new DM message: everyone else in it is told
        people = await visibility.dm_members(room_id) if in_dm else []
        candidates = dict.fromkeys(people if dm else mentioned)
        if everyone and not in_dm:
            candidates.update(dict.fromkeys(sorted(await visibility.room_readers(club_id))))
        replied = await self._reply_author(n)
        if replied:
            candidates.setdefault(replied)
        candidates.pop(author, None)
        if not candidates:
            return []
        wanted = list(candidates)
        readers = set(people) if in_dm else await visibility.room_readers(club_id, wanted)
        # A room set to "none" mutes even mentions, but never a DM.
        muted = set() if dm else await notifications.muted(room_id, wanted)
        blocked = await notifications.blocking(author, wanted)
        named = set(mentioned)
        return [
            NewNotification(
                user_id=u,
                kind="dm" if dm else "mention" if everyone or u in named else "reply",
                cause=f"msg:{room_id}:{seq}",
                text=n.fields.get("text", ""),
                room_id=room_id,
                seq=seq,
                actor_id=author,
                actor_name=n.fields.get("author_name"),
            )
            for u in wanted
            if u in readers and u not in muted and u not in blocked
        ]

    async def _reply_author(self, n: Notice) -> int | None:
        if n.num("reply_to_author"):
            return n.num("reply_to_author")
        if not n.num("reply_to_seq"):
            return None
        # Not among the room's recent messages when it was sent: read from the store.
        doc = await self.messages.find_one(
            {"room_id": n.num("room_id"), "seq": n.num("reply_to_seq")}, projection={"author": 1}
        )
        return int(doc["author"]["id"]) if doc else None

    async def _live_rows(self, n: Notice) -> list:
        from storage import notifications, visibility
        from storage.models import Event, Rsvp, RsvpStatus
        from storage.notifications import NewNotification

        event = await Event.get_or_none(id=n.num("event_id"))
        if event is None:
            return []
        host = n.num("author_id")
        rsvped = await Rsvp.filter(
            event_id=event.id, status__in=[RsvpStatus.going, RsvpStatus.waitlisted]
        ).values_list("user_id", flat=True)
        wanted = [int(u) for u in rsvped if int(u) != host]  # type: ignore[call-overload]
        if not wanted:
            return []
        audience = await visibility.event_audience(event.club_id, wanted)
        blocked = await notifications.blocking(host, wanted)
        return [
            NewNotification(
                user_id=u,
                kind="live_started",
                cause=f"live:{event.id}",
                text=f"{event.title} is live now",
                event_id=event.id,
                actor_id=host or None,
                actor_name=n.fields.get("author_name") or None,
            )
            for u in wanted
            if u in audience and u not in blocked
        ]

    # -- creating and announcing -------------------------------------------------------------
    async def _create(self, rows: list) -> list[dict]:
        from storage.notifications import create

        if not rows:
            return []
        created = await create(rows, self.config.notify_insert_chunk, self._announce)
        self.counters["created"] += len(created)
        self.counters["duplicates"] += len(rows) - len(created)
        return created

    async def _announce(self, created: list[dict]) -> None:
        """New notifications to every socket of their users, and by Web Push to users with none."""
        if created:
            async with self.redis.pipeline(transaction=False) as pipe:
                for item in created:
                    data = {k: v for k, v in item.items() if k != "user_id"}
                    self.fanout.emit_in(pipe, "notification", data, user_target(item["user_id"]))
                await pipe.execute()
            offline = await self._offline(sorted({item["user_id"] for item in created}))
            if offline:
                self.counters["pushed"] += await self.pusher.deliver(
                    [item for item in created if item["user_id"] in offline]
                )
        if self.config.notify_chunk_pause_s:
            await asyncio.sleep(self.config.notify_chunk_pause_s)

    async def _offline(self, user_ids: list[int]) -> set[int]:
        """The users with no socket connected on any gateway (the session shards know); on no answer,
        nobody (a push is not sent to someone who may be looking at the app)."""
        shards = self.config.session_shards
        by_shard: dict[int, list[int]] = {}
        for u in user_ids:
            by_shard.setdefault(jump_hash(u, shards), []).append(u)
        try:
            handles = [ray.get_actor(f"clubhub-session-shard-{i}", namespace=NAMESPACE) for i in by_shard]
            answers: list[list[int]] = await asyncio.wait_for(
                asyncio.gather(
                    *(h.online.remote(us) for h, us in zip(handles, by_shard.values(), strict=True))
                ),
                ONLINE_TIMEOUT_S,
            )
        except Exception as exc:
            self.counters["online_unknown"] += 1
            log.warning("who is online is unknown; no push this time: %s", exc)
            return set()
        online = {u for answer in answers for u in answer}
        return set(user_ids) - online

    # -- reminders ---------------------------------------------------------------------------
    async def tick(self) -> dict:
        reminded = await self.remind()
        if time.monotonic() - self._pruned_at > PRUNE_EVERY_S:
            from storage.notifications import prune

            self._pruned_at = time.monotonic()
            self.counters["pruned"] += await prune()
        return {"reminded": reminded}

    async def remind(self, now: datetime | None = None) -> int:
        """Reminders due now: for each scheduled event starting within the largest offset, the offset
        whose window it is in (the smallest offset not yet passed), for the people going who RSVPed
        before that reminder came due. Returns the reminders created."""
        from storage import visibility
        from storage.models import Event, EventStatus, Rsvp, RsvpStatus
        from storage.notifications import NewNotification

        await self._opened()
        now = now or datetime.now(UTC)
        offsets = sorted(self.config.reminder_offsets_s)
        if not offsets:
            return 0
        events = (
            await Event.filter(
                status=EventStatus.scheduled,
                starts_at__gt=now,
                starts_at__lte=now + timedelta(seconds=offsets[-1]),
            )
            .order_by("starts_at")
            .limit(REMIND_EVENTS_MAX)
        )
        rows: list[NewNotification] = []
        for event in events:
            left = (event.starts_at - now).total_seconds()
            offset = next(o for o in offsets if left <= o)
            due_at = event.starts_at - timedelta(seconds=offset)
            going = (
                await Rsvp.filter(event_id=event.id, status=RsvpStatus.going, updated_at__lte=due_at)
                .limit(REMIND_RSVPS_MAX)
                .values_list("user_id", flat=True)
            )
            audience = await visibility.event_audience(event.club_id, [int(u) for u in going])  # type: ignore[call-overload]
            cause = f"remind:{event.id}:{offset}:{int(event.starts_at.timestamp())}"
            text = f"{event.title} starts in {humane(offset)}"
            rows += [
                NewNotification(user_id=u, kind="event_reminder", cause=cause, text=text, event_id=event.id)
                for u in sorted(audience)
            ]
        created = await self._create(rows)
        self.counters["reminders"] += len(created)
        return len(created)

    # -- operations --------------------------------------------------------------------------
    async def stats(self) -> dict:
        return {"started": self.started, **self.counters}

    async def ping(self) -> str:
        return "pong"


# Typed as Any: Ray's stubs type a handle's methods as the plain methods, without ``.remote``.
Notifier: Any = ray.remote(NotifierHost)
