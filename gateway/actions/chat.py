"""Chat actions (Zulip-style, one function per action) and the way to the shards.

Both transports call these: Socket.IO events and the REST routes. Each action returns the
contract's ack body (``{"ok": true, ...}`` or ``{"ok": false, "error": {...}}``).

Hot path: ``send`` goes through a per-shard ``ShardBatcher`` that coalesces whatever arrives within
``flush_ms`` (or ``max_items``) into one Ray call; there is no Ray call per message.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid

import ray

from actors.hashing import jump_hash
from actors.housekeeping import GATEWAY_KEY
from actors.interactions import InteractionConsumer
from actors.interactions import append as append_interactions
from actors.ranker import Ranker
from actors.room_shard import ROOM_LAST_SEQ_KEY, RoomShard
from actors.runtime import NAMESPACE
from actors.session_shard import READ_KEY, SessionShard
from storage.redis import ACTIVITY_MAXLEN, ACTIVITY_STREAM
from storage.settings import Settings

from .limits import UserBuckets

log = logging.getLogger(__name__)

UNAVAILABLE = {"ok": False, "error": {"code": "unavailable", "message": "chat service unavailable; retry"}}


def error(code: str, message: str) -> dict:
    return {"ok": False, "error": {"code": code, "message": message}}


class ShardBatcher:
    """Coalesces operations bound for one shard into one Ray call (flush at ~2 ms or ~256)."""

    def __init__(self, handle, flush_ms: float, max_items: int, metrics=None) -> None:
        self.handle = handle
        self.flush_s = flush_ms / 1000.0
        self.max_items = max_items
        self.metrics = metrics
        self.items: list[tuple[dict, asyncio.Future]] = []
        self._timer: asyncio.TimerHandle | None = None
        # Calls in flight, referenced until done: the loop keeps only weak references to tasks, and a
        # collected one would leave its senders waiting for ever.
        self._sending: set[asyncio.Task] = set()

    async def submit(self, op: dict) -> dict:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self.items.append((op, fut))
        if len(self.items) >= self.max_items:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.flush_s, self._flush)
        return await fut

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        items, self.items = self.items, []
        if items:
            task = asyncio.ensure_future(self._send(items))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, items) -> None:
        if self.metrics is not None:
            self.metrics.gateway_batch.observe(len(items))
        try:
            results = await self.handle.apply.remote([op for op, _ in items])
        except Exception as exc:  # actor died mid-call (and retries ran out), cluster gone…
            log.warning("room shard call failed: %s", exc)
            results = [UNAVAILABLE] * len(items)
        for (_, fut), result in zip(items, results):
            if not fut.done():
                fut.set_result(result)


class Chat:
    def __init__(self, settings: Settings, urls: dict, redis, metrics=None) -> None:
        self.settings = settings
        self.redis = redis
        self.metrics = metrics
        self.gateway_id = uuid.uuid4().hex[:12]
        detached = settings.detached_actors if settings.detached_actors is not None else bool(settings.ray_address)
        config = {
            "postgres_url": urls["postgres"],
            "mongo_url": urls["mongo"], "mongo_db": _mongo_db(urls["mongo"], settings.mongo_db),
            "redis_url": urls["redis"], "channel": settings.socketio_channel,
            "room_idle_s": settings.room_idle_s, "housekeeping_s": settings.housekeeping_s,
            "presence_fanout_limit": settings.presence_fanout_limit,
            "ranker_reload_s": settings.ranker_reload_s,
        }
        options = dict(namespace=NAMESPACE, get_if_exists=True, max_restarts=-1, max_task_retries=-1,
                       max_concurrency=10_000, num_cpus=0, lifetime="detached" if detached else None)
        self.room_shards = [RoomShard.options(name=f"clubhub-room-shard-{i}", **options).remote(i, config)
                            for i in range(settings.room_shards)]
        self.session_shards = [SessionShard.options(name=f"clubhub-session-shard-{i}", **options).remote(i, config)
                               for i in range(settings.session_shards)]
        self.batchers = [ShardBatcher(h, settings.batch_flush_ms, settings.batch_max_items, metrics)
                         for h in self.room_shards]
        self.consumer = InteractionConsumer.options(name="clubhub-interaction-consumer", **options).remote(config)
        # Feeds are CPU work (features, one prediction): several ranker actors spread it over cores.
        self.rankers = [Ranker.options(name=f"clubhub-ranker-{i}", **options).remote(config)
                        for i in range(settings.rankers)]
        self.send_limits = UserBuckets(settings.user_msg_rate, settings.user_msg_burst)
        self._typing: dict[tuple[int, int], float] = {}
        self._heartbeat: asyncio.Task | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        await self._beat()
        await asyncio.gather(*(h.ping.remote() for h in self.room_shards + self.session_shards))
        await asyncio.gather(self.consumer.start.remote(), *(r.start.remote() for r in self.rankers))
        self._heartbeat = asyncio.create_task(self._heartbeats())

    async def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        try:
            await self.redis.delete(GATEWAY_KEY + self.gateway_id)
        except Exception:
            pass

    async def _beat(self) -> None:
        # Shards forget the sockets of a gateway whose key expired (it died without saying so).
        await self.redis.set(GATEWAY_KEY + self.gateway_id, 1, ex=max(3, int(self.settings.housekeeping_s * 3)))

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(max(1.0, self.settings.housekeeping_s))
            try:
                await self._beat()
                # Idempotent; restarts the actors' loops after Ray restarted them.
                await asyncio.gather(self.consumer.start.remote(), *(r.start.remote() for r in self.rankers))
            except Exception as exc:
                log.warning("gateway heartbeat failed: %s", exc)

    def ranker(self, user_id: int):
        return self.rankers[jump_hash(user_id, len(self.rankers))]

    def room_shard(self, room_id: int):
        return self.room_shards[jump_hash(room_id, len(self.room_shards))]

    def session_shard(self, user_id: int):
        return self.session_shards[jump_hash(user_id, len(self.session_shards))]

    def socket_key(self, sid: str) -> str:
        return f"{self.gateway_id}/{sid}"

    async def shard_stats(self) -> list[dict]:
        async def one(kind, handle):
            try:
                return {"kind": kind, **(await asyncio.wait_for(handle.stats.remote(), 2.0))}
            except Exception:
                return None

        stats = await asyncio.gather(*[one("room", h) for h in self.room_shards],
                                     *[one("session", h) for h in self.session_shards])
        return [s for s in stats if s]

    # -- actions -----------------------------------------------------------------------------
    async def send(self, user_id: int, room_id: int, client_id: str, text: str, reply_to_seq: int | None) -> dict:
        wait = self.send_limits.wait(user_id)
        if wait > 0:
            return error("rate_limited", f"too many messages: wait {wait:.1f}s")
        op = {"kind": "send", "room_id": room_id, "user_id": user_id, "client_id": client_id, "text": text,
              "reply_to_seq": reply_to_seq}
        return await self._apply(room_id, op)

    async def edit(self, user_id: int, room_id: int, seq: int, text: str) -> dict:
        return await self._apply(room_id, {"kind": "edit", "room_id": room_id, "user_id": user_id, "seq": seq,
                                           "text": text})

    async def delete(self, user_id: int, room_id: int, seq: int) -> dict:
        return await self._apply(room_id, {"kind": "delete", "room_id": room_id, "user_id": user_id, "seq": seq})

    async def react(self, user_id: int, room_id: int, seq: int, emoji: str, add: bool) -> dict:
        kind = "react_add" if add else "react_remove"
        return await self._apply(room_id, {"kind": kind, "room_id": room_id, "user_id": user_id, "seq": seq,
                                           "emoji": emoji})

    async def _apply(self, room_id: int, op: dict) -> dict:
        index = jump_hash(room_id, len(self.room_shards))
        return await self.batchers[index].submit(op)

    async def join(self, user_id: int, room_id: int, sid: str, since_seq: int | None, since_rev: int | None) -> dict:
        try:
            return await self.room_shard(room_id).join.remote(room_id, user_id, self.socket_key(sid), since_seq,
                                                              since_rev)
        except ray.exceptions.RayError as exc:
            log.warning("room join failed: %s", exc)
            return UNAVAILABLE

    async def room_access(self, user_id: int, room_id: int) -> dict | None:
        """None when the user may enter the room's broadcasts, else the refusal: the club's visibility rule
        (``visibility.visible_room``: ``not_found`` to a private club's outsider), then membership."""
        from .errors import ApiError
        from .visibility import visible_room

        try:
            _room, _club, role = await visible_room(room_id, user_id)
        except ApiError as exc:
            return error(exc.code, exc.message)
        if role is None:
            return error("forbidden", f"you are not a member of the club of room {room_id}")
        return None

    async def leave(self, user_id: int, sid: str, room_ids: list[int]) -> None:
        by_shard: dict[int, list] = {}
        for room_id in room_ids:
            by_shard.setdefault(jump_hash(room_id, len(self.room_shards)), []).append(
                (room_id, user_id, self.socket_key(sid)))
        calls = [self.room_shards[i].leave.remote(items) for i, items in by_shard.items()]
        results = await asyncio.gather(*calls, return_exceptions=True)
        for r in results:
            if isinstance(r, Exception):
                log.warning("room leave failed: %s", r)

    async def history(self, user_id: int, room_id: int, before_seq: int | None, after_seq: int | None,
                      limit: int) -> dict:
        try:
            return await self.room_shard(room_id).history.remote(room_id, user_id, before_seq, after_seq, limit)
        except ray.exceptions.RayError:
            return UNAVAILABLE

    async def connected(self, user_id: int, sid: str) -> None:
        await self.session_shard(user_id).connect.remote(user_id, self.socket_key(sid))

    async def disconnected(self, user_id: int, sid: str) -> None:
        try:
            await self.session_shard(user_id).disconnect.remote(user_id, self.socket_key(sid))
        except ray.exceptions.RayError as exc:
            log.warning("session disconnect failed: %s", exc)

    async def read(self, user_id: int, room_id: int, seq: int, sid: str) -> dict:
        try:
            return await self.session_shard(user_id).read.remote(user_id, room_id, seq, sid)
        except ray.exceptions.RayError:
            return UNAVAILABLE

    def typing_allowed(self, user_id: int, room_id: int) -> bool:
        """At most one typing signal per user and room every ``typing_interval_s``."""
        now = time.monotonic()
        key = (user_id, room_id)
        if now - self._typing.get(key, -1e9) < self.settings.typing_interval_s:
            return False
        self._typing[key] = now
        if len(self._typing) > 100_000:
            cutoff = now - self.settings.typing_interval_s
            self._typing = {k: t for k, t in self._typing.items() if t > cutoff}
        return True

    async def unread(self, user_id: int) -> dict[str, int]:
        from storage.models import Membership, Room

        club_ids = await Membership.filter(user_id=user_id).values_list("club_id", flat=True)
        room_ids = await Room.filter(club_id__in=list(club_ids)).values_list("id", flat=True)
        if not room_ids:
            return {}
        last = await self.redis.hmget(ROOM_LAST_SEQ_KEY, [str(r) for r in room_ids])
        read = await self.redis.hgetall(READ_KEY + str(user_id))
        read = {int(k): int(v) for k, v in read.items()}
        return {str(r): max(0, int(l or 0) - read.get(r, 0)) for r, l in zip(room_ids, last)}

    async def member_changed(self, club_id: int, user_id: int) -> None:
        """A club's rooms may live on any shard: every shard refreshes the member."""
        await asyncio.gather(*(h.member_changed.remote(club_id, user_id) for h in self.room_shards))

    async def room_changed(self, room_id: int) -> None:
        await self.room_shard(room_id).room_changed.remote(room_id)

    async def online_users(self, user_ids: list[int]) -> list[int]:
        by_shard: dict[int, list[int]] = {}
        for u in user_ids:
            by_shard.setdefault(jump_hash(u, len(self.session_shards)), []).append(u)
        try:
            parts = await asyncio.gather(*(self.session_shards[i].online.remote(us) for i, us in by_shard.items()))
        except ray.exceptions.RayError:
            return []
        return [u for part in parts for u in part]

    async def activity(self, user_id: int, kind: str, ref: int) -> None:
        """Append to the activity stream (Redis Streams) that achievements are awarded from."""
        await self.redis.xadd(ACTIVITY_STREAM, {"user_id": user_id, "kind": kind, "ref": ref},
                              maxlen=ACTIVITY_MAXLEN, approximate=True)

    async def interactions(self, user_id: int, items: list[dict], source: str = "client") -> int:
        """Append interactions to the stream the consumer actor turns into stored facts and signals.

        A client's batch (``source="client"``) is rate limited per user and refused with ``not_found`` (naming
        the first one) when any item is one the caller cannot see; nothing of a refused batch is stored. Ids
        are namespaced: ``u<user_id>:<client id>`` for a client's, ``s:<id>`` for the server's, so an id stays
        idempotent for its owner and no one can take over another user's or the server's id.
        """
        from .errors import ApiError
        from .ratelimit import INTERACTIONS_PER_MINUTE, RateLimiter
        from .visibility import first_invisible_item

        client = source == "client"
        if client:
            await RateLimiter(self.redis).enforce([f"interactions:user:{user_id}"], INTERACTIONS_PER_MINUTE, 60,
                                                  "interaction batches")
            hidden = await first_invisible_item(user_id, [(it["item_type"], it["item_id"]) for it in items])
            if hidden is not None:
                raise ApiError("not_found", f"no such {hidden[0]}: {hidden[1]}")
        namespace = f"u{user_id}:" if client else "s:"
        now = repr(time.time())
        await append_interactions(self.redis, [
            {"id": namespace + (it.get("interaction_id") or uuid.uuid4().hex), "user_id": user_id,
             "item_type": it["item_type"], "item_id": it["item_id"], "kind": it["kind"], "ts": now,
             "source": source, "dwell_ms": it.get("dwell_ms")} for it in items])
        return len(items)

    async def signal(self, user_id: int, item_type: str, item_id: int, kind: str,
                     interaction_id: str | None = None) -> None:
        """A server-side signal (a room joined, an RSVP, a club joined, a live session attended), best effort;
        stored under ``s:<interaction_id>`` (a fresh id when none is given)."""
        try:
            await self.interactions(user_id, [{"item_type": item_type, "item_id": item_id, "kind": kind,
                                               "interaction_id": interaction_id}], "server")
        except Exception as exc:
            log.warning("signal not recorded: %s", exc)


def _mongo_db(url: str, default: str) -> str:
    from storage.mongo import database_name

    return database_name(url, default)
