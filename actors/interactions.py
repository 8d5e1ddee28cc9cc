"""``InteractionConsumer``: a Ray actor turning the interaction stream into stored facts, signals and the
analytics store.

Reads ``storage.keys.INTERACTIONS_STREAM`` in a consumer group (at-least-once), writes each interaction to MongoDB
with its id as ``_id`` (a redelivered one is a duplicate key, not a second document; raw interactions expire
there), and applies its signal increments through one Lua script per batch that first records, per day, which
stream entry applied the interaction id — an id applied before adds nothing. The entries that applied their
interaction are kept until they are *sealed* into the analytics store (``storage.analytics``: Parquet by day),
at least every ``analytics_seal_s``. So a consumer killed at any point and restarted (it re-reads its
unacknowledged entries first, and rebuilds what it had not sealed from the stream) loses nothing and counts
nothing twice, in Redis or in Parquet.

Model switches never scan history. The training job (``ranking.train``) writes every user's embedding for a
new version from the seals it read, up to its *watermark*; the switch adds only the seals written after the
watermark (after sealing what is pending), each in one MULTI with a progress mark, then marks the version
ready for the ranker actors. Its cost is the interactions since training, whatever the history's size.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
import ray
from pymongo.errors import BulkWriteError

from ranking import registry, signals
from storage import keys
from storage.analytics import AnalyticsStore, seal_id, stream_id
from storage.mongo import retry_once
from storage.streams import consume, ensure_group

from .config import ActorConfig
from .fanout import Interaction
from .hosting import OpenOnce, TaskSet

log = logging.getLogger(__name__)

CONSUMER = "consumer-0"  # one named actor: its identity survives its restarts
# Between reads that found only a few entries: the feed's signals may trail by a quarter second, and each
# batch (one insert_many, one script) then carries many interactions instead of one or two.
LINGER_S = 0.25
SEAL_ROWS = 100_000  # a seal at least this often (rows), whatever analytics_seal_s says
# Past this many applied-but-unsealed entries (the store refusing seals), batches fail and stay in the
# stream: back-pressure instead of unbounded memory.
MAX_PENDING = 4 * SEAL_ROWS
SEAL_TIMEOUT_S = 120.0
SWITCH_TIMEOUT_S = 900.0
BACKOFF_MAX_S = 300.0


# KEYS: per entry, the applied-by hash of its interaction's day. ARGV[1]: a JSON array, per entry
# [interaction id, stream entry id, [hash, field, increment, hash, field, increment, ...]] with the increments
# as strings (their exact repr: Lua's numbers would print 14 digits). One JSON string instead of thousands
# of arguments: redis-py packs each argument in Python, cjson decodes the lot in C. Returns
# {applied, flag per entry}: flag 1 when this entry is the one that applied the interaction (now, or before
# a redelivery), 0 for a re-sent duplicate.
_APPLY = f"""
local POPULARITY, TRENDING = '{keys.POPULARITY}', '{keys.TRENDING}'
local batch = cjson.decode(ARGV[1])
local applied = 0
local out = {{0}}
for i = 1, #KEYS do
  local e = batch[i]
  local id, sid, incs = e[1], e[2], e[3]
  local owner = redis.call('HGET', KEYS[i], id)
  local fresh = not owner
  if fresh then
    redis.call('HSET', KEYS[i], id, sid)
    redis.call('EXPIRE', KEYS[i], {keys.APPLIED_TTL_S})
    applied = applied + 1
    for a = 1, #incs, 3 do
      redis.call('HINCRBYFLOAT', incs[a], incs[a + 1], incs[a + 2])
      if incs[a] == POPULARITY then redis.call('ZINCRBY', TRENDING, incs[a + 2], incs[a + 1]) end
    end
  end
  out[i + 1] = (fresh or owner == sid) and 1 or 0
