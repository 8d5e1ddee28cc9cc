"""MongoDB through PyMongo's async API: messages, interactions and the audit log."""

from __future__ import annotations

from urllib.parse import urlsplit

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError

MESSAGES = "messages"
INTERACTIONS = "interactions"
AUDIT_LOG = "audit_log"
# The default lifetime of a raw interaction document (CLUBHUB_INTERACTIONS_TTL_DAYS changes it for new
# databases; an existing index keeps its value until changed with collMod).
INTERACTIONS_TTL_S = 30 * 86400

INDEXES: dict[str, list[IndexModel]] = {
    MESSAGES: [
        # The order of a room: one document per seq, and seq is what history pages over.
        IndexModel([("room_id", ASCENDING), ("seq", ASCENDING)], unique=True, name="room_seq"),
        # Idempotency: a re-sent client_id can never be stored twice, even across shard restarts.
        IndexModel([("room_id", ASCENDING), ("client_id", ASCENDING)], unique=True, name="room_client_id"),
        # Rejoin with since_rev: what changed in a room after a revision.
        IndexModel([("room_id", ASCENDING), ("rev", ASCENDING)], name="room_rev"),
        # A thread's replies, in order (GET /rooms/{id}/threads/{root_seq}); only replies have the field.
        IndexModel(
            [("room_id", ASCENDING), ("thread_root_seq", ASCENDING), ("seq", ASCENDING)],
            name="room_thread",
            sparse=True,
        ),
        # A room's pins (at most room.MAX_PINS); only pinned messages have a pin time.
        IndexModel([("room_id", ASCENDING), ("pinned.at", ASCENDING)], name="room_pinned", sparse=True),
    ],
    INTERACTIONS: [
        IndexModel([("user_id", ASCENDING), ("ts", DESCENDING)], name="user_ts"),
        IndexModel([("item_type", ASCENDING), ("item_id", ASCENDING), ("ts", DESCENDING)], name="item_ts"),
        # Raw interactions expire: training reads the analytics store (Parquet), serving reads Redis.
        IndexModel([("at", ASCENDING)], name="at_ttl", expireAfterSeconds=INTERACTIONS_TTL_S),
    ],
    AUDIT_LOG: [
        IndexModel([("club_id", ASCENDING), ("ts", DESCENDING)], name="club_ts"),
    ],
}


def database_name(url: str, default: str) -> str:
    return urlsplit(url).path.lstrip("/").split("?")[0] or default


def connect_mongo(
    url: str,
    timeout_ms: int = 5000,
    socket_timeout_ms: int | None = None,
    event_listeners: list | None = None,
) -> AsyncMongoClient:
    # tz_aware: datetimes come back as aware UTC, like everything else in the project. The short
    # timeouts turn an unavailable server into a prompt `unavailable` instead of a 30 s hang.
    # event_listeners: PyMongo's monitoring (storage.timing.MongoTimer times each command).
    return AsyncMongoClient(
        url,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=socket_timeout_ms or max(timeout_ms * 2, 10000),
        # PyMongo refuses None here: an empty list is "no listener".
        event_listeners=event_listeners or [],
    )


async def ensure_indexes(db: AsyncDatabase, interactions_ttl_s: float | None = None) -> None:
    for collection, indexes in INDEXES.items():
        if collection == INTERACTIONS and interactions_ttl_s is not None:
            indexes = [
                IndexModel([("at", ASCENDING)], name="at_ttl", expireAfterSeconds=int(interactions_ttl_s))
                if i.document["name"] == "at_ttl"
                else i
                for i in indexes
            ]
        await db[collection].create_indexes(indexes)


async def ping_mongo(client: AsyncMongoClient) -> None:
    try:
        await client.admin.command("ping")
    except AutoReconnect:
        # A pooled connection from before a server restart fails once and is discarded: that is
        # not an outage. A second failure is.
        await client.admin.command("ping")


async def retry_once(operation):
    """Run ``operation()`` (a coroutine function), once more if a pooled connection turned out to be
    dead (a server restart leaves one stale connection per pooled socket; each fails exactly once).
    For operations that cannot have taken effect when AutoReconnect is raised before a reply: reads,
    and inserts whose connection was already closed."""
    try:
        return await operation()
    except ServerSelectionTimeoutError:
        raise  # no server at all: retrying would only double the wait
    except AutoReconnect:
        return await operation()
