"""``InteractionConsumer``: a Ray actor turning the interaction stream into stored facts and signals.

Reads ``storage.keys.INTERACTIONS_STREAM`` in a consumer group (at-least-once), writes each interaction to MongoDB
with its id as ``_id`` (a redelivered one is a duplicate key, not a second document), and applies its
signal increments through one Lua script per batch that first records the id in a per-day set — an id
seen before adds nothing. So a consumer killed at any point and restarted (it re-reads its unacknowledged
entries first) loses nothing and counts nothing twice. The script also mirrors popularity into the trending
sorted set.

When a new ranker model appears, the consumer rebuilds every user's embedding in the model's item-embedding
space from the stored interactions, between two batches (so the rebuild and the online additions that
follow cover every interaction once), then marks the version ready for the ranker actors.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, cast

import pymongo
import ray
from pymongo.errors import BulkWriteError, PyMongoError

from ranking import registry, signals
from storage import keys
from storage.mongo import retry_once
from storage.streams import consume, ensure_group

from .config import ActorConfig
from .fanout import Interaction
from .hosting import OpenOnce, TaskSet

log = logging.getLogger(__name__)

CONSUMER = "consumer-0"  # one named actor: its identity survives its restarts
REBUILD_TIMEOUT_S = 600  # bound on one full scan of the interaction history (embedding rebuild)
REBUILD_RETRIES = 3
# Between reads that found only a few entries: the feed's signals may trail by a quarter second, and each
# batch (one insert_many, one script) then carries many interactions instead of one or two.
LINGER_S = 0.25


# KEYS: applied-set per interaction (one per entry); ARGV per entry: id, n, then n triples (hash, field, inc).
_APPLY = f"""
local POPULARITY, TRENDING = '{keys.POPULARITY}', '{keys.TRENDING}'
local a = 1
local applied = 0
for i = 1, #KEYS do
  local id = ARGV[a]; local n = tonumber(ARGV[a + 1]); a = a + 2
  local fresh = redis.call('SADD', KEYS[i], id) == 1
  if fresh then
    redis.call('EXPIRE', KEYS[i], {keys.APPLIED_TTL_S})
    applied = applied + 1
  end
  for j = 1, n do
    if fresh then
      redis.call('HINCRBYFLOAT', ARGV[a], ARGV[a + 1], ARGV[a + 2])
      if ARGV[a] == POPULARITY then redis.call('ZINCRBY', TRENDING, ARGV[a + 2], ARGV[a + 1]) end
    end
    a = a + 3
  end
