"""The Redis keyspace: every key the project reads or writes, defined once.

Each key is a constant (a fixed key) or a function of its variable part (a family of keys, with the
``*_PREFIX`` constant for the places that need the bare prefix: a Lua script, a ``SCAN`` match). Every
entry says what it holds, its Redis type, which module owns it (writes it and decides its shape) and what
bounds it (a TTL, a trim length, or the size of what it mirrors). The strings are the stored data's
names: changing one orphans what a running deployment holds, so they change only with a migration.

Lua scripts never spell a key: they receive keys in ``KEYS``, or a prefix from here formatted into the
script text at import (``gateway.tokens``' claim script: ``REFRESH_FAMILY_REVOKED_PREFIX``).

Pub/sub channels are not keys (nothing is stored under them) but are named here too: each gateway's own
channel (``gateway_channel``). Not here: python-socketio's shared channel itself (``Settings.socketio_channel``,
default ``clubhub``) and the internal event names sent on the channels (``clubhub:rooms``,
``clubhub:kick``, ``clubhub:revoke``), which belong to the fan-out; the hash *fields* of the ranking signals
(``event:<id>``, ``club:<id>``, ``hour:<b>``: ``ranking.signals.item_key``).
"""

from __future__ import annotations

NAMESPACE = "clubhub:"

# -- accounts (owner: gateway accounts and tokens) ----------------------------------------------------

# string (JSON ``{"user_id", "family", "used"}``): a refresh token's record, under the SHA-256 of the token.
# TTL: the refresh-token lifetime; claiming it keeps the TTL (``KEEPTTL``).
REFRESH_TOKEN_PREFIX = NAMESPACE + "rt:"


def refresh_token(token_digest: str) -> str:
    return REFRESH_TOKEN_PREFIX + token_digest


# string ``1``: this login family is revoked (logout, or a replayed refresh token).
# TTL: the refresh-token lifetime, so it outlives every token of the family. Read by the claim script.
REFRESH_FAMILY_REVOKED_PREFIX = NAMESPACE + "rtfam:revoked:"


def refresh_family_revoked(family: str) -> str:
    return REFRESH_FAMILY_REVOKED_PREFIX + family


# string (user id): an email-verification token, under the SHA-256 of the token; consumed by ``GETDEL``.
# TTL: ``Settings.verify_token_ttl_s``.
VERIFY_TOKEN_PREFIX = NAMESPACE + "verify:"


def verify_token(token_digest: str) -> str:
    return VERIFY_TOKEN_PREFIX + token_digest


# list (JSON mails, newest first): the dev mailbox of one address (no SMTP configured). Owner: gateway mail.
# Bound: trimmed to the mailer's keep count; TTL ``Settings.verify_token_ttl_s`` from the newest mail.
DEV_MAILBOX_PREFIX = NAMESPACE + "devmail:"


def dev_mailbox(email: str) -> str:
    return DEV_MAILBOX_PREFIX + email.strip().lower()


# -- rate limits (owner: gateway rate limiting) --------------------------------------------------------

# string (counter): hits in the current fixed window of one limit. TTL: the window.
RATE_LIMIT_PREFIX = NAMESPACE + "rl:"
# string (counter): failures under one backoff name. TTL: the policy's forget time, renewed per failure.
FAILURE_PREFIX = NAMESPACE + "fail:"
# string (failure count): present while that name is locked out. TTL: the lock.
FAILURE_LOCK_PREFIX = FAILURE_PREFIX + "lock:"


def rate_limit(name: str) -> str:
    return RATE_LIMIT_PREFIX + name


def failure_count(name: str) -> str:
    return FAILURE_PREFIX + name


def failure_lock(name: str) -> str:
    return FAILURE_LOCK_PREFIX + name


# The names counted under those prefixes (the limiter and the backoff add the prefix).
def signup_by_address(ip: str) -> str:
    return f"signup:ip:{ip}"


def signup_by_account(email_digest: str) -> str:
    return f"signup:acct:{email_digest}"


def login_by_address(ip: str) -> str:
    """A login window (``rl:``) and the per-address backoff (``fail:``) share this name."""
    return f"login:ip:{ip}"


