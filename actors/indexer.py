"""``SearchIndexer``: a Ray actor that keeps the message search index (``storage.search``) from the rooms'
commit stream, off the message hot path.

Room shards put an entry on ``keys.SEARCH_STREAM`` for every stored batch of a room and for every edit or
delete (in the pipeline that publishes them: no extra round trip). The indexer reads it in the consumer
group ``keys.SEARCH_GROUP`` at least once (``storage.streams.consume``: what it took and never acknowledged
is read again after a restart or a failure) and writes each read as **one** upsert, acknowledging only after
the statement returned. The upsert writes a row only when its ``rev`` is newer, so a redelivered or late
entry changes nothing, and a deleted message (empty text) cannot come back.

Low lag: a read blocks at most ``BLOCK_MS`` and takes up to ``READ_COUNT`` entries, so a message is
searchable a few milliseconds after its batch is stored when the index keeps up, and a backlog drains in
reads of hundreds of entries per statement. When the database fails, the batch stays pending and is read
again after a pause that doubles up to ``BACKOFF_MAX_S``; nothing is dropped but an entry that can never
be parsed (counted as ``malformed``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import ray

from storage import keys

from .config import ActorConfig
from .hosting import OpenOnce, TaskSet

log = logging.getLogger(__name__)

CONSUMER = "indexer-0"  # one named actor: its identity survives its restarts
READ_COUNT = 500  # entries per read (one statement for all of them)
BLOCK_MS = 200  # the longest a read waits for new entries
BACKOFF_S = 0.5
BACKOFF_MAX_S = 10.0


class IndexerHost:
    def __init__(self, config: ActorConfig | Mapping[str, Any], stream: str | None = None) -> None:
        self.config = ActorConfig.of(config)
        self.stream = stream or keys.SEARCH_STREAM
        self.started = time.time()
        self.tasks = TaskSet()
        self.counters: Counter[str] = Counter()
        self._opened = OpenOnce(self._open)
        self._started = OpenOnce(self._start)
        self._failures = 0

    async def start(self) -> str:
        """Idempotent: concurrent callers (every gateway at start-up) start one loop."""
        await self._started()
        return "running"

    async def _start(self) -> None:
        await self._opened()
        self.tasks.spawn(self._run())

    async def _open(self) -> None:
        from storage.postgres import init_tortoise, tortoise_config
        from storage.redis import connect_redis
        from storage.search import PostgresSearch
        from storage.streams import ensure_group

        await init_tortoise(tortoise_config(self.config.postgres_url))
        self.redis = connect_redis(self.config.redis_url)
        self.store = PostgresSearch()
        # "0": entries written before the group existed (the shards start first) are indexed too.
        await ensure_group(self.redis, self.stream, keys.SEARCH_GROUP, "0")

    async def _run(self) -> None:
        from storage.streams import consume

        await consume(
            self.redis,
            self.stream,
            keys.SEARCH_GROUP,
            CONSUMER,
            self.handle,
            count=READ_COUNT,
            block_ms=BLOCK_MS,
        )

    async def handle(self, entries: Sequence[tuple[bytes, Mapping[bytes, bytes]]]) -> None:
        """One read: every message of every entry, one upsert. Raises when the store fails (after a pause
        that grows with consecutive failures), so the read stays pending and is read again."""
        from storage.search import IndexRow, parse_entry

        rows: list[IndexRow] = []
        for _, raw in entries:
            try:
                rows += parse_entry(raw)
            except (ValueError, KeyError, TypeError) as exc:
                self.counters["malformed"] += 1  # read again it would fail again: counted, logged, skipped
                log.warning("search entry skipped: %s", exc)
        try:
            written = await self.store.index(rows)
        except Exception:
            self._failures += 1
            self.counters["store_errors"] += 1
            pause = min(BACKOFF_MAX_S, BACKOFF_S * 2 ** min(self._failures - 1, 10))
            log.warning("indexing failed; the batch is read again in %.1f s", pause)
            await asyncio.sleep(pause)
            raise
        self._failures = 0
        self.counters["entries"] += len(entries)
        self.counters["rows"] += written
        self.counters["skipped_rows"] = self.store.skipped_rows

    async def stats(self) -> dict:
        return {"started": self.started, **self.counters}

    async def ping(self) -> str:
        return "pong"


# Typed as Any: Ray's stubs type a handle's methods as the plain methods, without ``.remote``.
SearchIndexer: Any = ray.remote(IndexerHost)