end
return applied
"""


class InteractionConsumerHost:
    def __init__(self, config: ActorConfig | Mapping[str, Any]) -> None:
        self.config = ActorConfig.of(config)
        self.tasks = TaskSet()
        self.meta: dict[str, tuple[int | None, int | None]] = {}  # item key -> (club_id, start bucket)
        self.embeddings: registry.Embeddings | None = None
        self.rebuilt: dict[int, dict] = {}  # model version -> {"users", "interactions", "seconds"}
        # Batches and a switch of model version never interleave: what was processed before the switch is in
        # MongoDB (and in the rebuild), what comes after is added in the new version's space.
        self._lock = asyncio.Lock()
        self.processed = 0
        self.applied = 0
        self._opened = OpenOnce(self._open)
        self._started = OpenOnce(self._start)

    async def start(self) -> str:
        """Idempotent; concurrent callers (the gateways' heartbeats after a restart) start one consumer."""
        await self._started()
        return "running"

    async def _start(self) -> None:
        await self.open()
        self.tasks.spawn(self._run())
        self.tasks.spawn(self._watch_models())

    async def open(self) -> None:
        """Connect to the stores (``clubhub seed`` opens without starting the loops)."""
        await self._opened()

    async def _open(self) -> None:
        from storage import mongo as mongo_store
        from storage.postgres import init_tortoise, tortoise_config
        from storage.redis import connect_redis

        await init_tortoise(tortoise_config(self.config.postgres_url))
        self.redis = connect_redis(self.config.redis_url)
        client = mongo_store.connect_mongo(self.config.mongo_url)
        self.db = client[self.config.mongo_db]
        self.interactions = self.db[mongo_store.INTERACTIONS]
        self.apply_script = self.redis.register_script(_APPLY)
        await ensure_group(self.redis, keys.INTERACTIONS_STREAM, keys.INTERACTIONS_GROUP, "0")

    async def _run(self) -> None:
        await consume(
            self.redis,
            keys.INTERACTIONS_STREAM,
            keys.INTERACTIONS_GROUP,
            CONSUMER,
            self.process,
            count=500,
            block_ms=500,
            linger_s=LINGER_S,
        )

    async def drain(self) -> int:
        """Process everything in the stream now and return (``clubhub seed`` runs the consumer in-process
        this way: the same group, the same code, the same exactly-once effect)."""
        return await consume(
            self.redis,
            keys.INTERACTIONS_STREAM,
            keys.INTERACTIONS_GROUP,
            CONSUMER,
            self.process,
            count=2000,
            block_ms=1,
            until_idle=True,
        )

    async def _meta(self, item_type: str, item_id: int) -> tuple[int | None, int | None]:
        key = signals.item_key(item_type, item_id)
        if key not in self.meta:
            from storage.models import Event, Room

            club, bucket = None, None
            if item_type == "club":
                club = item_id
            elif item_type == "event":
                row = await Event.filter(id=item_id).values_list("club_id", "starts_at")
                if row:
                    club, bucket = row[0][0], signals.hour_bucket(row[0][1].timestamp())
            else:
                rooms = await Room.filter(id=item_id).values("club_id")
                club = rooms[0]["club_id"] if rooms else None
            self.meta[key] = (club, bucket)
        return self.meta[key]

    async def _watch_models(self) -> None:
        while True:
            try:
                await self.switch_model()
            except Exception as exc:  # the registry or a store hiccuped: the current version stays
                log.warning("model switch failed: %s", exc)
            await asyncio.sleep(float(self.config.ranker_reload_s))

    async def switch_model(self) -> int | None:
        """Move to the newest model's item embeddings: rebuild every user's embedding in its space from the
        stored interactions, mark the version ready (ranker actors serve a version only once it is), drop the
        embeddings of versions older than the previous one."""
        latest = await registry.latest_version(self.db)
        if latest is None or (self.embeddings is not None and self.embeddings.version == latest):
            return latest
        async with self._lock:
            t0 = time.perf_counter()
            emb = await registry.load_embeddings(self.db, latest)
            if emb is None:
                return None
            users, n = await self._rebuild_user_vectors(emb)
            await self.redis.set(keys.user_embedding_ready(latest), 1)
            await drop_user_vectors(self.redis, keep_from=latest - 1)
            self.embeddings = emb
            self.rebuilt[latest] = {
                "users": users,
                "interactions": n,
                "seconds": round(time.perf_counter() - t0, 2),
            }
            log.info("user embeddings rebuilt", extra={"version": latest, **self.rebuilt[latest]})
        return latest

    async def _rebuild_user_vectors(self, emb: registry.Embeddings) -> tuple[int, int]:
        import numpy as np

        sums: dict[int, np.ndarray] = {}
        n = 0
        # One cursor over the whole history, bounded as a whole: the store's usual 10 s socket timeout is
        # for serving calls, and the embedded MongoDB-wire server materializes a find before its first
        # batch (paging by _id would rescan the collection per page). A failed scan backs off and starts
        # again; after REBUILD_RETRIES the watcher keeps the current version and tries later.
        for attempt in range(1, REBUILD_RETRIES + 1):
            sums, n = {}, 0
            try:
                with pymongo.timeout(REBUILD_TIMEOUT_S):
                    async for d in self.interactions.find({}, batch_size=10_000):
                        n += 1
                        vec = emb.get(signals.item_key(d["item_type"], d["item_id"]))
                        if vec is None:
                            continue
                        w = signals.anchored(signals.weight(d["kind"], d.get("dwell_ms")), d["ts"])
                        if w:
                            acc = sums.get(d["user_id"])
                            if acc is None:
                                acc = sums[d["user_id"]] = np.zeros(len(vec))
                            acc += w * vec
                break
            except PyMongoError as exc:
                if attempt == REBUILD_RETRIES:
                    raise
                log.warning("embedding rebuild scan failed (%s), again in %d s", exc, 2**attempt)
                await asyncio.sleep(2**attempt)
        items = list(sums.items())
        for lo in range(0, len(items), 500):
            async with self.redis.pipeline(transaction=False) as pipe:
                for user_id, vec in items[lo : lo + 500]:
                    key = keys.user_embedding(emb.version, user_id)
                    pipe.delete(key)
                    pipe.hset(key, mapping={str(i): repr(float(x)) for i, x in enumerate(vec)})
                await pipe.execute()
        return len(items), n

    async def process(self, entries) -> None:
        async with self._lock:
            await self._process(entries)

    async def _process(self, entries) -> None:
        emb = self.embeddings
        docs: list[dict] = []
        applied_keys: list[str] = []
        argv: list[Any] = []
        for _, fields in entries:
            i = Interaction.parse(fields)
            docs.append(
                {
                    "_id": i.id,
                    "user_id": i.user_id,
                    "item_type": i.item_type,
                    "item_id": i.item_id,
                    "kind": i.kind,
                    "dwell_ms": i.dwell_ms,
                    "ts": i.ts,
                    "source": i.source,
                }
            )
            club, bucket = await self._meta(i.item_type, i.item_id)
            vec = emb.get(signals.item_key(i.item_type, i.item_id)) if emb else None
            # The item's unit vector (numpy): indexed like the sequence ``increments`` takes.
            embedding = (
                (emb.version, cast(Sequence[float], vec)) if emb is not None and vec is not None else None
            )
            incs = signals.increments(
                i.user_id, i.item_type, i.item_id, i.kind, i.dwell_ms, i.ts, club, bucket, embedding
            )
            applied_keys.append(keys.applied(time.strftime("%Y%m%d", time.gmtime(i.ts))))
            argv += [i.id, len(incs)]
            for h, field, inc in incs:
                argv += [h, field, repr(inc)]
        try:
            await retry_once(lambda: self.interactions.insert_many(docs, ordered=False))
        except BulkWriteError as exc:  # duplicates of a redelivery are expected; anything else is not
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise
        self.applied += int(await self.apply_script(keys=applied_keys, args=argv))
        self.processed += len(entries)

    async def stats(self) -> dict:
        return {
            "processed": self.processed,
            "applied": self.applied,
            "model": self.embeddings.version if self.embeddings else None,
            "rebuilt": self.rebuilt,
        }

    async def ping(self) -> str:
        return "pong"


# Typed as Any: Ray's stubs type a handle's methods as the plain methods, without ``.remote``.
InteractionConsumer: Any = ray.remote(InteractionConsumerHost)


async def drop_user_vectors(redis, keep_from: int) -> int:
    """Delete user embeddings (and readiness marks) of model versions older than ``keep_from``."""
    dropped = 0
    for prefix in (keys.USER_EMBEDDING_PREFIX, keys.USER_EMBEDDING_READY_PREFIX):
        async for key in redis.scan_iter(match=prefix + "*", count=1000):
            version = int(key.decode()[len(prefix) :].split(":")[0])
            if version < keep_from:
                dropped += await redis.unlink(key)
    return dropped