def login_by_account_and_address(email_digest: str, ip: str) -> str:
    return f"login:{email_digest}:{ip}"


def interactions_by_user(user_id: int) -> str:
    return f"interactions:user:{user_id}"


def media_uploads_by_user(user_id: int) -> str:
    """Uploads one user may start per hour (``Settings.media_uploads_per_hour``)."""
    return f"media:uploads:user:{user_id}"


# -- gateways (owner: gateway chat client; read by actors' housekeeping) -------------------------------

# string ``1``: a gateway's heartbeat; shards drop the sockets of a gateway whose key expired.
# TTL: three housekeeping periods (at least 3 s), refreshed every period.
GATEWAY_HEARTBEAT_PREFIX = NAMESPACE + "gw:"


def gateway_heartbeat(gateway_id: str) -> str:
    return GATEWAY_HEARTBEAT_PREFIX + gateway_id


# pub/sub channel (not a key): one gateway's own channel, next to python-socketio's shared one (the
# ``base`` passed in). Room shards publish a room's message batches only on the channels of the gateways
# holding sockets in that room (``actors.fanout.MessageFanout``); the gateway subscribes to its own.
def gateway_channel(base: str, gateway_id: str) -> str:
    return f"{base}:gateway:{gateway_id}"


# -- chat (owner: actors' room and session shards; read by the gateway) -------------------------------

# hash room id -> seq of the room's last published message (unread counts, resync after a missed batch).
# No TTL; one field per room.
ROOM_LAST_SEQ = NAMESPACE + "room_last_seq"

# hash socket key (``<gateway_id>/<sid>``) -> user id: the sockets in one active room, so that a room
# shard restarted by Ray knows again which gateways to publish the room's batches to (and who is online)
# without every socket having to rejoin. Owner: actors' room shards (``actors.fanout.RoomSockets``).
# No TTL; bound: the room's sockets: a leave deletes its field, the sweep deletes the fields of dead
# gateways and the whole hash when the room is evicted (evicted rooms hold no sockets).
ROOM_SOCKETS_PREFIX = NAMESPACE + "room_sockets:"


def room_sockets(room_id: int) -> str:
    return ROOM_SOCKETS_PREFIX + str(room_id)


# hash room id -> the last seq the user has read. No TTL; one field per room the user has read.
READ_MARKS_PREFIX = NAMESPACE + "read:"


def read_marks(user_id: int) -> str:
    return READ_MARKS_PREFIX + str(user_id)


# -- activity and achievements -------------------------------------------------------------------------

# stream (user_id, kind, ref): what members did, appended by actions and room shards, read by the
# achievement workers in consumer group ``ACTIVITY_GROUP``. Bound: trimmed (approximately) to ACTIVITY_MAXLEN.
ACTIVITY_STREAM = NAMESPACE + "activity"
ACTIVITY_MAXLEN = 100_000
ACTIVITY_GROUP = "achievements"

# hash kind -> count: a user's activity so far (the achievement rules' input). Owner: gateway achievements.
# No TTL; one field per activity kind.
ACTIVITY_COUNTS_PREFIX = NAMESPACE + "activity_counts:"


def activity_counts(user_id: int) -> str:
    return ACTIVITY_COUNTS_PREFIX + str(user_id)


# -- notifications (owner: actors' notifier; entry shape: actors.fanout.notice_entry) ---------------------

# stream (kind, …): what may notify someone — a message with mentions or a reply (room shards, in the same
# pipeline as the message's fan-out), an edit adding mentions, a live session started (gateway). Read by
# the notifier in consumer group ``NOTIFY_GROUP``; every notification is keyed by its cause, so a
# redelivered entry creates nothing twice. Bound: trimmed (approximately) to NOTIFY_MAXLEN.
NOTIFY_STREAM = NAMESPACE + "notify"
NOTIFY_MAXLEN = 200_000
NOTIFY_GROUP = "notifier"


# -- search indexing (owner: actors' search indexer; entry shape: actors.fanout.search_entry) -------------

# stream (room_id, messages): every stored message and every edit or delete, as the room shards commit
# them (in the same pipeline as their fan-out), for the search index. Read by the indexer in consumer
# group ``SEARCH_GROUP``; rows are written only when newer (by rev), so a redelivered or late entry
# changes nothing. Bound: trimmed (approximately) to SEARCH_MAXLEN.
SEARCH_STREAM = NAMESPACE + "search"
SEARCH_MAXLEN = 500_000
SEARCH_GROUP = "indexer"


