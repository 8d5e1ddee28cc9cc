"""``InteractionConsumer``: a Ray actor turning the interaction stream into stored facts and signals.

Reads ``clubhub:interactions`` in a consumer group (at-least-once), writes each interaction to MongoDB
with its id as ``_id`` (a redelivered one is a duplicate key, not a second document), and applies its
signal increments through one Lua script per batch that first records the id in a per-day set — an id
seen before adds nothing. So a consumer killed at any point and restarted (it re-reads its unacknowledged
entries first) loses nothing and counts nothing twice.
"""
from __future__ import annotations

import asyncio
import logging
import time

import ray
from pymongo.errors import BulkWriteError

from ranking import signals
from storage.mongo import retry_once
from storage.streams import consume, ensure_group

log = logging.getLogger(__name__)

STREAM = "clubhub:interactions"
GROUP = "interaction-consumer"
CONSUMER = "consumer-0"  # one named actor: its identity survives its restarts

# KEYS: applied-set per interaction (one per entry); ARGV per entry: id, n, then n triples (hash, field, inc).
_APPLY = """
local a = 1
local applied = 0
for i = 1, #KEYS do
  local id = ARGV[a]; local n = tonumber(ARGV[a + 1]); a = a + 2
  local fresh = redis.call('SADD', KEYS[i], id) == 1
  if fresh then
    redis.call('EXPIRE', KEYS[i], 8 * 86400)
    applied = applied + 1
  end
  for j = 1, n do
    if fresh then redis.call('HINCRBYFLOAT', ARGV[a], ARGV[a + 1], ARGV[a + 2]) end
    a = a + 3
  end
end
return applied
"""


class InteractionConsumerHost:
    def __init__(self, config: dict) -> None:
        self.config = config
        self._task: asyncio.Task | None = None
        self.club_of: dict[str, int | None] = {}
        self.processed = 0
        self.applied = 0

    async def start(self) -> str:
        if self._task is None:
            from storage import mongo as mongo_store
            from storage.postgres import init_tortoise, tortoise_config
            from storage.redis import connect_redis

            await init_tortoise(tortoise_config(self.config["postgres_url"]))
            self.redis = connect_redis(self.config["redis_url"])
            client = mongo_store.connect_mongo(self.config["mongo_url"])
            self.interactions = client[self.config["mongo_db"]][mongo_store.INTERACTIONS]
            self.apply_script = self.redis.register_script(_APPLY)
            await ensure_group(self.redis, STREAM, GROUP, "0")
            self._task = asyncio.create_task(self._run())
        return "running"

    async def _run(self) -> None:
        await consume(self.redis, STREAM, GROUP, CONSUMER, self.process, count=500, block_ms=500)

    async def _club(self, item_type: str, item_id: int) -> int | None:
        key = f"{item_type}:{item_id}"
        if key not in self.club_of:
            from storage.models import Event, Room

            if item_type == "club":
                club = item_id
            else:
                model = Event if item_type == "event" else Room
                row = await model.filter(id=item_id).values_list("club_id", flat=True)
                club = row[0] if row else None
            self.club_of[key] = club
        return self.club_of[key]

    async def process(self, entries) -> None:
        docs, keys, argv = [], [], []
        for _, f in entries:
            d = {k.decode(): v.decode() for k, v in f.items()}
            item_type, item_id, user_id, ts = d["item_type"], int(d["item_id"]), int(d["user_id"]), float(d["ts"])
            dwell = int(d["dwell_ms"]) if d.get("dwell_ms") else None
            docs.append({"_id": d["id"], "user_id": user_id, "item_type": item_type, "item_id": item_id,
                         "kind": d["kind"], "dwell_ms": dwell, "ts": ts, "source": d.get("source", "client")})
            w = signals.anchored(signals.weight(d["kind"], dwell), ts)
            incs = [(signals.POPULARITY_KEY, signals.item_key(item_type, item_id), w),
                    (signals.AFFINITY_KEY + str(user_id), signals.item_key(item_type, item_id), w)]
            club = await self._club(item_type, item_id)
            if club is not None and item_type != "club":
                incs.append((signals.AFFINITY_KEY + str(user_id), f"club:{club}", w))
            day = time.strftime("%Y%m%d", time.gmtime(ts))
            keys.append(signals.APPLIED_KEY + day)
            argv += [d["id"], len(incs)]
            for h, field, inc in incs:
                argv += [h, field, repr(inc)]
        try:
            await retry_once(lambda: self.interactions.insert_many(docs, ordered=False))
        except BulkWriteError as exc:  # duplicates of a redelivery are expected; anything else is not
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise
        self.applied += int(await self.apply_script(keys=keys, args=argv))
        self.processed += len(entries)

    async def stats(self) -> dict:
        return {"processed": self.processed, "applied": self.applied}

    async def ping(self) -> str:
        return "pong"


InteractionConsumer = ray.remote(InteractionConsumerHost)
