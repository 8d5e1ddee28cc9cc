"""``RoomShard``: a Ray actor hosting many ``Room`` objects (Orleans-style virtual actors).

A room is activated on first use (its club's members from PostgreSQL, its last seq and rev from
MongoDB, its sockets from Redis) and evicted when idle (``actors.hosting``). Every change goes through
the shard's group-commit writer (``actors.writer``); stored messages reach the gateways holding sockets
in their room through the fan-out (``actors.fanout``); the live sessions of the shard's rooms are hosted
alongside them (``actors.live_host``).

Remote methods answer a success payload (a plain dict) or a ``DomainError`` (the refusal, returned
rather than raised so Ray hands it back as it is).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections import Counter
from collections.abc import Collection, Mapping
from typing import Any

import ray
from pymongo.errors import PyMongoError

from storage import keys
from storage.janus import AudioRooms

from .config import ActorConfig
from .domain.errors import DomainError
from .domain.room import REPLAY_LIMIT, Member, Room
from .fanout import Fanout, MessageFanout, RoomSockets, notice_entry, notifies
from .hosting import Activations, OpenOnce, TaskSet, every
from .live_host import LiveHost
from .members import MemberDirectory
from .messages import MessageStore
from .writer import GroupCommitWriter, Result

log = logging.getLogger(__name__)

STORE_UNAVAILABLE = "message store unavailable"
REDIS_TIMEOUT_S = 2.0
# At most this many stored-but-never-published messages are published on activation; a socket further
# behind sees the gap at that batch and resumes with since_seq.
OWED_TAIL_MAX = 200


class RoomShardHost:
    """The actor's body; a plain class so a test can host it without Ray when it wants to."""

    def __init__(self, index: int, config: ActorConfig | Mapping[str, Any]) -> None:
        self.index = index
        self.config = ActorConfig.of(config)
        self.host_id = f"room-shard-{index}"
        # Ray runs __init__ again when it restarts the shard: /metrics shows each restart as a new start time.
        self.started = time.time()
        self.counters: Counter[str] = Counter()
        self.tasks = TaskSet()
        self.members = MemberDirectory()
        self.rooms: Activations[int, Room] = Activations(self._activate)
        self.fanout = Fanout(None, self.config.channel, self.host_id)  # connected when opened
        self.messages_out = MessageFanout(self.fanout, self.counters, self._audience)
        self.sockets = RoomSockets(None, self.counters, REDIS_TIMEOUT_S)  # connected when opened
        # Rooms activated while Redis did not answer: their stored sockets are taken back by the sweep.
        self._unrestored: set[int] = set()
        # Live sessions are stored through the shard's MongoDB client (connected when the shard opens).
        db, timeout_s = (lambda: self.mongo_client[self.config.mongo_db]), self.config.mongo_timeout_ms / 1000
        keys = self.config.janus_keys()  # live sessions' audio, when there is a media server
        audio = (
            AudioRooms(
                keys,
                talking_packets=self.config.janus_talking_packets,
                talking_dbov=self.config.janus_talking_dbov,
            )
            if keys
            else None
        )
        self.live = LiveHost(
            self.rooms, self._member, self.fanout, self.counters, self.tasks, db, timeout_s, audio
        )
        self._open = OpenOnce(self._connect)

    # -- set-up ------------------------------------------------------------------------------
    async def _connect(self) -> None:
        from storage import mongo as mongo_store
        from storage.postgres import init_tortoise, tortoise_config
        from storage.redis import connect_redis

        c = self.config
        await init_tortoise(tortoise_config(c.postgres_url))
        self.mongo_client = mongo_store.connect_mongo(c.mongo_url, timeout_ms=c.mongo_timeout_ms)
        db = self.mongo_client[c.mongo_db]
        self.store = MessageStore(db[mongo_store.MESSAGES], db[mongo_store.AUDIT_LOG])
        self.redis = connect_redis(c.redis_url)
        self.fanout.redis = self.redis
        self.sockets.redis = self.redis
        self.writer = GroupCommitWriter(
            self.rooms, self.store, self.members, self.messages_out.publish, self.counters, self.tasks
        )
        self.tasks.spawn(every(c.housekeeping_s, self.sweep, "room shard"))
        # What is alive now (Ray, the drivers, the ORM) lives as long as the process: out of the collector's
        # reach, so a full collection walks only the rooms' own objects (as in the gateway, where one such
        # collection held the event loop 300 ms: gateway/core/loop_health.py).
        gc.collect()
        gc.freeze()

    # -- activation --------------------------------------------------------------------------
    async def _activate(self, room_id: int) -> Room:
        from storage.models import Room as RoomRow

        row = await RoomRow.get_or_none(id=room_id)
        if row is None:
            raise DomainError("not_found", f"no such room: {room_id}")
        kind = str(getattr(row.kind, "value", row.kind))
        room = Room(room_id=room_id, club_id=row.club_id or 0, slow_mode_s=row.slow_mode_s, kind=kind)
        if room.is_dm:
            room.members.update(await self.members.dm(room_id))
            await self._dm_rules(room)
        else:
            room.members.update(await self.members.club(room.club_id))
            room.automod = await self._automod(room.club_id)
        await self.store.load_position(room)
        await self._restore_sockets(room)
        await self._owe_unpublished(room)
        self.counters["activations"] += 1
        return room

    async def _owe_unpublished(self, room: Room) -> None:
        """A shard that died between storing a batch and publishing it left messages no gateway got: the
        room's published seq (``keys.ROOM_LAST_SEQ``, written with every publish) is behind the store.
        They are published now, before anything newer, so the members of a quiet room get them without
        waiting for its next message; a gateway drops what its sockets already have."""
        try:
            last = self.redis.hget(keys.ROOM_LAST_SEQ, str(room.room_id))
            published = int(await asyncio.wait_for(last, REDIS_TIMEOUT_S) or 0)  # type: ignore[arg-type]
            if published >= room.last_seq:
                return
            tail = await self.store.range(
                room.room_id, max(published, room.last_seq - OWED_TAIL_MAX), room.last_seq
            )
        except Exception as exc:  # not worse than before: the next batch reveals the gap to the gateways
            log.warning("room %s: unpublished tail not checked: %s", room.room_id, exc)
            return
        if tail:
            self.counters["owed_republished"] += len(tail)
            self.messages_out.owe({"room_id": room.room_id, "messages": tail})
            # Their notices died with the publish: again (a notification is created once per cause).
            for m in filter(notifies, tail):
                self.messages_out.owe_notice(notice_entry(m, room.club_id, None))
            # Runs once the room is active (so it has an audience), behind the writer's publish lock.
            self.tasks.spawn(self.writer.publish([], []))

    async def _restore_sockets(self, room: Room) -> None:
        """After a restart (or an eviction) the sockets this room held before, so its batches go on
        reaching their gateways. Redis not answering does not stop the room: the sweep tries again,
        and a socket that missed a batch meanwhile resumes with ``since_seq`` at the next one."""
        try:
            stored = await self.sockets.load(room.room_id)
        except Exception as exc:
            log.warning("room %s: stored sockets not readable: %s", room.room_id, exc)
            self._unrestored.add(room.room_id)
            return
        self._unrestored.discard(room.room_id)
        stale = room.restore(stored)
        self.counters["sockets_restored"] += len(stored) - len(stale)
        await self.sockets.remove({room.room_id: stale})

    def _audience(self, room_id: int) -> Collection[str]:
        room = self.rooms.get(room_id)
        return room.gateway_ids() if room is not None else ()

    async def audience(self, room_id: int) -> list[str]:
        """The gateways a batch of this room goes to now (operations and tests)."""
        return sorted(self._audience(room_id))

    async def _member_room(self, room_id: int, user_id: int) -> Room:
        """The active room, with ``user_id`` looked up if they joined the club after it was activated."""
        room = await self.rooms(room_id)
        if user_id not in room.members:
            await self.members.lookup({(room.club_id, user_id)}, self.rooms.values())
        return room

    async def _member(self, room_id: int, user_id: int) -> Member:
        return (await self._member_room(room_id, user_id)).member(user_id)

    async def member_changed(self, club_id: int, user_id: int) -> None:
        """A membership changed (join, role, timeout, leave, ban): refresh it in the active rooms."""
        await self._open()
        member = await self.members.refresh(club_id, user_id)
        gone: dict[int, list[str]] = {}
        for room in self.rooms.values():
            if room.club_id == club_id and not room.is_dm:
                gone[room.room_id] = room.set_member(member, user_id)
        await self.sockets.remove(gone)
        # Shared clubs decide who may write in a DM (the club_members policy).
        await self.dm_changed([user_id])
        if member is None:
            self.live.remove(club_id, user_id)

    @staticmethod
    async def _automod(club_id: int):
        from storage.models import ClubAutomod

        from .domain.automod import AutoMod

        rows = await ClubAutomod.filter(club_id=club_id).values(
            "blocked_terms", "link_min_member_age_s", "max_mentions"
        )
        return AutoMod.of(rows[0] if rows else None)

    @staticmethod
    async def _dm_rules(room: Room) -> None:
        from storage import dms

        room.dm_refused = await dms.refusals(sorted(room.members))

    async def automod_changed(self, club_id: int) -> None:
        """A club's auto-moderation rules changed: its active rooms apply the new ones from now on."""
        await self._open()
        rooms = [r for r in self.rooms.values() if r.club_id == club_id and not r.is_dm]
        if rooms:
            rules = await self._automod(club_id)
            for room in rooms:
                room.automod = rules

    async def dm_changed(self, user_ids: list[int]) -> None:
        """A block, a DM policy or a club membership of these users changed: the active DM rooms they
        are in check who may write again."""
        await self._open()
        wanted = set(user_ids)
        for room in list(self.rooms.values()):
            if room.is_dm and wanted & room.members.keys():
                await self._dm_rules(room)

    async def room_changed(self, room_id: int) -> None:
        """Room settings changed in PostgreSQL (slow mode): re-read them if the room is active."""
        from storage.models import Room as RoomRow

        await self._open()
        room = self.rooms.get(room_id)
        row = await RoomRow.get_or_none(id=room_id)
        if room is not None and row is not None:
            room.slow_mode_s = row.slow_mode_s

    # -- the write path ----------------------------------------------------------------------
    async def apply(self, ops: list[dict], sent_at: float | None = None) -> list[Result]:
        """Sends, edits, deletes and reactions, in order; one answer per op once it is stored."""
        await self._open()
        return await self.writer.apply(ops, sent_at)

    # -- reads and presence ------------------------------------------------------------------
    async def join(
        self, room_id: int, user_id: int, socket_key: str, since_seq: int | None, since_rev: int | None
    ) -> dict | DomainError:
        await self._open()
        try:
            room = await self._member_room(room_id, user_id)
            first = room.join(user_id, socket_key)
        except DomainError as err:
            return err
        except PyMongoError:
            return DomainError("unavailable", STORE_UNAVAILABLE)
        result = {
            "room_id": room_id,
            "club_id": room.club_id,
            "last_seq": room.last_seq,
            "rev": room.rev,
            "online": room.online_users(),
            "missed": [],
            "updated": [],
            "truncated": False,
        }
        try:
            if since_seq is not None:
                result.update(await self._replay(room, since_seq, since_rev))
        except PyMongoError:
            room.leave(user_id, socket_key)
            return DomainError("unavailable", STORE_UNAVAILABLE)
        await self.sockets.add(room_id, user_id, socket_key)
        if first:
            await self._presence(room, user_id, "online")
        return result

    async def _replay(self, room: Room, since_seq: int, since_rev: int | None) -> dict:
        """What a rejoining socket missed: new messages after ``since_seq`` and changes after ``since_rev``."""
        out: dict[str, Any] = {}
        missed = room.replay_from_ring(since_seq)
        if missed is None:
            start = max(since_seq, room.last_seq - REPLAY_LIMIT)
            out["truncated"] = start > since_seq
            missed = await self.store.range(room.room_id, start, room.last_seq)
        out["missed"] = missed[-REPLAY_LIMIT:]
        if since_rev is not None and since_rev < room.rev:
            out["updated"] = await self.store.changed_since(room.room_id, since_seq, since_rev)
        return out

    async def leave(self, items: list[tuple[int, int, str]]) -> None:
        await self._open()
        gone: dict[int, list[str]] = {}
        for room_id, user_id, socket_key in items:
            # Forgotten in Redis even when the room is not active here (a leave retried by Ray onto a
            # restarted shard), so a later activation does not take the socket back.
            gone.setdefault(room_id, []).append(socket_key)
            room = self.rooms.get(room_id)
            if room is not None and room.leave(user_id, socket_key):
                await self._presence(room, user_id, "offline")
        await self.sockets.remove(gone)

    async def history(
        self, room_id: int, user_id: int, before_seq: int | None, after_seq: int | None, limit: int
    ) -> dict | DomainError:
        await self._open()
        try:
            room = await self._member_room(room_id, user_id)
            room.member(user_id)
            hi = room.last_seq if before_seq is None else min(before_seq - 1, room.last_seq)
            if after_seq is not None:
                messages = await self.store.range(room_id, after_seq, min(hi, after_seq + limit))
            else:
                messages = await self.store.range(room_id, max(0, hi - limit), hi)
        except DomainError as err:
            return err
        except PyMongoError:
            return DomainError("unavailable", STORE_UNAVAILABLE)
        return {"messages": messages}

    async def thread(
        self, room_id: int, user_id: int, root_seq: int, after_seq: int, limit: int
    ) -> dict | DomainError:
        """The replies in a thread, ascending, after ``after_seq``; with the root message."""
        await self._open()
        try:
            room = await self._member_room(room_id, user_id)
            room.member(user_id)
            if not 1 <= root_seq <= room.last_seq:
                return DomainError("not_found", f"no message {root_seq} in room {room_id}")
            root = room.cached(root_seq) or await self.store.fetch(room_id, root_seq)
            replies = await self.store.thread(room_id, root_seq, after_seq, limit)
        except DomainError as err:
            return err
        except PyMongoError:
            return DomainError("unavailable", STORE_UNAVAILABLE)
        return {"root": root, "messages": replies}

    async def pins(self, room_id: int, user_id: int) -> dict | DomainError:
        """The room's pinned messages, most recently pinned first."""
        await self._open()
        try:
            room = await self._member_room(room_id, user_id)
            room.member(user_id)
            if room.pins is None:
                room.pins = await self.store.pins(room_id)
            messages = await self.store.pinned(room_id, room.pinned_seqs())
        except DomainError as err:
            return err
        except PyMongoError:
            return DomainError("unavailable", STORE_UNAVAILABLE)
        messages.sort(key=lambda m: m["pinned"]["at"], reverse=True)
        return {"rev": room.rev, "pins": messages}

    async def last_messages(self, room_ids: list[int]) -> dict[int, dict]:
        """Each room's newest message (DM lists): from the ring of an active room, else the store."""
        await self._open()
        out: dict[int, dict] = {}
        cold = []
        for room_id in room_ids:
            room = self.rooms.get(room_id)
            if room is not None and room.recent and room.recent[-1]["seq"] == room.last_seq:
                out[room_id] = room.recent[-1]
            else:
                cold.append(room_id)
        try:
            out.update(await self.store.last_messages(cold))
        except PyMongoError:
            pass  # listed without a preview
        return out

    async def _presence(self, room: Room, user_id: int, status: str) -> None:
        # Like Discord in large guilds: past a size, presence changes are not broadcast (each one
        # would be a frame to every member: a join storm of N members costs N² frames). Members of
        # a big room get who is online from their room:join ack.
        if len(room.online) > self.config.presence_fanout_limit:
            return
        try:
            await self.fanout.presence(room.room_id, user_id, status)
        except Exception as exc:
            log.warning("presence publish failed: %s", exc)

    # -- live sessions -------------------------------------------------------------------------
    async def live_start(self, event_id: int, room_id: int, host_id: int) -> dict | DomainError:
        await self._open()
        return await self.live.start(event_id, room_id, host_id)

    async def live_join(self, event_id: int, user_id: int, socket_key: str) -> dict | DomainError:
        await self._open()
        return await self.live.join(event_id, user_id, socket_key)

    async def live_leave(self, items: list[tuple[int, int, str]]) -> None:
        await self._open()
        self.live.leave(items)

    async def live_act(self, event_id: int, user_id: int, action: str, args: dict) -> dict | DomainError:
        """One change to a live session; everyone in it gets the change as ``live:update``."""
        await self._open()
        return await self.live.act(event_id, user_id, action, args)

    async def live_state(self, event_id: int) -> dict | DomainError | None:
        # A shard Ray restarted holds no session in memory: restore it from the store, so ending a session right
        # after a restart still credits its attendees.
        await self._open()
        return await self.live.restored_state(event_id)

    # -- housekeeping ------------------------------------------------------------------------
    async def sweep(self) -> dict:
        """Publish what Redis refused earlier, drop sockets of dead gateways and evict idle rooms."""
        for room_id in list(self._unrestored):
            room = self.rooms.get(room_id)
            if room is None:
                self._unrestored.discard(room_id)
            else:
                await self._restore_sockets(room)
        if self.messages_out.behind:  # a quiet room must not wait for its next message to be delivered
            await self.writer.publish([], [])
        held = {room_id: set(room.gateway_ids()) for room_id, room in self.rooms.items()}
        swept = await self.rooms.sweep(self.redis, self.config.room_idle_s)
        dropped: dict[str, list[int]] = {}
        for gateway, room_id, room, gone in swept.dropped:
            if gateway in held.get(room_id, ()):
                dropped.setdefault(gateway, []).append(room_id)
            for user_id in gone:
                await self._presence(room, user_id, "offline")
        for gateway, room_ids in dropped.items():
            await self.sockets.forget_gateway(room_ids, gateway)
        # A room activated again meanwhile has written its new sockets: its hash stays.
        await self.sockets.forget_rooms([r for r in swept.evicted if r not in self.rooms])
        self.counters["evictions"] += len(swept.evicted)
        return {"dead_gateways": swept.dead_gateways, "evicted": swept.evicted}

    async def stats(self) -> dict:
        batch_sizes = dict(self.writer.batch_hist) if self._open.opened else {}
        return {
            "shard": self.index,
            "active_rooms": len(self.rooms),
            "online_sockets": sum(1 for _ in self.rooms.socket_keys()),
            "counters": dict(self.counters),
            "batch_sizes": batch_sizes,
            # Where Ray placed (or, after a node died, re-placed) this shard: /metrics shows it.
            "node": ray.get_runtime_context().get_node_id() if ray.is_initialized() else None,
            "started": self.started,
        }

    async def ping(self) -> str:
        await self._open()
        return "pong"


# Typed as Any: Ray's stubs type a handle's methods as the plain methods, without ``.remote``.
RoomShard: Any = ray.remote(RoomShardHost)