# -- media processing (producer: gateway media actions; owner: actors' media worker) ------------------------

# stream (media_id): an uploaded object whose bytes passed ``POST /media/{id}/complete`` (size checked, type
# sniffed) and whose row is now ``processing``; one entry ``{"media_id": "<uuid hex>"}`` per completion.
# Read by the media worker in consumer group ``MEDIA_GROUP``, at least once: the worker is idempotent per
# media id (a row no longer ``processing`` is acked and skipped). Bound: trimmed (approximately) to
# MEDIA_MAXLEN.
MEDIA_STREAM = NAMESPACE + "media"
MEDIA_MAXLEN = 100_000
MEDIA_GROUP = "media-worker"


# -- interactions and feed signals (owner: actors' interaction consumer; shapes: ranking.signals) ------

# stream (id, user_id, item_type, item_id, kind, ts, source[, dwell_ms][, watch_ms]): interactions to turn
# into stored facts and signals, read in consumer group ``INTERACTIONS_GROUP``. Bound: trimmed (approximately) to
# INTERACTIONS_MAXLEN; the consumer keeps far behind that.
INTERACTIONS_STREAM = NAMESPACE + "interactions"
INTERACTIONS_MAXLEN = 1_000_000
INTERACTIONS_GROUP = "interaction-consumer"

# hash item field -> anchored popularity weight (float). No TTL; one field per item ever interacted with.
POPULARITY = NAMESPACE + "pop"
# zset item field -> the same weight: the popularity hash mirrored for the top items, cheaply. Same bound.
TRENDING = NAMESPACE + "trending"

# hash ``club:<id>`` | ``<item_type>:<id>`` | ``hour:<b>`` -> anchored weight: a user's affinities.
# No TTL; one field per item, club and hour bucket the user engaged with.
AFFINITY_PREFIX = NAMESPACE + "aff:"


def affinity(user_id: int) -> str:
    return AFFINITY_PREFIX + str(user_id)


# hash dimension index ``"0"``..``"d-1"`` -> anchored weighted sum: a user's embedding in one model
# version's space. No TTL; versions older than the kept ones are deleted by a SCAN on the prefix.
USER_EMBEDDING_PREFIX = NAMESPACE + "uemb:"


def user_embedding(version: int, user_id: int) -> str:
    return f"{USER_EMBEDDING_PREFIX}{version}:{user_id}"


# string ``1``: every user's embedding exists in this model version's space. Deleted with its version.
USER_EMBEDDING_READY_PREFIX = NAMESPACE + "uemb-ready:"


def user_embedding_ready(version: int) -> str:
    return f"{USER_EMBEDDING_READY_PREFIX}{version}"


# hash interaction id -> the stream entry id that applied it, per UTC day of the interaction (the
# exactly-once effect: a redelivered entry finds its own id there, a re-sent interaction another one, and
# only the entry that applied it goes to the analytics store). TTL: APPLIED_TTL_S, renewed by each new id:
# longer than any redelivery. (Before the analytics store these were sets under ``applied:``.)
APPLIED_PREFIX = NAMESPACE + "applied-by:"
APPLIED_TTL_S = 8 * 86400


def applied(day: str) -> str:
    """``day``: the UTC date of the interaction, ``YYYYMMDD``."""
    return APPLIED_PREFIX + day


# string: the id of the newest seal the interaction consumer wrote to the analytics store
# (storage.analytics). What the stream holds after it is not in Parquet yet. No TTL; one key.
ANALYTICS_SEALED = NAMESPACE + "analytics-sealed"

# string: the last analytics seal a model switch has added to that version's user embeddings (each seal
# is added in one MULTI with this mark, so a switch killed midway resumes without adding one twice).
# Deleted with its version.
USER_EMBEDDING_SWITCH_PREFIX = NAMESPACE + "uemb-switch:"


def user_embedding_switch(version: int) -> str:
    return f"{USER_EMBEDDING_SWITCH_PREFIX}{version}"