end
out[1] = applied
return out
"""


def _day(ts: float) -> str:
    return time.strftime("%Y%m%d", time.gmtime(ts))


def _row(i: Interaction) -> tuple:
    """An analytics row (``storage.analytics.COLUMNS`` order)."""
    return (i.id, i.user_id, i.item_type, i.item_id, i.kind, i.dwell_ms, i.ts, i.source, i.watch_ms)


def _cause(exc: BaseException) -> str:
    return type(exc).__name__


class InteractionConsumerHost:
    def __init__(self, config: ActorConfig | Mapping[str, Any]) -> None:
        self.config = ActorConfig.of(config)
        self.tasks = TaskSet()
        self.meta: dict[str, tuple[int | None, int | None]] = {}  # item key -> (club_id, start bucket)
        self.embeddings: registry.Embeddings | None = None
        self.switched: dict[int, dict] = {}  # model version -> {"seals", "rows", "seconds"}
        # Batches, seals and a switch of model version never interleave: everything processed before a
        # switch is sealed and added by it, what comes after is added online in the new version's space.
        self._lock = asyncio.Lock()
        self.processed = 0
        self.applied = 0
        # Stream entry id -> analytics row: applied, not yet sealed (bounded: MAX_PENDING).
        self.pending: dict[str, tuple] = {}
        self.pending_since: float | None = None
        self.sealed: str | None = None  # the newest seal's id
        self.sealed_rows = 0
        self.seal_failures: Counter[str] = Counter()
        self.switch_failures: Counter[str] = Counter()
        self.switch_failing: str | None = None  # the cause of the last failed switch, until one succeeds
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
        self.tasks.spawn(self._sealer())

    async def open(self) -> None:
        """Connect to the stores and restore the unsealed entries (``clubhub seed`` opens without starting
        the loops)."""
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
        self.analytics = AnalyticsStore(self.config.analytics_url or ".clubhub/analytics")
        await ensure_group(self.redis, keys.INTERACTIONS_STREAM, keys.INTERACTIONS_GROUP, "0")
        await self._restore()

    async def _restore(self) -> None:
        """After a restart: the served model's embeddings (online additions go on in its space), the newest
        seal, and the entries applied after it, read back from the stream (those still pending in the group
        come again and replace themselves: the buffer is keyed by entry id)."""
        served = await registry.latest_version(self.db)
        if served is not None and await self.redis.exists(keys.user_embedding_ready(served)):
            self.embeddings = await registry.load_embeddings(self.db, served)
        marks = [await self.redis.get(keys.ANALYTICS_SEALED), await asyncio.to_thread(self.analytics.latest)]
        known = [m.decode() if isinstance(m, bytes) else m for m in marks if m]
        self.sealed = max(known) if known else None
        last = await self._last_delivered()
        if last is None:
            return
        lo = "(" + stream_id(self.sealed) if self.sealed else "-"
        while True:
            page = await self.redis.xrange(keys.INTERACTIONS_STREAM, min=lo, max=last, count=5000)
            if not page:
                break
            await self._keep_applied(page)
            lo = "(" + page[-1][0].decode()

    async def _last_delivered(self) -> str | None:
        for group in await self.redis.xinfo_groups(keys.INTERACTIONS_STREAM):
            name = group["name"].decode() if isinstance(group["name"], bytes) else group["name"]
            if name == keys.INTERACTIONS_GROUP:
                last = group["last-delivered-id"]
                last = last.decode() if isinstance(last, bytes) else last
                return None if last in ("0-0", "0") else last
        return None

    async def _keep_applied(self, page) -> None:
        parsed = [(sid.decode(), Interaction.parse(f)) for sid, f in page if f]
        async with self.redis.pipeline(transaction=False) as pipe:
            for _, i in parsed:
                pipe.hget(keys.applied(_day(i.ts)), i.id)
            owners = await pipe.execute()
        for (sid, i), owner in zip(parsed, owners, strict=True):
            if owner is not None and owner.decode() == sid:
                self._pend(sid, i)

    def _pend(self, sid: str, i: Interaction) -> None:
        if not self.pending:
            self.pending_since = time.monotonic()
        self.pending[sid] = _row(i)

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
            in_flight=2,
        )

    async def drain(self, seal: bool = True) -> int:
        """Process everything in the stream now, seal it (``seal``) and return (``clubhub seed`` runs the
        consumer in-process this way: the same group, the same code, the same exactly-once effect)."""
        n = await consume(
            self.redis,
            keys.INTERACTIONS_STREAM,
            keys.INTERACTIONS_GROUP,
            CONSUMER,
            self.process,
            count=2000,
            block_ms=1,
            until_idle=True,
            in_flight=2,
        )
        if seal:
            async with self._lock:
                await self._seal()
        return n

    async def _meta(self, item_type: str, item_id: int) -> tuple[int | None, int | None]:
        key = signals.item_key(item_type, item_id)
        if key not in self.meta:
            from storage.models import Event, Reel, Room

            club, bucket = None, None
            if item_type == "club":
                club = item_id
            elif item_type == "event":
                row = await Event.filter(id=item_id).values_list("club_id", "starts_at")
                if row:
                    club, bucket = row[0][0], signals.hour_bucket(row[0][1].timestamp())
            elif item_type == "reel":
                reels = await Reel.filter(id=item_id).values("club_id")
                club = reels[0]["club_id"] if reels else None
            else:
                rooms = await Room.filter(id=item_id).values("club_id")
                club = rooms[0]["club_id"] if rooms else None
            self.meta[key] = (club, bucket)
        return self.meta[key]

    # -- sealing into the analytics store ----------------------------------------------------------------
    async def _sealer(self) -> None:
        period = float(self.config.analytics_seal_s)
        while True:
            await asyncio.sleep(min(period, 1.0))
            if self.pending_since is not None and time.monotonic() - self.pending_since >= period:
                async with self._lock:
                    try:
                        await self._seal()
                    except Exception as exc:  # the store is down: the entries stay pending, retried
                        log.warning("analytics seal failed: %s", exc)

    async def _seal(self) -> str | None:
        """Write what is pending as one seal (caller holds the lock). On failure it stays pending."""
        if not self.pending:
            return self.sealed
        order = sorted(self.pending, key=seal_id)
        seal = seal_id(order[-1])
        rows = [self.pending[sid] for sid in order]
        try:
            async with asyncio.timeout(SEAL_TIMEOUT_S):
                await asyncio.to_thread(self.analytics.write_seal, seal, rows)
        except Exception as exc:
            self.seal_failures[_cause(exc)] += 1
            raise
        await self.redis.set(keys.ANALYTICS_SEALED, seal)
        self.sealed, self.sealed_rows = seal, self.sealed_rows + len(rows)
        self.pending.clear()
        self.pending_since = None
        return seal

    async def seal_now(self) -> str | None:
        """Seal what is pending at once (an operator's flush; tests compare the store with the signals)."""
        async with self._lock:
            return await self._seal()

    # -- model switches ---------------------------------------------------------------------------------
    async def _watch_models(self) -> None:
        """Look for a new version every ``ranker_reload_s``; after a failure, back off exponentially (to
        BACKOFF_MAX_S) and log a cause once, not on every retry."""
        base = float(self.config.ranker_reload_s)
        delay = base
        while True:
            try:
                async with asyncio.timeout(SWITCH_TIMEOUT_S):
                    await self.switch_model()
                if self.switch_failing is not None:
                    log.info("model switch recovered", extra={"cause": self.switch_failing})
                self.switch_failing, delay = None, base
            except Exception as exc:  # the registry, a store or the analytics store failed: retried
                cause = _cause(exc)
                self.switch_failures[cause] += 1
                if cause != self.switch_failing:
                    log.warning("model switch failed, retrying with back-off: %s: %s", cause, exc)
                self.switch_failing = cause
                delay = min(max(delay * 2, 2.0), BACKOFF_MAX_S)
            await asyncio.sleep(delay)

    async def switch_model(self) -> int | None:
        """Move to the newest trained version: add the seals after its watermark to the users' embeddings
        the training job wrote, mark it ready (ranker actors serve a version only once it is), drop the
        embeddings of versions older than the previous one."""
        latest = await registry.latest_version(self.db, ready=False)
        if latest is None or (self.embeddings is not None and self.embeddings.version == latest):
            return latest
        async with self._lock:
            t0 = time.perf_counter()
            meta = await registry.meta(self.db, latest)
            emb = await registry.load_embeddings(self.db, latest)
            if meta is None or emb is None:
                return None
            if meta.get("status") == registry.READY and await self.redis.exists(
                keys.user_embedding_ready(latest)
            ):
                self.embeddings = emb  # switched by an earlier run of this actor
                return latest
            if meta.get("status", registry.READY) == registry.READY:
                # A version from before the analytics store: nothing to add, and nothing to resume from.
                return None
            await self._seal()  # so the tail below is sealed entries alone
            seals, rows = await add_tail(
                self.redis,
                self.analytics,
                latest,
                emb,
                meta.get("watermark"),
                pause_s=self.config.switch_seal_delay_s,
            )
            await self.redis.set(keys.user_embedding_ready(latest), 1)
            await registry.mark(self.db, latest, registry.READY)
            await drop_user_vectors(self.redis, keep_from=latest - 1)
            self.embeddings = emb
            self.switched[latest] = {
                "seals": seals,
                "rows": rows,
                "seconds": round(time.perf_counter() - t0, 3),
            }
            for done in sorted(self.switched)[:-8]:  # a bound: the last few switches
                del self.switched[done]
            log.info("switched to model version", extra={"version": latest, **self.switched[latest]})
        return latest

    # -- batches ----------------------------------------------------------------------------------------
    async def process(self, entries) -> None:
        """One batch: its signals applied (exactly once, under the lock that also orders seals and model
        switches), then its raw documents stored. The store is idempotent and independent of the state the
        lock guards, so it runs outside it: with ``in_flight`` batches, one batch's MongoDB write overlaps
        the next one's signals. The batch is acknowledged only after both."""
        async with self._lock:
            docs = await self._process(entries)
            due = self.pending_since is not None and (
                len(self.pending) >= SEAL_ROWS
                or time.monotonic() - self.pending_since >= float(self.config.analytics_seal_s)
            )
            if due:
                try:
                    await self._seal()
                except Exception:
                    if len(self.pending) >= MAX_PENDING:
                        raise  # the batch stays in the stream until the store takes seals again
                    log.warning("analytics seal failed; kept pending", exc_info=True)
        if docs:
            await self._store(docs)

    async def _store(self, docs: list[dict]) -> None:
        try:
            await retry_once(lambda: self.interactions.insert_many(docs, ordered=False))
        except BulkWriteError as exc:  # duplicates of a redelivery are expected; anything else is not
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise

    async def _process(self, entries) -> list[dict]:
        """Applies the batch's signals; returns its raw documents for ``_store``."""
        emb = self.embeddings
        docs: list[dict] = []
        applied_keys: list[str] = []
        batch: list[Any] = []
        parsed: list[tuple[str, Interaction]] = []
        for sid, fields in entries:
            if not fields:
                continue  # trimmed from the stream while pending
            i = Interaction.parse(fields)
            sid = sid.decode() if isinstance(sid, bytes) else sid
            parsed.append((sid, i))
            docs.append(
                {
                    "_id": i.id,
                    "user_id": i.user_id,
                    "item_type": i.item_type,
                    "item_id": i.item_id,
                    "kind": i.kind,
                    "dwell_ms": i.dwell_ms,
                    "watch_ms": i.watch_ms,
                    "ts": i.ts,
                    "at": datetime.fromtimestamp(i.ts, UTC),  # the TTL index's clock
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
                i.user_id,
                i.item_type,
                i.item_id,
                i.kind,
                i.dwell_ms,
                i.ts,
                club,
                bucket,
                embedding,
                i.watch_ms,
            )
            applied_keys.append(keys.applied(_day(i.ts)))
            batch.append([i.id, sid, [x for h, field, inc in incs for x in (h, field, repr(inc))]])
        if not parsed:
            return []
        out = await self.apply_script(keys=applied_keys, args=[json.dumps(batch)])
        self.applied += int(out[0])
        for (sid, i), flag in zip(parsed, out[1:], strict=True):
            if int(flag):
                self._pend(sid, i)
        self.processed += len(entries)
        return docs

    async def stats(self) -> dict:
        return {
            "processed": self.processed,
            "applied": self.applied,
            "model": self.embeddings.version if self.embeddings else None,
            "switched": self.switched,
            "switch_failures": dict(self.switch_failures),
            "switch_failing": self.switch_failing,
            "pending": len(self.pending),
            "sealed": self.sealed,
            "sealed_rows": self.sealed_rows,
            "seal_failures": dict(self.seal_failures),
            "analytics": self.analytics.kind,
        }

    async def ping(self) -> str:
        return "pong"


# Typed as Any: Ray's stubs type a handle's methods as the plain methods, without ``.remote``.
InteractionConsumer: Any = ray.remote(InteractionConsumerHost)


async def add_tail(
    redis,
    store: AnalyticsStore,
    version: int,
    emb: registry.Embeddings,
    watermark: str | None,
    pause_s: float = 0.0,
) -> tuple[int, int]:
    """Add, seal by seal, what was sealed after a training's ``watermark`` to that version's user
    embeddings; each seal with its progress mark in one MULTI, so a retry skips what is done. Returns
    (seals, rows) added: the interactions since training, never the history before it."""
    done = await redis.get(keys.user_embedding_switch(version))
    after = done.decode() if done else watermark
    seals = await asyncio.to_thread(store.seals_after, after)
    rows = 0
    for s in seals:
        table = await asyncio.to_thread(store.read, s.files)
        sums = user_sums(emb, table.to_pydict())
        async with redis.pipeline(transaction=True) as pipe:
            for user_id, vec in sums.items():
                key = keys.user_embedding(version, user_id)
                for dim, x in enumerate(vec):
                    if x:
                        pipe.hincrbyfloat(key, str(dim), float(x))
            pipe.set(keys.user_embedding_switch(version), s.id)
            await pipe.execute()
        rows += s.rows
        if pause_s:
            await asyncio.sleep(pause_s)
    return len(seals), rows


def user_sums(emb: registry.Embeddings, cols: Mapping[str, list]) -> dict[int, np.ndarray]:
    """Each user's share of some interactions in a version's space: the anchored weights times the items'
    unit vectors (what ``signals.increments`` adds one interaction at a time)."""
    sums: dict[int, np.ndarray] = {}
    watch = cols.get("watch_ms") or [None] * len(cols["user_id"])  # absent from tables before reels
    for user_id, item_type, item_id, kind, dwell_ms, ts, watch_ms in zip(
        cols["user_id"],
        cols["item_type"],
        cols["item_id"],
        cols["kind"],
        cols["dwell_ms"],
        cols["ts"],
        watch,
        strict=True,
    ):
        vec = emb.get(signals.item_key(item_type, item_id))
        if vec is None or kind not in signals.KIND_WEIGHT:
            continue
        w = signals.anchored(signals.weight(kind, dwell_ms, watch_ms), ts)
        if w:
            acc = sums.get(user_id)
            if acc is None:
                acc = sums[user_id] = np.zeros(len(vec))
            acc += w * vec
    return sums


async def drop_user_vectors(redis, keep_from: int) -> int:
    """Delete user embeddings (and readiness and switch marks) of model versions older than ``keep_from``."""
    dropped = 0
    for prefix in (
        keys.USER_EMBEDDING_PREFIX,
        keys.USER_EMBEDDING_READY_PREFIX,
        keys.USER_EMBEDDING_SWITCH_PREFIX,
    ):
        async for key in redis.scan_iter(match=prefix + "*", count=1000):
            version = int(key.decode()[len(prefix) :].split(":")[0])
            if version < keep_from:
                dropped += await redis.unlink(key)
    return dropped
