"""Achievements, awarded from the activity stream — never by the request that caused them.

Actions and shards append to the Redis stream ``clubhub:activity`` (``message_sent``, ``club_founded``,
``live_hosted``, ``live_attended``). Every gateway runs an ``AchievementWorker`` in one consumer group,
so each entry is handled by one of them: it counts the user's activity in Redis, checks the rules, and
awards what was newly earned — once, by the unique (user, achievement) row — announcing it to the
user's sockets on every gateway as ``achievement``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError

from storage import keys, notifications
from storage.models import Achievement, UserAchievement
from storage.notifications import NewNotification
from storage.streams import consume, ensure_group

log = logging.getLogger(__name__)

CLAIM_EVERY_S = 30.0
CLAIM_IDLE_MS = 60_000
# Between reads that found only a few entries: an achievement may come a quarter second later, and one
# batch (two Redis round trips, one PostgreSQL query) covers many messages instead of one.
LINGER_S = 0.25


@dataclass(frozen=True)
class Rule:
    code: str
    title: str
    description: str
    kind: str
    count: int


RULES = (
    Rule("first_message", "First words", "Sent a first message", "message_sent", 1),
    Rule("hundred_messages", "Chatterbox", "Sent 100 messages", "message_sent", 100),
    Rule("founded_club", "Founder", "Founded a club", "club_founded", 1),
    Rule("hosted_live", "On stage", "Hosted a live session", "live_hosted", 1),
    Rule("attended_5_live", "Regular", "Attended 5 live sessions", "live_attended", 5),
)


def earned(counts: dict[str, int]) -> set[str]:
    """The achievements these activity counts qualify for."""
    return {r.code for r in RULES if counts.get(r.kind, 0) >= r.count}


async def record_activity(redis, user_id: int, kind: str, ref: int) -> None:
    """Append to the activity stream (Redis Streams) that achievements are awarded from."""
    await redis.xadd(
        keys.ACTIVITY_STREAM,
        {"user_id": user_id, "kind": kind, "ref": ref},
        maxlen=keys.ACTIVITY_MAXLEN,
        approximate=True,
    )


class AchievementWorker:
    """``emit``: ``async (event, data, room=...)``, the Socket.IO server's emit (through the Redis manager)."""

    def __init__(self, redis, emit, consumer: str) -> None:
        self.redis = redis
        self.emit = emit
        self.consumer = consumer
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        for r in RULES:
            await Achievement.update_or_create(
                code=r.code, defaults={"title": r.title, "description": r.description}
            )
        # "$": entries from now on; the group keeps its position across gateway restarts.
        await ensure_group(self.redis, keys.ACTIVITY_STREAM, keys.ACTIVITY_GROUP, "$")
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        # Entries a dead gateway took and never acknowledged are claimed after a minute.
        await consume(
            self.redis,
            keys.ACTIVITY_STREAM,
            keys.ACTIVITY_GROUP,
            self.consumer,
            self.process,
            claim_idle_ms=CLAIM_IDLE_MS,
            claim_every_s=CLAIM_EVERY_S,
            linger_s=LINGER_S,
        )

    async def process(self, entries) -> None:
        """One batch of entries: every user's counts in one pipeline, one query for the achievements they
        may newly qualify for, and an award for each one missing. A count only moves up, so the rules to
        check are those of the kinds counted in this batch (a replayed entry counts again: counts are
        at-least-once; awards stay once each)."""
        per_user: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for _, fields in entries:
            user_id = int(fields[b"user_id"])
            per_user[user_id][fields[b"kind"].decode()] += 1
        counted = [(user_id, kind, n) for user_id, kinds in per_user.items() for kind, n in kinds.items()]
        async with self.redis.pipeline(transaction=False) as pipe:
            for user_id, kind, n in counted:
                pipe.hincrby(keys.activity_counts(user_id), kind, n)
            totals = await pipe.execute()
        candidates = {
            (user_id, code)
            for (user_id, kind, _), total in zip(counted, totals, strict=True)
            for code in earned({kind: int(total)})
        }
        if not candidates:
            return
        have = set(
            await UserAchievement.filter(
                user_id__in=sorted({u for u, _ in candidates}),
                achievement_id__in=sorted({c for _, c in candidates}),
            ).values_list("user_id", "achievement_id")
        )
        for user_id, code in sorted(candidates - have):
            await self.award(user_id, code)

    async def award(self, user_id: int, code: str) -> None:
        try:
            ua = await UserAchievement.create(user_id=user_id, achievement_id=code)
        except IntegrityError:
            return  # awarded already (another gateway, a replayed entry): once each
        rule = next(r for r in RULES if r.code == code)
        # In the inbox too (once: the award above is once, and so is the notification's cause).
        created = await notifications.create(
            [NewNotification(user_id, "achievement", f"achievement:{code}", f"Achievement: {rule.title}")]
        )
        for item in created:
            data = {k: v for k, v in item.items() if k != "user_id"}
            await self.emit("notification", data, room=f"user:{user_id}")
        await self.emit(
            "achievement",
            {
                "code": code,
                "title": rule.title,
                "description": rule.description,
                "awarded_at": ua.awarded_at.isoformat(),
            },
            room=f"user:{user_id}",
        )


async def user_achievements(user_id: int) -> list[dict]:
    rows = (
        await UserAchievement.filter(user_id=user_id).order_by("awarded_at").prefetch_related("achievement")
    )
    return [
        {
            "code": r.achievement_id,
            "title": r.achievement.title,
            "description": r.achievement.description,
            "awarded_at": r.awarded_at.isoformat(),
        }
        for r in rows
    ]
