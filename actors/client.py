"""The gateway's way to the actors: one handle per shard, ranker and consumer, and the calls over Ray.

Every call answers the actor's success (a dict without the legacy ``"ok": True``) or raises
``DomainError``: an actor's refusal (a returned ``DomainError``, or the legacy ``{"ok": False, "error"}``)
as it is, and a call Ray could not complete as ``unavailable``.

Hot paths: ``apply`` goes through a per-shard ``ShardBatcher`` that coalesces whatever arrives while the
shard's calls are out into one Ray call, and ``feed`` through one per ranker; there is no Ray call per
message or per feed under load.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable
from typing import Any

import ray

from storage import keys
from storage.settings import Settings

from .config import ActorConfig
from .domain.errors import DomainError
from .hashing import jump_hash
from .indexer import SearchIndexer
from .interactions import InteractionConsumer
from .media_worker import MediaWorker
from .notifier import Notifier
from .push import vapid_key
from .ranker import FEED_UNAVAILABLE, Ranker
from .room_shard import RoomShard
from .runtime import NAMESPACE
from .session_shard import SessionShard

log = logging.getLogger(__name__)

MEDIA_STORES = "actors.media_stores:open_stores"  # the media worker's stores, opened inside its actor

CHAT_UNAVAILABLE = "chat service unavailable; retry"
LIVE_UNAVAILABLE = "live sessions are unavailable; retry"
# A gateway's call to a shard out longer than this stops holding back the shard's next call (ShardBatcher).
STALLED_S = 2.0
# The longest a member waits on one actor call before being told ``unavailable`` (and to retry: a send is
# retried with its client_id, which the shard deduplicates). Ray retries a call to an actor that is
# restarting for as long as the restart takes; without a deadline a request would wait on it for ever.
CALL_DEADLINE_S = 30.0
# Feeds in one call to a ranker at most: each is ~7 ms of the ranker's CPU.
FEED_BATCH_MAX = 16


def unwrap(result: Any) -> Any:
    """An actor's answer as a success value, or its refusal raised (both the current and legacy forms)."""
    if isinstance(result, DomainError):
        raise result
    if isinstance(result, dict) and "ok" in result:
        if result["ok"] is False:
            err = result["error"]
            raise DomainError(err["code"], err["message"])
        return {k: v for k, v in result.items() if k != "ok"}
    return result


async def call(
    remote: Awaitable, unavailable: str = CHAT_UNAVAILABLE, deadline_s: float = CALL_DEADLINE_S
) -> Any:
    """Await one actor call: its success, or ``DomainError`` (refused, or ``unavailable``, also when no
    answer came within ``deadline_s``)."""
    try:
        result = await asyncio.wait_for(remote, deadline_s)
    except ray.exceptions.RayError as exc:
        log.warning("actor call failed: %s", exc)
        raise DomainError("unavailable", unavailable) from None
    except TimeoutError:
        log.warning("actor call unanswered after %.0f s", deadline_s)
        raise DomainError("unavailable", unavailable) from None
    return unwrap(result)


