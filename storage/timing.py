"""How long each call to PostgreSQL, MongoDB and Redis takes, reported as ``(store, operation, seconds)``.

Each driver reports through the hook it has for this, so no call site changes:

- PostgreSQL: asyncpg's query logger on every pooled connection (``Connection.add_query_logger``); the
  operation is the statement's first keyword (``select``, ``insert``, ``begin``...).
- MongoDB: PyMongo's command monitoring (``CommandListener``); the operation is the command (``find``,
  ``insert``, ``aggregate``...).
- Redis: a ``redis.asyncio.Redis`` whose ``execute_command`` and pipelines are timed; the operation is the
  command (``get``, ``evalsha``, ``xadd``...), or ``pipeline`` / ``multi`` for a whole pipeline (one round trip).
  Blocking reads (``XREADGROUP ... BLOCK``) are left out: their time is the wait for new entries, not the store's.

The operation names come from our code and the drivers, never from input, but a store still gets at most
``MAX_OPERATIONS`` distinct ones (then ``other``), so a metric labelled by them stays bounded whatever
the code does.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis.asyncio as aioredis
from pymongo import monitoring
from redis.asyncio.client import Pipeline

Observer = Callable[[str, str, float], None]

MAX_OPERATIONS = 32
OTHER = "other"
# The statements PostgreSQL gets from Tortoise and our own SQL; anything else is `other`.
SQL_OPERATIONS = frozenset(
    {"select", "insert", "update", "delete", "begin", "commit", "rollback", "savepoint", "release", "with"}
)
# Redis commands that wait for data by design.
BLOCKING = frozenset({"BLPOP", "BRPOP", "BLMOVE", "BRPOPLPUSH", "BZPOPMIN", "BZPOPMAX", "WAIT"})
BLOCKABLE = frozenset({"XREAD", "XREADGROUP"})


class StoreTimings:
    """One listener's view of the store calls: ``observer(store, operation, seconds)`` for each."""

    def __init__(self, observer: Observer) -> None:
        self.observer = observer
        self._operations: dict[str, set[str]] = {}

    def observe(self, store: str, operation: str, seconds: float) -> None:
        seen = self._operations.setdefault(store, set())
        if operation not in seen:
            if len(seen) >= MAX_OPERATIONS:
                operation = OTHER
            else:
                seen.add(operation)
        self.observer(store, operation, seconds)


# -- PostgreSQL -------------------------------------------------------------------------------------
# Tortoise keeps one connection pool per process (storage.postgres.init_tortoise), shared by every Stores
# the process opens, so its queries are reported to every listener of the process. One entry per open
# Stores that asked for timings (added by Stores.open, removed by Stores.close): bounded by those.
_postgres_listeners: list[StoreTimings] = []


def listen_postgres(timings: StoreTimings) -> None:
    if timings not in _postgres_listeners:
        _postgres_listeners.append(timings)


def unlisten_postgres(timings: StoreTimings) -> None:
    if timings in _postgres_listeners:
        _postgres_listeners.remove(timings)


def sql_operation(query: str) -> str:
    head = query.lstrip(" \t\n(").split(None, 1)
    word = head[0].rstrip(";").lower() if head else ""
    return word if word in SQL_OPERATIONS else OTHER


def _postgres_query_logged(record) -> None:
    # asyncpg calls this soon after the query (call_soon), with its elapsed time already measured.
    if _postgres_listeners:
        operation = sql_operation(record.query)
        for timings in _postgres_listeners:
            timings.observe("postgres", operation, record.elapsed)


async def instrument_postgres_connection(conn) -> None:
    """asyncpg's pool ``init``: runs once for each new connection of the pool."""
    conn.add_query_logger(_postgres_query_logged)


# -- MongoDB ----------------------------------------------------------------------------------------
class MongoTimer(monitoring.CommandListener):
    """PyMongo's command monitoring, for one client (``event_listeners=[MongoTimer(timings)]``)."""

    def __init__(self, timings: StoreTimings) -> None:
        self.timings = timings

    def started(self, event) -> None:
        pass

    def succeeded(self, event) -> None:
        self.timings.observe("mongo", event.command_name, event.duration_micros / 1e6)

    def failed(self, event) -> None:
        # A failed command took the caller's time as well: it counts in the same histogram.
        self.timings.observe("mongo", event.command_name, event.duration_micros / 1e6)


# -- Redis ------------------------------------------------------------------------------------------
def redis_operation(args: tuple) -> str | None:
    """The label of a command (``None``: a blocking one, not timed)."""
    name = args[0]
    name = name.decode() if isinstance(name, bytes) else str(name)
    upper = name.upper()
    if upper in BLOCKING or (upper in BLOCKABLE and b"BLOCK" in args):
        return None
    return upper.lower().replace(" ", "_")  # "XINFO GROUPS" -> xinfo_groups


class TimedRedis(aioredis.Redis):
    """``redis.asyncio.Redis`` reporting each command's round trip to ``timings`` (set before use)."""

    timings: StoreTimings | None = None

    async def execute_command(self, *args, **options):
        timings = self.timings
        if timings is None:
            return await super().execute_command(*args, **options)
        start = time.perf_counter()
        try:
            return await super().execute_command(*args, **options)
        finally:
            operation = redis_operation(args)
            if operation is not None:
                timings.observe("redis", operation, time.perf_counter() - start)

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        pipe = TimedPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)
        pipe.timings = self.timings
        return pipe


class TimedPipeline(Pipeline):
    """A pipeline is one round trip: timed as a whole (``pipeline``, or ``multi`` for a transaction)."""

    timings: StoreTimings | None = None

    async def execute(self, raise_on_error: bool = True):
        timings = self.timings
        if timings is None or not self.command_stack:
            return await super().execute(raise_on_error)
        operation = "multi" if self.is_transaction or self.explicit_transaction else "pipeline"
        start = time.perf_counter()
        try:
            return await super().execute(raise_on_error)
        finally:
            timings.observe("redis", operation, time.perf_counter() - start)
