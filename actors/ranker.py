"""``Ranker``: the Ray actor that serves the feed.

One feed does it all in the actor — candidates (one PostgreSQL query), signals (one Redis pipeline,
concurrently), features and one batched prediction — and the gateway sends the feed requests that arrive
together in one call (``feeds``), so a feed costs at most one Ray round trip, and under load a share of one (``ranking.serve.FeedServer``: what it keeps hot between feeds, and the bounds). The actor polls
the model registry and hot-reloads a new version: the booster is parsed off the event loop and swapped in
with one assignment, so requests in flight finish on the model they started with and none is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

import ray

from ranking import registry
from ranking.serve import FeedServer
from storage import keys

from .config import ActorConfig
from .domain.errors import DomainError
from .hosting import OpenOnce, TaskSet

log = logging.getLogger(__name__)

FEED_UNAVAILABLE = "the feed ranker is not answering, try again"


class RankerHost:
    def __init__(self, config: ActorConfig | Mapping[str, Any]) -> None:
        self.config = ActorConfig.of(config)
        self.model: registry.RankerModel | None = None
        self.served = 0
        self.reloads = 0
        self.compiled_version: int | None = None
        self.latencies_ms: deque[float] = deque(maxlen=2000)  # in the actor, the last feeds
        self.tasks = TaskSet()
        self._open_once = OpenOnce(self._open)

    async def start(self) -> str:
        """Idempotent; concurrent callers (a restarted actor's first requests) all wait for one opening."""
        await self._open_once()
        return "running"

    async def _open(self) -> None:
        import asyncpg

        from storage import mongo as mongo_store
        from storage.postgres import connect_kwargs, init_tortoise, tortoise_config
        from storage.redis import connect_redis

        await init_tortoise(tortoise_config(self.config.postgres_url))
        self.redis = connect_redis(self.config.redis_url)
        self.db = mongo_store.connect_mongo(self.config.mongo_url)[self.config.mongo_db]
        # A pool of its own for the feed query: Tortoise's pool resets each connection on release, a
        # second round trip per query; the feed query leaves no session state to reset.
        self.pg = await asyncpg.create_pool(
            **connect_kwargs(self.config.postgres_url), min_size=1, max_size=4, reset=_no_reset
        )
        self.server = FeedServer(self.redis, self.pg)
        if self.config.use_model:  # False: the popularity fallback alone (a benchmark baseline)
            await self.reload()
            self.tasks.spawn(self._watch_registry())

    async def reload(self) -> int | None:
        """Load the newest model version if it is newer than the one serving; returns the serving version."""
        latest = await registry.latest_version(self.db)
        if (
            latest is not None
            and (self.model is None or latest > self.model.version)
            and await self.redis.exists(keys.user_embedding_ready(latest))
        ):
            # Only once the interaction consumer has every user's embedding in the new version's space.
            model = await registry.load(self.db, latest)
            if model is not None:
                self.model = model  # the swap: one assignment, in-flight requests keep their reference
                self.reloads += 1
                log.info("ranker model loaded", extra={"version": model.version})
                self.tasks.spawn(self._compile(model))
        return self.model.version if self.model else None

    async def _compile(self, model: registry.RankerModel) -> None:
        """The model's trees as machine code, swapped in when ready (its LightGBM booster serves meanwhile,
        with the same scores): in a thread, so feeds keep being served while LLVM works."""
        from ranking.compiled import compile_model

        if not self.config.compile_model:
            return
        t0 = time.perf_counter()
        compiled = await asyncio.to_thread(
            compile_model, model.text, model.booster, self.config.model_cache_dir
        )
        if compiled is not None:
            model.compiled = compiled
            self.compiled_version = model.version
            log.info(
                "ranker model compiled",
                extra={"version": model.version, "seconds": round(time.perf_counter() - t0, 1)},
            )

    async def _watch_registry(self) -> None:
        interval = float(self.config.ranker_reload_s)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.reload()
            except Exception as exc:  # a registry hiccup must not stop serving the current model
                log.warning("model reload failed: %s", exc)

    async def feed(self, user_id: int, limit: int, now: float | None = None) -> dict:
        await (
            self.start()
        )  # after a restart by Ray: serve at once rather than wait for the gateway's heartbeat
        t0 = time.perf_counter()
        model = self.model  # the whole feed on one model, whatever a reload swaps in meanwhile
        items, candidates = await self.server.feed(user_id, model, limit, now or time.time())
        self.served += 1
        self.latencies_ms.append((time.perf_counter() - t0) * 1000)
        return {"items": items, "model": model.version if model else None, "candidates": candidates}

    async def feeds(self, requests: list[dict], sent_at: float | None = None) -> list:
        """Several users' feeds in one call: the gateway coalesces the feed requests that arrive while its
        calls to this ranker are out (``actors.client.ShardBatcher``), so under load a Ray round trip, and
        its serialization on both sides, is paid per batch rather than per feed. Each feed answers on its
        own: one that fails is ``unavailable`` alone."""
        del sent_at  # the batcher's send time: kept for the shards' stage trace, unused here
        results = await asyncio.gather(
            *(self.feed(r["user_id"], r["limit"], r.get("now")) for r in requests), return_exceptions=True
        )
        out: list = []
        for r in results:
            if isinstance(r, BaseException):
                log.warning("feed failed: %s", r)
                out.append(DomainError("unavailable", FEED_UNAVAILABLE))
            else:
                out.append(r)
        return out

    async def stats(self) -> dict:
        lat = sorted(self.latencies_ms)
        server = getattr(self, "server", None)
        return {
            "served": self.served,
            "reloads": self.reloads,
            "version": self.model.version if self.model else None,
            "compiled_version": self.compiled_version,
            "pid": os.getpid(),  # for a profiler (py-spy) pointed at this actor
            "feed_ms_p50": round(lat[len(lat) // 2], 2) if lat else None,
            "feed_ms_p99": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2) if lat else None,
            "catalog_items": len(server.catalog) if server else 0,
            "catalog_reads": server.catalog.reads if server else 0,
        }

    async def ping(self) -> str:
        return "pong"


async def _no_reset(conn) -> None:
    return None


# Typed as Any: Ray's stubs type a handle's methods as the plain methods, without ``.remote``.
Ranker: Any = ray.remote(RankerHost)