class ShardBatcher:
    """Coalesces operations bound for one actor (a room shard's ``apply``, a ranker's ``feeds``) into Ray
    calls, by arrival and by time.

    What arrives while fewer than ``max_in_flight`` calls are out goes at the end of the current loop
    iteration (after ``flush_ms`` when that is set), so a quiet room pays no coalescing wait; while that many
    calls are out, operations gather and go together the moment one returns. Under load batches grow with
    the shard's own round time instead of a fixed timer, so there are fewer calls (and fewer rounds) per
    message; a batch is sent at once when it reaches ``max_items``."""

    def __init__(
        self,
        handle,
        flush_ms: float,
        max_items: int,
        observe_batch=None,
        max_in_flight: int = 2,
        stalled_s: float = STALLED_S,
        deadline_s: float = CALL_DEADLINE_S,
        method: str = "apply",
        unavailable: str = CHAT_UNAVAILABLE,
    ) -> None:
        self.handle = handle
        self.method = method  # the actor's method taking (ops, sent_at) and answering one result per op
        self.unavailable = unavailable
        self.flush_s = flush_ms / 1000.0
        self.max_items = max_items
        self.max_in_flight = max_in_flight
        self.observe_batch = observe_batch  # (size) -> None, e.g. a histogram's observe
        self.stalled_s = stalled_s
        self.deadline_s = deadline_s
        self.items: list[tuple[dict, asyncio.Future]] = []
        self._timer: asyncio.Handle | None = None
        # Calls in flight (-> the loop time each was sent), referenced until done: the loop keeps only weak
        # references to tasks, and a collected one would leave its senders waiting for ever.
        self._sending: dict[asyncio.Task, float] = {}

    async def submit(self, op: dict) -> Any:
        """The shard's answer to ``op``: its success, or ``DomainError``."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self.items.append((op, fut))
        if len(self.items) >= self.max_items:
            self._flush()
        elif self._timer is None:
            if not self._busy():
                self._timer = (
                    loop.call_later(self.flush_s, self._flush)
                    if self.flush_s
                    else loop.call_soon(self._flush)
                )
            else:  # the next call to return sends these, or this timer if none returns in time
                self._timer = loop.call_later(self.stalled_s, self._flush)
        try:
            result = await asyncio.wait_for(fut, self.deadline_s)
        except TimeoutError:  # the call may still land later: the client's retry (same client_id) is safe
            log.warning("%s call unanswered after %.0f s", self.method, self.deadline_s)
            raise DomainError("unavailable", self.unavailable) from None
        return unwrap(result)

    def _busy(self) -> bool:
        """``max_in_flight`` calls are out. One out longer than ``stalled_s`` (lost by Ray, or waiting on a
        shard that is restarting) no longer counts: it must not hold back every later send to the shard."""
        now = asyncio.get_running_loop().time()
        return sum(1 for sent in self._sending.values() if now - sent < self.stalled_s) >= self.max_in_flight

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        items, self.items = self.items[: self.max_items], self.items[self.max_items :]
        if items:
            task = asyncio.ensure_future(self._send(items))
            self._sending[task] = asyncio.get_running_loop().time()
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task) -> None:
        self._sending.pop(task, None)
        if self.items and not self._busy():
            self._flush()  # what gathered while the calls were out

    async def _send(self, items) -> None:
        if self.observe_batch is not None:
            self.observe_batch(len(items))
        try:
            remote = getattr(self.handle, self.method).remote
            results = await remote([op for op, _ in items], time.time())
        except Exception as exc:  # actor died mid-call (and retries ran out), cluster gone…
            log.warning("%s call failed: %s", self.method, exc)
            results = [DomainError("unavailable", self.unavailable) for _ in items]  # one each: raised apart
        for (_, fut), result in zip(items, results, strict=False):
            if not fut.done():
                fut.set_result(result)


def placed(options: dict, resource: str | None) -> dict:
    """``options`` asking for a sliver of the custom ``resource``, so Ray places the actor only on nodes
    that advertise it (a KubeRay worker group); unchanged when no resource is configured. A thousandth
    lets a node offering one unit host a thousand such actors: the resource steers, it does not count."""
    return {**options, "resources": {resource: 0.001}} if resource else options


class ActorClient:
    """One gateway's handles on the actors (created or found by name), and its heartbeat."""

    def __init__(self, settings: Settings, urls: dict, redis, metrics=None) -> None:
        self.settings = settings
        self.redis = redis
        self.gateway_id = uuid.uuid4().hex[:12]
        detached = (
            settings.detached_actors if settings.detached_actors is not None else bool(settings.ray_address)
        )
        # The Web Push key (actors.push): configured, or generated once into the data dir.
        config = self.actor_config = ActorConfig.from_settings(
            settings, urls, vapid_private_key=vapid_key(settings)
        )
        options = dict(
            namespace=NAMESPACE,
            get_if_exists=True,
            max_restarts=-1,
            max_task_retries=-1,
            max_concurrency=10_000,
            num_cpus=0,
            lifetime="detached" if detached else None,
        )
        shard_options = placed(options, settings.ray_shard_resource)
        ranker_options = placed(options, settings.ray_ranker_resource)
        # Actor handles: Ray's stubs do not type their methods' .remote.
        self.room_shards: list[Any] = [
            RoomShard.options(name=f"clubhub-room-shard-{i}", **shard_options).remote(i, config)
            for i in range(settings.room_shards)
        ]
        self.session_shards: list[Any] = [
            SessionShard.options(name=f"clubhub-session-shard-{i}", **shard_options).remote(i, config)
            for i in range(settings.session_shards)
        ]
        observe = metrics.gateway_batch.observe if metrics is not None else None
        self.batchers = [
            ShardBatcher(
                h, settings.batch_flush_ms, settings.batch_max_items, observe, settings.batch_in_flight
            )
            for h in self.room_shards
        ]
        self.consumer: Any = InteractionConsumer.options(
            name="clubhub-interaction-consumer", **shard_options
        ).remote(config)
        # Mentions, replies, reminders and "live now": off the message hot path, on a stream of notices.
        self.notifier: Any = Notifier.options(name="clubhub-notifier", **shard_options).remote(config)
        # The message search index, kept from the rooms' commit stream (storage.search).
        self.indexer: Any = SearchIndexer.options(name="clubhub-search-indexer", **shard_options).remote(
            config
        )
        # Uploaded images and videos, processed off the request path (only with an object store).
        self.media_worker: Any = (
            MediaWorker.options(name="clubhub-media-worker", **shard_options).remote(
                config, stream=keys.MEDIA_STREAM, group=keys.MEDIA_GROUP, open_stores=MEDIA_STORES
            )
            if config.objects_url
            else None
        )
        # Feeds are CPU work (features, one prediction): several ranker actors spread it over cores.
        self.rankers: list[Any] = [
            Ranker.options(name=f"clubhub-ranker-{i}", **ranker_options).remote(config)
            for i in range(settings.rankers)
        ]
        # Feed requests coalesce like sends: with 8 clients on one ranker, 99-112 -> 126-129 feeds/s and
        # p99 105-120 -> 85-89 ms (loadtest/feed_load.py, batched against --unbatched).
        self.feed_batchers = [
            ShardBatcher(r, 0, FEED_BATCH_MAX, method="feeds", unavailable=FEED_UNAVAILABLE)
            for r in self.rankers
        ]
        self._heartbeat: asyncio.Task | None = None
        self._starting: asyncio.Future | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        await self._beat()
        await asyncio.gather(*(h.ping.remote() for h in self.room_shards + self.session_shards))
        await asyncio.gather(
            self.consumer.start.remote(),
            self.notifier.start.remote(),
            self.indexer.start.remote(),
            *(r.start.remote() for r in self.rankers),
        )
        if self.media_worker is not None:
            # Not fatal to the gateway: chat goes on without media, and the heartbeats start it again.
            try:
                await self.media_worker.start.remote()
            except Exception as exc:
                log.warning("starting the media worker failed: %s", exc)
        self._heartbeat = asyncio.create_task(self._heartbeats())

    async def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        if self._starting is not None:
            self._starting.cancel()
        try:
            await self.redis.delete(keys.gateway_heartbeat(self.gateway_id))
        except Exception:  # nosec B110: the key expires on its own; shutting down goes on
            pass

    async def _beat(self) -> None:
        # Shards forget the sockets of a gateway whose key expired (it died without saying so).
        ttl = max(3, int(self.settings.housekeeping_s * 3))
        await self.redis.set(keys.gateway_heartbeat(self.gateway_id), 1, ex=ttl)

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(max(1.0, self.settings.housekeeping_s))
            try:
                await self._beat()
            except Exception as exc:
                log.warning("gateway heartbeat failed: %s", exc)
            # Idempotent; restarts the actors' loops after Ray restarted them. Not awaited here: after a node
            # loss Ray takes seconds to restart them, and a heartbeat held up that long lets the key expire, so
            # the shards would drop this live gateway's sockets. One start in flight at a time.
            if self._starting is None or self._starting.done():
                self._starting = asyncio.ensure_future(self._start_loops())

    async def _start_loops(self) -> None:
        results = await asyncio.gather(
            self.consumer.start.remote(),
            self.notifier.start.remote(),
            self.indexer.start.remote(),
            *(r.start.remote() for r in self.rankers),
            *([self.media_worker.start.remote()] if self.media_worker is not None else []),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                log.warning("starting the actors' loops failed: %s", result)

    # -- placement ---------------------------------------------------------------------------
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

        stats = await asyncio.gather(
            *[one("room", h) for h in self.room_shards], *[one("session", h) for h in self.session_shards]
        )
        return [s for s in stats if s]

    async def pipeline_stats(self) -> dict:
        """The interaction consumer's and each ranker actor's figures (``None`` for one not answering)."""

        async def one(handle):
            try:
                return await asyncio.wait_for(handle.stats.remote(), 2.0)
            except Exception:
                return None

        consumer, notifier, indexer, *rankers = await asyncio.gather(
            one(self.consumer), one(self.notifier), one(self.indexer), *(one(r) for r in self.rankers)
        )
        return {"consumer": consumer, "notifier": notifier, "indexer": indexer, "rankers": rankers}

    # -- rooms -------------------------------------------------------------------------------
    async def apply(self, room_id: int, op: dict) -> dict:
        """A send, edit, delete or reaction, batched with others bound for the same shard."""
        return await self.batchers[jump_hash(room_id, len(self.room_shards))].submit(op)

    async def join(
        self, user_id: int, room_id: int, sid: str, since_seq: int | None, since_rev: int | None
    ) -> dict:
        handle = self.room_shard(room_id)
        return await call(handle.join.remote(room_id, user_id, self.socket_key(sid), since_seq, since_rev))

    async def leave(self, user_id: int, sid: str, room_ids: list[int]) -> None:
        by_shard: dict[int, list] = {}
        for room_id in room_ids:
            by_shard.setdefault(jump_hash(room_id, len(self.room_shards)), []).append(
                (room_id, user_id, self.socket_key(sid))
            )
        calls = [self.room_shards[i].leave.remote(items) for i, items in by_shard.items()]
        results = await asyncio.gather(*calls, return_exceptions=True)
        for r in results:
            if isinstance(r, Exception):
                log.warning("room leave failed: %s", r)

    async def history(
        self, user_id: int, room_id: int, before_seq: int | None, after_seq: int | None, limit: int
    ) -> dict:
        handle = self.room_shard(room_id)
        return await call(handle.history.remote(room_id, user_id, before_seq, after_seq, limit))

    async def member_changed(self, club_id: int, user_id: int) -> None:
        """A club's rooms may live on any shard: every shard refreshes the member."""
        await asyncio.gather(*(h.member_changed.remote(club_id, user_id) for h in self.room_shards))

    async def room_changed(self, room_id: int) -> None:
        await self.room_shard(room_id).room_changed.remote(room_id)

    async def automod_changed(self, club_id: int) -> None:
        """A club's rooms may live on any shard: every shard applies the club's new rules."""
        await asyncio.gather(*(h.automod_changed.remote(club_id) for h in self.room_shards))

    async def dm_changed(self, user_ids: list[int]) -> None:
        """A block or a DM policy of these users changed: every shard checks their active DMs again."""
        await asyncio.gather(*(h.dm_changed.remote(user_ids) for h in self.room_shards))

    async def thread(self, user_id: int, room_id: int, root_seq: int, after_seq: int, limit: int) -> dict:
        return await call(
            self.room_shard(room_id).thread.remote(room_id, user_id, root_seq, after_seq, limit)
        )

    async def pins(self, user_id: int, room_id: int) -> dict:
        return await call(self.room_shard(room_id).pins.remote(room_id, user_id))

    async def last_messages(self, room_ids: list[int]) -> dict[int, dict]:
        """Each room's newest message, one call per shard holding some of them."""
        by_shard: dict[int, list[int]] = {}
        for room_id in room_ids:
            by_shard.setdefault(jump_hash(room_id, len(self.room_shards)), []).append(room_id)
        found = await asyncio.gather(
            *(call(self.room_shards[i].last_messages.remote(ids)) for i, ids in by_shard.items())
        )
        return {rid: m for part in found for rid, m in part.items()}

    # -- sessions ----------------------------------------------------------------------------
    async def connected(self, user_id: int, sid: str) -> None:
        await self.session_shard(user_id).connect.remote(user_id, self.socket_key(sid))

    async def disconnected(self, user_id: int, sid: str) -> None:
        try:
            await self.session_shard(user_id).disconnect.remote(user_id, self.socket_key(sid))
        except ray.exceptions.RayError as exc:
            log.warning("session disconnect failed: %s", exc)

    async def read(self, user_id: int, room_id: int, seq: int, sid: str) -> dict:
        return await call(self.session_shard(user_id).read.remote(user_id, room_id, seq, sid))

    async def online_users(self, user_ids: list[int]) -> list[int]:
        by_shard: dict[int, list[int]] = {}
        for u in user_ids:
            by_shard.setdefault(jump_hash(u, len(self.session_shards)), []).append(u)
        try:
            parts = await asyncio.gather(
                *(self.session_shards[i].online.remote(us) for i, us in by_shard.items())
            )
        except ray.exceptions.RayError:
            return []
        return [u for part in parts for u in part]

    # -- live sessions (hosted by the shard of the event's live room) ---------------------------
    async def live_start(self, event_id: int, room_id: int, host_id: int) -> dict:
        return await call(
            self.room_shard(room_id).live_start.remote(event_id, room_id, host_id), LIVE_UNAVAILABLE
        )

    async def live_state(self, room_id: int, event_id: int) -> dict | None:
        return await call(self.room_shard(room_id).live_state.remote(event_id), LIVE_UNAVAILABLE)

    async def live_join(self, room_id: int, event_id: int, user_id: int, sid: str) -> dict:
        handle = self.room_shard(room_id)
        return await call(handle.live_join.remote(event_id, user_id, self.socket_key(sid)))

    async def live_act(
        self,
        room_id: int,
        event_id: int,
        user_id: int,
        action: str,
        args: dict,
        unavailable: str = CHAT_UNAVAILABLE,
    ) -> dict:
        return await call(
            self.room_shard(room_id).live_act.remote(event_id, user_id, action, args), unavailable
        )

    async def live_leave(self, room_id: int, event_id: int, user_id: int, sid: str) -> None:
        try:
            await self.room_shard(room_id).live_leave.remote([(event_id, user_id, self.socket_key(sid))])
        except ray.exceptions.RayError:
            pass  # the shard that forgot the session forgot its sockets too

    # -- feed --------------------------------------------------------------------------------
    async def feed(self, user_id: int, limit: int) -> dict:
        batcher = self.feed_batchers[jump_hash(user_id, len(self.rankers))]
        return await batcher.submit({"user_id": user_id, "limit": limit})
