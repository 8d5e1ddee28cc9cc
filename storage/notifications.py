"""Notifications in PostgreSQL: created once per (user, cause), the inbox, read state, per-room levels.

``cause`` is the idempotency key of a notification: ``msg:<room>:<seq>`` (a mention or a reply: one
notification per message and person, whatever edits add), ``live:<event>``, ``remind:<event>:<offset>:
<starts_at>`` (an event moved gets reminders for its new time, the old ones never come due). Creation is
one ``INSERT … ON CONFLICT DO NOTHING RETURNING`` per chunk, so what it returns is exactly what is new:
a redelivered cause returns nothing and is announced to nobody a second time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import connections

from .models import Notification, NotifyLevel, RoomNotificationSetting, UserBlock

INBOX_LIMIT_MAX = 100
READ_IDS_MAX = 100  # ids in one mark-read call
INSERT_CHUNK = 1000  # rows per INSERT (an @everyone of a big room is a few statements)
TEXT_MAX = 300
# Kept this long (read or not): the inbox of someone away for a season does not grow for ever.
RETENTION_DAYS = 90
PRUNE_BATCH = 5000
_MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class NewNotification:
    user_id: int
    kind: str
    cause: str
    text: str
    room_id: int | None = None
    seq: int | None = None
    event_id: int | None = None
    actor_id: int | None = None
    actor_name: str | None = None


_INSERT = """
INSERT INTO notifications (user_id, kind, cause, room_id, seq, event_id, actor_id, actor_name, text, created_at)
SELECT u, k, c, r, s, e, a, n, t, now()
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[],
            $8::text[], $9::text[]) AS x(u, k, c, r, s, e, a, n, t)
ON CONFLICT (user_id, cause) DO NOTHING
RETURNING id, user_id, kind, room_id, seq, event_id, actor_id, actor_name, text, created_at, read_at
"""


async def create(
    rows: Sequence[NewNotification],
    chunk_size: int = INSERT_CHUNK,
    after_chunk: Callable[[list[dict]], Awaitable[None]] | None = None,
) -> list[dict]:
    """Store the notifications not stored before; returns the new ones (``as_item`` plus ``user_id``).
    ``after_chunk`` gets each chunk's new ones as soon as they are stored."""
    conn = connections.get("default")
    created: list[dict] = []
    for i in range(0, len(rows), chunk_size):
        chunk = rows[i : i + chunk_size]
        columns = [
            [r.user_id for r in chunk],
            [r.kind for r in chunk],
            [r.cause for r in chunk],
            [r.room_id for r in chunk],
            [r.seq for r in chunk],
            [r.event_id for r in chunk],
            [r.actor_id for r in chunk],
            [r.actor_name for r in chunk],
            [r.text[:TEXT_MAX] for r in chunk],
        ]
        new = [
            {**as_item(row), "user_id": row["user_id"]}
            for row in await conn.execute_query_dict(_INSERT, columns)
        ]
        created += new
        if after_chunk is not None:
            await after_chunk(new)
    return created


def as_item(row: Any) -> dict:
    """A stored notification (a row dict or a model) as the contract's notification."""
    get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
    item: dict[str, Any] = {
        "id": get("id"),
        "kind": get("kind"),
        "created_at": _iso(get("created_at")),
        "read": get("read_at") is not None,
        "text": get("text"),
    }
    for key in ("room_id", "seq", "event_id"):
        if get(key) is not None:
            item[key] = get(key)
    if get("actor_id") is not None:
        item["actor"] = {"id": get("actor_id"), "display_name": get("actor_name") or ""}
    return item


def _iso(value: Any) -> str:
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else str(value)


async def inbox(user_id: int, cursor: int | None, limit: int, unread: bool) -> tuple[list[dict], int | None]:
    """Newest first, ``limit`` (≤ INBOX_LIMIT_MAX) after ``cursor`` (the last id of the previous page);
    returns the items and the next cursor (None: no more)."""
    limit = max(1, min(limit, INBOX_LIMIT_MAX))
    query = Notification.filter(user_id=user_id)
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    if unread:
        query = query.filter(read_at__isnull=True)
    rows = await query.order_by("-id").limit(limit + 1)
    items = [as_item(r) for r in rows[:limit]]
    return items, (rows[limit - 1].id if len(rows) > limit else None)


async def mark_read(user_id: int, ids: Sequence[int] | None) -> list[int]:
    """Mark the user's notifications read (``ids``; None: all); returns the ids that were unread."""
    query = Notification.filter(user_id=user_id, read_at__isnull=True)
    if ids is not None:
        wanted = [i for i in ids if 0 < i <= _MAX_ID][:READ_IDS_MAX]
        if not wanted:
            return []
        query = query.filter(id__in=wanted)
    changed = [int(i) for i in await query.values_list("id", flat=True)]  # type: ignore[call-overload]
    if changed:
        await Notification.filter(id__in=changed, read_at__isnull=True).update(read_at=datetime.now(UTC))
    return changed


async def unread_counts(user_id: int) -> tuple[int, dict[str, int]]:
    """Unread notifications in all, and unread mentions per room (``{room_id: count}``)."""
    conn = connections.get("default")
    rows = await conn.execute_query_dict(
        """SELECT room_id, kind = 'mention' AS mention, count(*) AS n FROM notifications
           WHERE user_id = $1 AND read_at IS NULL GROUP BY room_id, kind = 'mention'""",
        [user_id],
    )
    total = sum(int(r["n"]) for r in rows)
    mentions = {str(r["room_id"]): int(r["n"]) for r in rows if r["mention"] and r["room_id"] is not None}
    return total, mentions


async def level_of(user_id: int, room_id: int) -> str:
    row = await RoomNotificationSetting.get_or_none(user_id=user_id, room_id=room_id)
    return NotifyLevel(row.level).value if row else NotifyLevel.all.value


async def set_level(user_id: int, room_id: int, level: str) -> str:
    await RoomNotificationSetting.update_or_create(
        user_id=user_id, room_id=room_id, defaults={"level": NotifyLevel(level)}
    )
    return level


async def muted(room_id: int, user_ids: Sequence[int] | None = None) -> set[int]:
    """The users (of ``user_ids``; None: any) who set the room to ``none``."""
    query = RoomNotificationSetting.filter(room_id=room_id, level=NotifyLevel.none)
    if user_ids is not None:
        query = query.filter(user_id__in=list(user_ids))
    return {int(u) for u in await query.values_list("user_id", flat=True)}  # type: ignore[call-overload]


async def blocking(actor_id: int, user_ids: Sequence[int] | None = None) -> set[int]:
    """The users (of ``user_ids``; None: any) who blocked ``actor_id``."""
    query = UserBlock.filter(blocked_id=actor_id)
    if user_ids is not None:
        query = query.filter(user_id__in=list(user_ids))
    return {int(u) for u in await query.values_list("user_id", flat=True)}  # type: ignore[call-overload]


async def prune(now: datetime | None = None) -> int:
    """Delete up to PRUNE_BATCH notifications older than RETENTION_DAYS; returns how many."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=RETENTION_DAYS)
    conn = connections.get("default")
    rows = await conn.execute_query_dict(
        """DELETE FROM notifications WHERE id IN (
             SELECT id FROM notifications WHERE created_at < $1 ORDER BY id LIMIT $2) RETURNING id""",
        [cutoff, PRUNE_BATCH],
    )
    return len(rows)
