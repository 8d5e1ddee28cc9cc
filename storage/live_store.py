"""``LiveStore``: live sessions' journals in MongoDB, so a session outlives the actor hosting it.

One collection, ``live_journal``, one document per stored flush of a session: ``{event_id, journal, version,
records, state?, status, ts, expire_at}``. ``journal`` counts a session's flushes (1, 2, 3…); ``version`` is
the session's version after them. Every ``SNAPSHOT_EVERY``-th entry (and the first and the last) also carries
the whole ``state``: a restore reads back from the newest entry to the newest snapshot and replays the records
after it, and entries older than a snapshot are trimmed. So every flush is one small insert (the cost follows
the change, not the session's size), and a restore reads at most about ``SNAPSHOT_EVERY`` entries.

Why MongoDB and not Redis: it is the store whose acknowledged writes are already the product's durability
promise (messages), with the same client and timeouts; Redis here is a bus and a cache (an embedded Redis
without an append-only file loses its last writes on a crash).

Only inserts, and a unique index on ``(event_id, journal)``: a second writer of the same session (an actor
presumed dead that still runs) collides on its next entry and is told so (``StaleWriter``) instead of
silently interleaving. Inserts also behave the same on every MongoDB-wire server (upserts keyed by ``_id``
with extra filter fields do not, on the embedded one).

Retention: each entry expires ``LIVE_RETENTION_DAYS`` after it was written while the session is live, and the
final entry of an ended session ``ENDED_RETENTION_DAYS`` after the end (the summary itself lives on the event
in PostgreSQL). A TTL index removes them on MongoDB; ``purge()`` does the same where the server has no TTL
monitor (the embedded one).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from .mongo import retry_once

LIVE_JOURNAL = "live_journal"
SNAPSHOT_EVERY = 100  # entries between two snapshots: bounds what a restore reads and replays
MAX_RESTORE_ENTRIES = 4 * SNAPSHOT_EVERY  # more after the newest snapshot means trimming failed for long
LIVE_RETENTION_DAYS = 30  # a live session without any change for this long is dropped
ENDED_RETENTION_DAYS = 7

INDEXES = [
    IndexModel([("event_id", ASCENDING), ("journal", ASCENDING)], unique=True, name="event_journal"),
    IndexModel([("expire_at", ASCENDING)], expireAfterSeconds=0, name="expire_at"),
]


class LiveStoreError(Exception):
    """The journal could not be read or written (timeout, server error, or backing off after one)."""


class StaleWriter(LiveStoreError):
    """An entry with this journal number exists: another host wrote this session after we loaded it."""


@dataclass
class Journal:
    """What a restore needs: the newest snapshot and the records stored after it, oldest first."""

    state: dict
    snapshot_journal: int
    snapshot_ts: float
    journal: int  # the newest entry
    version: int  # the version after the newest entry
    records: list[dict] = field(default_factory=list)


class Backoff:
    """After a failure, refuse at once for a while (doubling up to ``cap``) instead of letting every caller
    wait out its own timeout against a store that is down."""

    def __init__(self, first: float = 0.1, cap: float = 5.0) -> None:
        self.first, self.cap = first, cap
        self.delay = 0.0
        self.until = 0.0

    def check(self) -> None:
        if time.monotonic() < self.until:
            raise LiveStoreError("live store backing off after a failure")

    def failed(self) -> None:
        self.delay = min(self.cap, self.delay * 2 if self.delay else self.first)
        self.until = time.monotonic() + self.delay

    def succeeded(self) -> None:
        self.delay = 0.0
        self.until = 0.0


class LiveStore:
    """``db``: a callable answering the MongoDB database (the room shard's client, connected when it opens)."""

    def __init__(self, db: Callable[[], Any], timeout_s: float = 2.0) -> None:
        self._db = db
        self.timeout_s = timeout_s
        self.backoff = Backoff()
        self._indexed = False

    @property
    def journal(self) -> Any:
        return self._db()[LIVE_JOURNAL]

    async def _run(self, operation: Callable[[], Any]) -> Any:
        """One store call: refused while backing off, bounded by the timeout, any failure a ``LiveStoreError``."""
        self.backoff.check()
        try:
            async with asyncio.timeout(self.timeout_s):
                if not self._indexed:
                    await self.journal.create_indexes(INDEXES)
                    self._indexed = True
                result = await operation()
        except DuplicateKeyError as exc:
            raise StaleWriter(str(exc)) from None  # the store answered: no reason to back off
        except Exception as exc:
            self.backoff.failed()
            raise LiveStoreError(f"{type(exc).__name__}: {exc}") from None
        self.backoff.succeeded()
        return result

    async def load(self, event_id: int) -> Journal | None:
        """The session's newest snapshot and the records after it; None when nothing (or only an expired
        tail without its snapshot) is stored."""

        async def read() -> list[dict]:
            entries: list[dict] = []
            cursor = self.journal.find({"event_id": event_id}).sort("journal", DESCENDING)
            async for doc in cursor:
                entries.append(doc)
                if doc.get("state") is not None or len(entries) > MAX_RESTORE_ENTRIES:
                    break
            await cursor.close()
            return entries

        entries = await self._run(lambda: retry_once(read))
        if not entries or entries[-1].get("state") is None:
            if len(entries) > MAX_RESTORE_ENTRIES:
                raise LiveStoreError(
                    f"live session {event_id}: no snapshot in its last {len(entries)} entries"
                )
            return None
        entries.reverse()
        snapshot = entries[0]
        for before, after in zip(entries, entries[1:], strict=False):
            if after["journal"] != before["journal"] + 1:
                raise LiveStoreError(
                    f"live session {event_id}: journal entry {before['journal'] + 1} is missing"
                )
        return Journal(
            state=snapshot["state"],
            snapshot_journal=snapshot["journal"],
            snapshot_ts=snapshot["ts"].timestamp(),
            journal=entries[-1]["journal"],
            version=entries[-1]["version"],
            records=[r for e in entries[1:] for r in e["records"]],
        )

    async def append(
        self,
        event_id: int,
        journal: int,
        version: int,
        records: list[dict],
        state: dict | None = None,
        ended: bool = False,
    ) -> None:
        """Store one flush (and the whole state when ``state`` is given); ``StaleWriter`` if ``journal``
        is taken."""
        now = datetime.now(UTC)
        keep = timedelta(days=ENDED_RETENTION_DAYS if ended else LIVE_RETENTION_DAYS)
        doc = {
            "event_id": event_id,
            "journal": journal,
            "version": version,
            "records": records,
            "state": state,
            "status": "ended" if ended else "live",
            "ts": now,
            "expire_at": now + keep,
        }
        # Not retried: an insert that timed out may have landed, and a retry would collide with it. The caller
        # refuses and reloads, which reads back whatever did land.
        await self._run(lambda: self.journal.insert_one(doc))

    async def trim(self, event_id: int, before_journal: int) -> int:
        """Drop the entries a newer snapshot made redundant."""
        result = await self._run(
            lambda: self.journal.delete_many({"event_id": event_id, "journal": {"$lt": before_journal}})
        )
        return result.deleted_count

    async def purge(self) -> int:
        """Drop expired entries (what the TTL index does on MongoDB)."""
        now = datetime.now(UTC)
        result = await self._run(lambda: self.journal.delete_many({"expire_at": {"$lt": now}}))
        return result.deleted_count
