"""``RoomShard``: a Ray actor hosting many ``Room`` objects (Orleans-style virtual actors).

A room is activated on first use (its club's members from PostgreSQL, its last seq and rev from
MongoDB) and evicted when idle. Every change goes through one writer loop per shard, which is the
group commit: whatever is pending — from every gateway — is planned room by room, stored with one
``insert_many`` (plus one ``bulk_write`` for edits, deletes and reactions), committed to the rooms
only after the store succeeded, published to every gateway in one Redis ``PUBLISH``, and only then
acknowledged. Ordering, gapless seqs and durable acks all follow from that one loop.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timezone
from dataclasses import dataclass, field

import ray
from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.errors import BulkWriteError, PyMongoError

from storage.mongo import retry_once
from storage.redis import ACTIVITY_MAXLEN, ACTIVITY_STREAM

from .housekeeping import dead_gateways, every
from .interactions import MAXLEN as INTERACTION_MAXLEN
from .interactions import STREAM as INTERACTION_STREAM
from .domain.live_session import LiveSession
from .domain.errors import DomainError
from .domain.room import REPLAY_LIMIT, Member, PlannedSend, PlannedUpdate, Room

log = logging.getLogger(__name__)

ROOMS_EVENT = "clubhub:rooms"  # internal pubsub event: ordered batches of new messages, per room
MAX_BATCH = 1024
ROOM_IDLE_S = 300.0
NEGATIVE_MEMBER_TTL_S = 5.0
LIVE_COALESCE_S = 0.005
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
ROOM_LAST_SEQ_KEY = "clubhub:room_last_seq"
MAX_UNPUBLISHED = 10_000  # stored messages kept for a later publish while Redis is unreachable


def pubsub_message(event: str, data, room: str | None, skip_sid=None, host_id: str = "shard") -> str:
    """One python-socketio pubsub message (the format its Redis manager reads), so any gateway's
    ``AsyncRedisManager`` delivers it to its own sockets."""
    return json.dumps({"method": "emit", "event": event, "data": [data], "binary": False, "namespace": "/",
                       "room": room, "skip_sid": skip_sid, "callback": None, "host_id": host_id},
                      separators=(",", ":"))


def unavailable(message: str = "message store unavailable; retry with the same client_id") -> dict:
    return {"ok": False, "error": {"code": "unavailable", "message": message}}


def refused(err: DomainError) -> dict:
    return {"ok": False, "error": err.as_dict()}


@dataclass
class _Op:
    op: dict
    future: asyncio.Future
    planned: PlannedSend | PlannedUpdate | None = None
    result: dict | None = None
    dup_of: "_Op | None" = None  # the same client_id sent earlier in the same batch


@dataclass
class _Cursor:
    """Tentative seq/rev of a room while a batch is planned (nothing committed yet)."""
    seq: int
    rev: int
    sends: list = field(default_factory=list)
    client_ids: dict = field(default_factory=dict)
    changed: dict = field(default_factory=dict)  # seq -> tentative message after updates


class RoomShardHost:
    """The actor's body; a plain class so a test can host it without Ray when it wants to."""

    def __init__(self, index: int, config: dict) -> None:
        self.index = index
        self.config = config
        self.rooms: dict[int, Room] = {}
        self.pending: list[_Op] = []
        self._unpublished: list[dict] = []  # stored batches whose publish failed, oldest first
        self._publish_lock = asyncio.Lock()
        self._writer: asyncio.Task | None = None
        self._activating: dict[int, asyncio.Task] = {}
        self._dirty: set[int] = set()  # rooms whose last seq must be re-read before the next write
        self._not_member: dict[tuple[int, int], float] = {}
        self._ready: asyncio.Future | None = None
        self._housekeeper: asyncio.Task | None = None
        self.counters: Counter = Counter()
        self.batch_hist: Counter = Counter()
        self.live: dict[int, LiveSession] = {}  # event_id -> its live session, hosted with its room
        self._live_flush_due: set[int] = set()
        self._live_tasks: set[asyncio.Task] = set()
        self.host_id = f"room-shard-{index}"

    # -- set-up ------------------------------------------------------------------------------
    async def _ensure(self) -> None:
        if self._ready is None:
            self._ready = asyncio.get_running_loop().create_future()
            try:
                await self._connect()
                self._ready.set_result(True)
            except BaseException as exc:
                self._ready.set_exception(exc)
                fut, self._ready = self._ready, None
                fut.exception()  # retrieved: the next call tries again
                raise
        await self._ready

    async def _connect(self) -> None:
        from storage import mongo as mongo_store
        from storage.postgres import init_tortoise, tortoise_config
        from storage.redis import connect_redis

        c = self.config
        await init_tortoise(tortoise_config(c["postgres_url"]))
        self.mongo_client = mongo_store.connect_mongo(c["mongo_url"], timeout_ms=c.get("mongo_timeout_ms", 2000))
        db = self.mongo_client[c["mongo_db"]]
        self.messages = db[mongo_store.MESSAGES]
        self.audit_log = db[mongo_store.AUDIT_LOG]
        self.redis = connect_redis(c["redis_url"])
        self.channel = c["channel"]
        self._housekeeper = asyncio.create_task(every(c.get("housekeeping_s", 5.0), self.sweep, "room shard"))

    # -- activation --------------------------------------------------------------------------
    async def room(self, room_id: int) -> Room:
        room = self.rooms.get(room_id)
        if room is not None:
            return room
        task = self._activating.get(room_id)
        if task is None:
            task = asyncio.create_task(self._activate(room_id))
            self._activating[room_id] = task
            task.add_done_callback(lambda _t, r=room_id: self._activating.pop(r, None))
        return await asyncio.shield(task)

    async def _activate(self, room_id: int) -> Room:
        from storage.models import Membership
        from storage.models import Room as RoomRow

        row = await RoomRow.get_or_none(id=room_id)
        if row is None:
            raise DomainError("not_found", f"no such room: {room_id}")
        room = Room(room_id=room_id, club_id=row.club_id, slow_mode_s=row.slow_mode_s)
        rows = await Membership.filter(club_id=row.club_id).values("user_id", "role", "muted_until",
                                                                      "user__display_name")
        for r in rows:
            room.members[r["user_id"]] = _member(r)
        await self._load_position(room)
        self.rooms[room_id] = room
        self.counters["activations"] += 1
        return room

    async def _load_position(self, room: Room) -> None:
        last = await retry_once(lambda: self.messages.find_one(
            {"room_id": room.room_id}, sort=[("seq", DESCENDING)], projection={"seq": 1}))
        top = await retry_once(lambda: self.messages.find_one(
            {"room_id": room.room_id}, sort=[("rev", DESCENDING)], projection={"rev": 1}))
        room.last_seq = last["seq"] if last else 0
        room.rev = max(room.last_seq, top["rev"] if top else 0)
        if room.recent and room.recent[-1]["seq"] != room.last_seq:
            room.recent.clear()

    async def _lookup_members(self, wanted: set[tuple[int, int]]) -> None:
        """Members that joined after the room was activated: one query for the whole batch."""
        from storage.models import Membership

        now = time.monotonic()
        wanted = {k for k in wanted if self._not_member.get(k, 0) < now}
        if not wanted:
            return
        clubs = {c for c, _ in wanted}
        users = {u for _, u in wanted}
        rows = await Membership.filter(club_id__in=clubs, user_id__in=users).values(
            "club_id", "user_id", "role", "muted_until", "user__display_name")
        found = {(r["club_id"], r["user_id"]): r for r in rows}
        for key in wanted:
            r = found.get(key)
            if r is None:
                self._not_member[key] = now + NEGATIVE_MEMBER_TTL_S
                continue
            for room in self.rooms.values():
                if room.club_id == key[0]:
                    room.members[key[1]] = _member(r)

    async def member_changed(self, club_id: int, user_id: int) -> None:
        """A membership changed (join, role, timeout, leave, ban): refresh it in the active rooms."""
        from storage.models import Membership

        await self._ensure()
        self._not_member.pop((club_id, user_id), None)
        row = await Membership.filter(club_id=club_id, user_id=user_id).values(
            "user_id", "role", "muted_until", "user__display_name")
        member = _member(row[0]) if row else None
        for room in self.rooms.values():
            if room.club_id == club_id:
                room.set_member(member, user_id)
        if member is None:
            self._live_remove(club_id, user_id)

    async def room_changed(self, room_id: int) -> None:
        """Room settings changed in PostgreSQL (slow mode): re-read them if the room is active."""
        from storage.models import Room as RoomRow

        await self._ensure()
        room = self.rooms.get(room_id)
        row = await RoomRow.get_or_none(id=room_id)
        if room is not None and row is not None:
            room.slow_mode_s = row.slow_mode_s

    # -- the write path ----------------------------------------------------------------------
    async def apply(self, ops: list[dict]) -> list[dict]:
        """Sends, edits, deletes and reactions, in order; one result per op once it is stored."""
        await self._ensure()
        loop = asyncio.get_running_loop()
        entries = [_Op(op, loop.create_future()) for op in ops]
        self.pending.extend(entries)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_loop())
        return list(await asyncio.gather(*(e.future for e in entries)))

    async def _write_loop(self) -> None:
        while self.pending:
            batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
            try:
                await self._write(batch)
            except Exception:
                log.exception("room shard write failed")
                for e in batch:
                    if not e.future.done():
                        e.future.set_result(unavailable("internal error while storing; retry"))

    async def _write(self, batch: list[_Op]) -> None:
        self.batch_hist[next((b for b in BATCH_BUCKETS if len(batch) <= b), BATCH_BUCKETS[-1])] += 1
        self.counters["batches"] += 1
        self.counters["batched_ops"] += len(batch)
        rooms: dict[int, Room] = {}
        for e in batch:
            rid = e.op["room_id"]
            if rid in rooms:
                continue
            try:
                rooms[rid] = await self.room(rid)
            except DomainError as err:
                e.result = refused(err)
            except PyMongoError:
                e.result = unavailable()
        for e in batch:  # every op of a room that failed to activate fails alike
            if e.result is None and e.op["room_id"] not in rooms:
                e.result = next(x.result for x in batch if x.op["room_id"] == e.op["room_id"] and x.result)
        try:
            for rid in list(self._dirty & set(rooms)):
                await self._load_position(rooms[rid])
                self._dirty.discard(rid)
        except PyMongoError:
            for e in batch:
                if e.result is None and e.op["room_id"] in self._dirty:
                    e.result = unavailable()
        unknown = {(rooms[e.op["room_id"]].club_id, e.op["user_id"]) for e in batch
                   if e.result is None and e.op["user_id"] not in rooms[e.op["room_id"]].members}
        if unknown:
            await self._lookup_members(unknown)

        todo = [e for e in batch if e.result is None]
        rounds = 0
        while todo and rounds < 3:
            rounds += 1
            todo = await self._plan_and_store(rooms, todo)
        for e in todo:
            e.result = unavailable("could not store after retries; retry with the same client_id")
        for e in batch:
            code = "ok" if e.result.get("ok") else e.result["error"]["code"]
            self.counters[f"{e.op['kind']}:{code}"] += 1
            if not e.future.done():
                e.future.set_result(e.result)

    async def _plan_and_store(self, rooms: dict[int, Room], todo: list[_Op]) -> list[_Op]:
        """Plan, store and commit one round; returns ops to plan again (after a conflict)."""
        now = time.time()
        cursors: dict[int, _Cursor] = {}
        planned: list[_Op] = []
        for e in todo:
            op, room = e.op, rooms[e.op["room_id"]]
            cur = cursors.get(room.room_id)
            if cur is None:
                cur = cursors[room.room_id] = _Cursor(room.last_seq, room.rev)
            try:
                if op["kind"] == "send":
                    known = room.known_ack(op["client_id"])
                    if known is not None:
                        e.result = {"ok": True, **known, "duplicate": True}
                        continue
                    if op["client_id"] in cur.client_ids:  # the same send twice in one batch
                        e.dup_of = cur.client_ids[op["client_id"]]
                        continue
                    p = room.plan_send(op["user_id"], op["client_id"], op["text"], op.get("reply_to_seq"), now,
                                       cur.seq + 1, cur.rev + 1, str(ObjectId()))
                    cur.seq, cur.rev = cur.seq + 1, cur.rev + 1
                    cur.client_ids[op["client_id"]] = e
                    cur.sends.append(p.message)
                else:
                    message = cur.changed.get(op["seq"]) or next(
                        (m for m in cur.sends if m["seq"] == op["seq"]), None) or room.cached(op["seq"])
                    if message is None:
                        message = await self._fetch(room.room_id, op["seq"])
                    if op["kind"] == "edit":
                        p = room.plan_edit(op["user_id"], message, op.get("text"), now, cur.rev + 1)
                    elif op["kind"] == "delete":
                        p = room.plan_delete(op["user_id"], message, cur.rev + 1)
                    else:
                        p = room.plan_reaction(op["user_id"], message, op["emoji"], op["kind"] == "react_add",
                                               cur.rev + 1, now)
                        if p is None:
                            e.result = {"ok": True}
                            continue
                    cur.rev += 1
                    cur.changed[op["seq"]] = p.message
                e.planned = p
                planned.append(e)
            except DomainError as err:
                e.result = refused(err)
            except PyMongoError:
                e.result = unavailable()
        sends = [e for e in planned if isinstance(e.planned, PlannedSend)]
        updates = [e for e in planned if isinstance(e.planned, PlannedUpdate)]
        retry: list[_Op] = []
        stored_sends: list[_Op] = sends
        if sends:
            docs = [_doc(e.planned) for e in sends]
            try:
                # Retried once on a dead pooled connection: if the first attempt did land, the
                # unique indexes turn the retry into the duplicate path below, never a second copy.
                await retry_once(lambda: self.messages.insert_many(docs, ordered=True))
            except BulkWriteError as exc:
                stored_sends, retry = await self._after_conflict(rooms, sends, exc)
            except PyMongoError as exc:
                log.warning("insert failed: %s", exc)
                stored_sends = []
                for e in sends:
                    e.result = unavailable()
                    self._dirty.add(e.op["room_id"])  # the write may have landed: re-read before reuse
        # Updates to a message sent in a failed insert cannot be stored either.
        sent_ok = {(e.op["room_id"], e.planned.message["seq"]) for e in stored_sends}
        stored_updates = []
        if updates:
            writable = [e for e in updates
                        if (e.op["room_id"], e.planned.message["seq"]) in sent_ok
                        or e.planned.message["seq"] <= rooms[e.op["room_id"]].last_seq]
            for e in updates:
                if e not in writable:
                    e.result = unavailable()
            if writable:
                try:
                    requests = [UpdateOne({"room_id": e.op["room_id"], "seq": e.planned.message["seq"]},
                                          {"$set": e.planned.fields}) for e in writable]
                    await retry_once(lambda: self.messages.bulk_write(requests, ordered=True))  # $set: idempotent
                    stored_updates = writable
                except PyMongoError as exc:
                    log.warning("update failed: %s", exc)
                    for e in writable:
                        e.result = unavailable()
        # Commit: only what was stored becomes the rooms' state.
        by_room: dict[int, list[PlannedSend]] = defaultdict(list)
        for e in stored_sends:
            by_room[e.op["room_id"]].append(e.planned)
            e.result = {"ok": True, **e.planned.ack}
        for rid, plist in by_room.items():
            rooms[rid].commit_sends(plist, now)
        moderation = []
        for e in stored_updates:
            room = rooms[e.op["room_id"]]
            room.commit_update(e.planned)
            e.result = {"ok": True}
            author = e.planned.message["author"]["id"]
            if e.op["kind"] == "delete" and author != e.op["user_id"]:
                moderation.append({"club_id": room.club_id, "actor_id": e.op["user_id"], "action": "delete_message",
                                   "target_user_id": author, "reason": "", "ts": datetime.now(timezone.utc),
                                   "details": {"room_id": room.room_id, "seq": e.planned.message["seq"]}})
        if moderation:  # a moderator deleting someone else's message is a moderation action
            try:
                await retry_once(lambda: self.audit_log.insert_many(moderation))
            except PyMongoError as exc:
                log.warning("audit log write failed: %s", exc)
        for e in todo:  # duplicates inside the batch share the first one's outcome
            if e.dup_of is not None:
                first, e.dup_of = e.dup_of, None
                if first.result is None:
                    retry.append(e)
                elif first.result.get("ok"):
                    e.result = {**first.result, "duplicate": True}
                else:
                    e.result = first.result
        await self._publish(by_room, stored_updates)
        return retry

    async def _after_conflict(self, rooms, sends: list[_Op], exc: BulkWriteError):
        """An ordered insert stopped at a duplicate key: keep what was stored, answer duplicates
        of an earlier client_id with the stored ack, and plan the rest again."""
        inserted = exc.details.get("nInserted", 0)
        stored, rest = sends[:inserted], sends[inserted:]
        by_room: dict[int, list[_Op]] = defaultdict(list)
        for e in rest:
            by_room[e.op["room_id"]].append(e)
        retry = []
        for rid, ops in by_room.items():
            existing = {}
            async for doc in self.messages.find({"room_id": rid, "client_id": {"$in": [e.op["client_id"] for e in ops]}}):
                existing[doc["client_id"]] = {"seq": doc["seq"], "rev": doc["rev"], "message_id": str(doc["_id"]),
                                              "ts": doc["ts"]}
            for e in ops:
                ack = existing.get(e.op["client_id"])
                if ack is not None:
                    rooms[rid].remember_ack(e.op["client_id"], ack)
                    e.result = {"ok": True, **ack, "duplicate": True}
                else:
                    e.planned = None
                    retry.append(e)
            self._dirty.add(rid)
        # Commit the stored prefix now; the retry round re-reads the rooms' positions.
        by_room_stored: dict[int, list] = defaultdict(list)
        for e in stored:
            by_room_stored[e.op["room_id"]].append(e.planned)
        for rid, plist in by_room_stored.items():
            rooms[rid].commit_sends(plist, time.time())
        for rid in list(self._dirty & set(rooms)):
            try:
                await self._load_position(rooms[rid])
                self._dirty.discard(rid)
            except PyMongoError:
                pass
        return stored, retry

    async def _fetch(self, room_id: int, seq: int) -> dict:
        doc = await self.messages.find_one({"room_id": room_id, "seq": seq})
        if doc is None:
            raise DomainError("not_found", f"no message {seq} in room {room_id}")
        return _message(doc)

    async def _publish(self, by_room: dict[int, list[PlannedSend]], updates: list[_Op]) -> None:
        async with self._publish_lock:  # the sweep republishes too: batches go out in seq order
            await self._publish_locked(by_room, updates)

    async def _publish_locked(self, by_room: dict[int, list[PlannedSend]], updates: list[_Op]) -> None:
        new = [{"room_id": rid, "messages": [p.message for p in plist]} for rid, plist in by_room.items()]
        # Batches stored while Redis was unreachable go out first, so gateways get every room in seq
        # order (a gateway that missed them anyway makes its sockets resume with since_seq).
        batches, self._unpublished = self._unpublished + new, []
        if not batches and not updates:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                if batches:
                    pipe.publish(self.channel, pubsub_message(ROOMS_EVENT, batches, None, host_id=self.host_id))
                    pipe.hset(ROOM_LAST_SEQ_KEY, mapping={b["room_id"]: b["messages"][-1]["seq"] for b in batches})
                if new:
                    # The activity stream (achievements), in the same round trip as the fan-out.
                    writers: set[tuple[int, int]] = set()
                    for b in new:
                        for m in b["messages"]:
                            pipe.xadd(ACTIVITY_STREAM, {"user_id": m["author"]["id"], "kind": "message_sent",
                                                        "ref": m["room_id"]}, maxlen=ACTIVITY_MAXLEN,
                                      approximate=True)
                            writers.add((m["author"]["id"], m["room_id"]))
                    # The feed's "message" signal: one per author and room per batch, not per message, so a
                    # busy room cannot outrun the interaction consumer.
                    now = repr(time.time())
                    for user_id, room_id in sorted(writers):
                        pipe.xadd(INTERACTION_STREAM, {"id": uuid.uuid4().hex, "user_id": user_id,
                                                       "item_type": "room", "item_id": room_id, "kind": "message",
                                                       "ts": now, "source": "server"},
                                  maxlen=INTERACTION_MAXLEN, approximate=True)
                for e in updates:
                    msg = e.planned.message
                    pipe.publish(self.channel, pubsub_message("message:updated", msg, f"room:{msg['room_id']}",
                                                              host_id=self.host_id))
                await pipe.execute()
        except Exception as exc:  # stored and acked regardless: published again on the next write or sweep
            self.counters["publish_errors"] += 1
            log.warning("publish failed: %s", exc)
            while sum(len(b["messages"]) for b in batches) > MAX_UNPUBLISHED:
                self.counters["unpublished_dropped"] += len(batches.pop(0)["messages"])  # sockets resync
            self._unpublished = batches

    # -- reads and presence ------------------------------------------------------------------
    async def join(self, room_id: int, user_id: int, socket_key: str, since_seq: int | None,
                   since_rev: int | None) -> dict:
        await self._ensure()
        try:
            room = await self.room(room_id)
            if user_id not in room.members:
                await self._lookup_members({(room.club_id, user_id)})
            first = room.join(user_id, socket_key)
        except DomainError as err:
            return refused(err)
        except PyMongoError:
            return unavailable("message store unavailable")
        result = {"ok": True, "room_id": room_id, "club_id": room.club_id, "last_seq": room.last_seq,
                  "rev": room.rev, "online": room.online_users(), "missed": [], "updated": [], "truncated": False}
        try:
            if since_seq is not None:
                missed = room.replay_from_ring(since_seq)
                if missed is None:
                    start = max(since_seq, room.last_seq - REPLAY_LIMIT)
                    result["truncated"] = start > since_seq
                    missed = await self._range(room_id, start, room.last_seq)
                result["missed"] = missed[-REPLAY_LIMIT:]
                if since_rev is not None and since_rev < room.rev:
                    cursor = self.messages.find({"room_id": room_id, "seq": {"$lte": since_seq},
                                                 "rev": {"$gt": since_rev}}).sort("seq", ASCENDING).limit(REPLAY_LIMIT)
                    result["updated"] = [_message(d) async for d in cursor]
        except PyMongoError:
            room.leave(user_id, socket_key)
            return unavailable("message store unavailable")
        if first:
            await self._presence(room, user_id, "online")
        return result

    async def leave(self, items: list[tuple[int, int, str]]) -> None:
        await self._ensure()
        for room_id, user_id, socket_key in items:
            room = self.rooms.get(room_id)
            if room is not None and room.leave(user_id, socket_key):
                await self._presence(room, user_id, "offline")

    async def history(self, room_id: int, user_id: int, before_seq: int | None, after_seq: int | None,
                      limit: int) -> dict:
        await self._ensure()
        try:
            room = await self.room(room_id)
            if user_id not in room.members:
                await self._lookup_members({(room.club_id, user_id)})
            room.member(user_id)
            if after_seq is not None:
                hi = room.last_seq if before_seq is None else min(before_seq - 1, room.last_seq)
                messages = await self._range(room_id, after_seq, min(hi, after_seq + limit))
            else:
                hi = room.last_seq if before_seq is None else min(before_seq - 1, room.last_seq)
                messages = await self._range(room_id, max(0, hi - limit), hi)
        except DomainError as err:
            return refused(err)
        except PyMongoError:
            return unavailable("message store unavailable")
        return {"ok": True, "messages": messages}

    async def _range(self, room_id: int, after: int, upto: int) -> list[dict]:
        """Messages with after < seq <= upto, ascending."""
        if upto <= after:
            return []
        async def read():
            cursor = self.messages.find({"room_id": room_id, "seq": {"$gt": after, "$lte": upto}}).sort("seq", ASCENDING)
            return [_message(d) async for d in cursor]

        return await retry_once(read)

    async def _presence(self, room: Room, user_id: int, status: str) -> None:
        # Like Discord in large guilds: past a size, presence changes are not broadcast (each one
        # would be a frame to every member: a join storm of N members costs N² frames). Members of
        # a big room get who is online from their room:join ack.
        if len(room.online) > self.config.get("presence_fanout_limit", 250):
            return
        room_id = room.room_id
        try:
            await self.redis.publish(self.channel, pubsub_message(
                "presence", {"room_id": room_id, "user_id": user_id, "status": status}, f"room:{room_id}",
                host_id=self.host_id))
        except Exception as exc:
            log.warning("presence publish failed: %s", exc)

    # -- live sessions -------------------------------------------------------------------------
    async def live_start(self, event_id: int, room_id: int, host_id: int) -> dict:
        await self._ensure()
        session = self.live.get(event_id)
        if session is None or session.status != "live":
            try:
                room = await self.room(room_id)
            except DomainError as err:
                return refused(err)
            session = self.live[event_id] = LiveSession(event_id, room_id, host_id, club_id=room.club_id)
        return {"ok": True, "state": session.state()}

    async def _live_member(self, session: LiveSession, user_id: int) -> Member:
        """The member acting in a session, read from its room (so a ban or leave is seen at once)."""
        room = await self.room(session.room_id)
        if user_id not in room.members:
            await self._lookup_members({(room.club_id, user_id)})
        return room.member(user_id)

    async def live_join(self, event_id: int, user_id: int, socket_key: str) -> dict:
        await self._ensure()
        session = self.live.get(event_id)
        if session is None:
            return refused(DomainError("not_found", f"event {event_id} is not live"))
        try:
            await self._live_member(session, user_id)
            session.join(user_id, socket_key)
        except DomainError as err:
            return refused(err)
        self._live_changed(session)
        return {"ok": True, "state": session.state()}

    async def live_leave(self, items: list[tuple[int, int, str]]) -> None:
        await self._ensure()
        for event_id, user_id, socket_key in items:
            session = self.live.get(event_id)
            if session is not None and session.leave(user_id, socket_key) and session.status == "live":
                self._live_changed(session)

    async def live_act(self, event_id: int, user_id: int, action: str, args: dict) -> dict:
        """One change to a live session; everyone in it gets the change as ``live:update``."""
        await self._ensure()
        session = self.live.get(event_id)
        if session is None:
            return refused(DomainError("not_found", f"event {event_id} is not live"))
        try:
            if action != "end":
                # Membership and timeouts come from the room, the same rules as sending a message.
                member = await self._live_member(session, user_id)
                if member.muted_until and member.muted_until > time.time():
                    raise DomainError("forbidden", "you are timed out in this club")
                if user_id not in session.present:
                    raise DomainError("forbidden", "join the live session first")
            result: dict = {"ok": True}
            if action == "hand":
                session.hand(user_id, args["raised"])
            elif action == "promote":
                session.promote(user_id, args["user_id"], args["role"])
            elif action == "ask":
                result["question_id"] = session.ask(user_id, args["text"])
            elif action == "upvote":
                session.upvote(user_id, args["question_id"])
            elif action == "answer":
                session.answer(user_id, args["question_id"])
            elif action == "poll":
                result["poll_id"] = session.poll(user_id, args["question"], args["options"])
            elif action == "vote":
                session.vote(user_id, args["poll_id"], args["option"])
            elif action == "close_poll":
                session.close_poll(user_id, args["poll_id"])
            elif action == "pin":
                session.pin(user_id, args["text"])
            elif action == "end":
                result["summary"] = session.end(user_id)
            else:
                return refused(DomainError("invalid", f"unknown live action {action}"))
        except DomainError as err:
            return refused(err)
        if session.status == "ended":
            self.live.pop(event_id, None)
            await self._flush_live(session)  # the last changes go out before the REST answer
        else:
            self._live_changed(session)
        return result

    async def live_state(self, event_id: int) -> dict | None:
        session = self.live.get(event_id)
        if session is None:
            return None
        return {**session.state(), "present_users": sorted(session.attendees)}

    def _live_remove(self, club_id: int, user_id: int) -> None:
        """A user left or was banned from a club: out of its live sessions at once, whatever their sockets do."""
        for session in self.live.values():
            if session.club_id == club_id and session.status == "live" and session.remove(user_id):
                self._live_changed(session)

    def _live_changed(self, session: LiveSession) -> None:
        """Changes within LIVE_COALESCE_S go out together as one ``live:update`` (a join storm is one frame
        per listener, not one per joiner)."""
        if session.event_id in self._live_flush_due:
            return
        self._live_flush_due.add(session.event_id)

        def flush() -> None:
            self._live_flush_due.discard(session.event_id)
            task = asyncio.ensure_future(self._flush_live(session))
            self._live_tasks.add(task)
            task.add_done_callback(self._live_tasks.discard)

        asyncio.get_running_loop().call_later(LIVE_COALESCE_S, flush)

    async def _flush_live(self, session: LiveSession) -> None:
        version, changes = session.take_changes()
        if not changes:
            return
        update = {"event_id": session.event_id, "version": version, "changes": changes}
        try:
            await self.redis.publish(self.channel, pubsub_message("live:update", update, f"live:{session.event_id}",
                                                                  host_id=self.host_id))
        except Exception as exc:  # listeners see the gap in version and re-join for the whole state
            self.counters["live_publish_errors"] += 1
            log.warning("live update publish failed: %s", exc)

    # -- housekeeping ------------------------------------------------------------------------
    async def sweep(self) -> dict:
        """Publish what Redis refused earlier, drop sockets of dead gateways and evict idle rooms."""
        if self._unpublished:  # a quiet room must not wait for its next message to be delivered
            await self._publish({}, [])
        dead = await dead_gateways(self.redis, (key for room in self.rooms.values()
                                                for socks in room.online.values() for key in socks))
        for gw in dead:
            for room in self.rooms.values():
                for user_id in room.drop_gateway(gw):
                    await self._presence(room, user_id, "offline")
        now = time.monotonic()
        idle_s = self.config.get("room_idle_s", ROOM_IDLE_S)
        evicted = [rid for rid, room in self.rooms.items() if room.idle_for(now) > idle_s]
        for rid in evicted:
            del self.rooms[rid]
        self.counters["evictions"] += len(evicted)
        return {"dead_gateways": dead, "evicted": evicted}

    async def stats(self) -> dict:
        return {"shard": self.index, "active_rooms": len(self.rooms),
                "online_sockets": sum(len(s) for r in self.rooms.values() for s in r.online.values()),
                "counters": dict(self.counters), "batch_sizes": dict(self.batch_hist)}

    async def ping(self) -> str:
        await self._ensure()
        return "pong"


def _member(row: dict) -> Member:
    muted = row.get("muted_until")
    return Member(row["user_id"], row.get("user__display_name") or f"user {row['user_id']}", str(row["role"].value
                  if hasattr(row["role"], "value") else row["role"]), muted.timestamp() if muted else None)


def _doc(p: PlannedSend) -> dict:
    doc = dict(p.message)
    doc["_id"] = ObjectId(doc.pop("message_id"))
    doc["client_id"] = p.client_id
    return doc


def _message(doc: dict) -> dict:
    """A stored document as the contract's message."""
    msg = {k: v for k, v in doc.items() if k not in ("_id", "client_id")}
    msg["message_id"] = str(doc["_id"])
    msg.setdefault("reactions", {})
    if "deleted" in msg:
        msg["deleted"] = bool(msg["deleted"])  # some MongoDB-wire servers return booleans as 0/1
    return msg


RoomShard = ray.remote(RoomShardHost)
