"""The email digest: mentions, replies and DMs still unread after a while, one mail per user and period.

Every gateway runs a ``DigestWorker``. Every ``CLUBHUB_DIGEST_EVERY_S`` it pages through the users who have
notifications of those kinds that are unread, never digested and older than ``CLUBHUB_DIGEST_AFTER_S`` (and
email digests on, and no digest in the last ``CLUBHUB_DIGEST_AFTER_S``), claims them and mails each user one
digest. The claim is one transaction: the users' rows are locked (``FOR NO KEY UPDATE SKIP LOCKED``, so two
gateways never work on the same user at once, and inserting notifications is not blocked) and their due
notifications marked ``digested_at`` by an ``UPDATE … WHERE digested_at IS NULL … RETURNING``: a notification
goes into at most one mail. A failed send puts its claim back (the next period tries again); a gateway that dies
between claim and send loses that digest rather than sending it twice.

Each mail carries a one-click unsubscribe link (RFC 8058: ``List-Unsubscribe`` and ``List-Unsubscribe-Post``)
holding a signed token (HS256 with the access tokens' key ring, its own ``typ``, so neither kind of token is
taken for the other); ``unsubscribe(token)`` turns the user's digest off.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import jwt
from tortoise import connections
from tortoise.transactions import in_transaction

from actors.domain.errors import DomainError
from gateway.core.mail import Mail, Mailer
from gateway.core.tokens import ALGORITHM, KeyRing
from storage.models import User
from storage.settings import Settings

log = logging.getLogger(__name__)

DIGEST_KINDS = ("mention", "reply", "dm")
BATCH_USERS = 100  # users claimed (and mailed) per transaction
MAX_USERS_PER_TICK = 2000  # the rest wait for the next tick
LIST_MAX = 30  # notifications listed in one mail; the rest are counted
EXCERPT_MAX = 160
MAX_AGE = timedelta(
    days=7
)  # older unread notifications are not mailed (e.g. when a digest is turned back on)
MAX_BACKOFF_S = 600.0
UNSUBSCRIBE_TYP = "digest-unsubscribe"
UNSUBSCRIBE_PATH = "/api/v1/notifications/unsubscribe"

# Users with something due, in user id order from a cursor: the tick pages through them.
DUE_USERS_SQL = """
SELECT DISTINCT n.user_id FROM notifications n JOIN users u ON u.id = n.user_id
WHERE n.kind = ANY($1::text[]) AND n.read_at IS NULL AND n.digested_at IS NULL
  AND n.created_at < $2 AND n.created_at > $3
  AND u.email_digest AND u.email_verified_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM notifications m WHERE m.user_id = n.user_id AND m.digested_at > $4)
  AND n.user_id > $5
ORDER BY n.user_id
LIMIT $6
"""
# Inside the claim's transaction: the users no other gateway is digesting right now.
LOCK_USERS_SQL = """
SELECT id FROM users WHERE id = ANY($1::bigint[]) AND email_digest AND email_verified_at IS NOT NULL
FOR NO KEY UPDATE SKIP LOCKED
"""
# The claim: what is still due (re-checked under the users' locks), marked in the same statement.
CLAIM_SQL = """
UPDATE notifications n SET digested_at = $1
WHERE n.user_id = ANY($2::bigint[]) AND n.kind = ANY($3::text[]) AND n.read_at IS NULL
  AND n.digested_at IS NULL AND n.created_at < $4 AND n.created_at > $5
  AND NOT EXISTS (SELECT 1 FROM notifications m WHERE m.user_id = n.user_id AND m.digested_at > $6)
RETURNING n.id, n.user_id, n.kind, n.room_id, n.seq, n.event_id, n.actor_name, n.text, n.created_at
"""
UNCLAIM_SQL = "UPDATE notifications SET digested_at = NULL WHERE id = ANY($1::bigint[]) AND digested_at = $2"
ROOMS_SQL = """
SELECT r.id, r.name, r.club_id, c.name AS club_name FROM rooms r LEFT JOIN clubs c ON c.id = r.club_id
WHERE r.id = ANY($1::bigint[])
"""


# -- links and the unsubscribe token ---------------------------------------------------------------------


def message_link(base_url: str, room_id: int | None, seq: int | None, club_id: int | None) -> str:
    """Where the web client shows a message: its room (``/clubs/{club}/rooms/{room}``, or ``/rooms/{room}``
    for a room without a club, such as a DM) scrolled to ``seq``."""
    if room_id is None:
        return f"{base_url}/"
    path = f"/clubs/{club_id}/rooms/{room_id}" if club_id is not None else f"/rooms/{room_id}"
    return f"{base_url}{path}" + (f"?seq={seq}" if seq is not None else "")


def unsubscribe_token(ring: KeyRing, user_id: int) -> str:
    """A signed token naming the user and the purpose: turning off this user's email digest. It does not
    expire (an old mail's link still works) but dies with its signing key."""
    claims = {"sub": str(user_id), "typ": UNSUBSCRIBE_TYP, "iat": int(time.time())}
    return jwt.encode(
        claims, ring.keys[ring.active_kid], algorithm=ALGORITHM, headers={"kid": ring.active_kid}
    )


def unsubscribe_url(base_url: str, ring: KeyRing, user_id: int) -> str:
    return f"{base_url}{UNSUBSCRIBE_PATH}?token={quote(unsubscribe_token(ring, user_id))}"


def user_of_unsubscribe_token(ring: KeyRing, token: str) -> int:
    """The user an unsubscribe token names; ``invalid`` when it is malformed, altered or of another kind."""
    refused = DomainError("invalid", "this unsubscribe link is invalid or was altered")
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        raise refused from None
    key = ring.keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise refused
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], options={"require": ["sub", "typ"]})
    except jwt.PyJWTError:
        raise refused from None
    sub = claims.get("sub")
    if (
        claims.get("typ") != UNSUBSCRIBE_TYP
        or not isinstance(sub, str)
        or not (sub.isascii() and sub.isdigit())
    ):
        raise refused
    return int(sub)


async def unsubscribe(ring: KeyRing, token: str) -> int:
    """Turn off the email digest of the user the token names (idempotent); that user's id."""
    user_id = user_of_unsubscribe_token(ring, token)
    await User.filter(id=user_id).update(email_digest=False)
    log.info("email digest turned off by its link", extra={"user_id": user_id})
    return user_id


# -- the mail --------------------------------------------------------------------------------------------


def _clean(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters: control characters (line breaks included) become spaces."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _what(row: dict[str, Any], rooms: dict[int, dict[str, Any]]) -> str:
    who = _clean(row["actor_name"] or "Someone", 50)
    room = rooms.get(row["room_id"]) if row["room_id"] is not None else None
    where = ""
    if room is not None and room["club_id"] is not None:
        where = f" in #{_clean(room['name'], 60)} ({_clean(room['club_name'] or '', 60)})"
    if row["kind"] == "dm":
        return f"{who} sent you a direct message"
    if row["kind"] == "reply":
        return f"{who} replied to you{where}"
    return f"{who} mentioned you{where}"


def compose(
    settings: Settings,
    user: dict[str, Any],
    rows: list[dict[str, Any]],
    rooms: dict[int, dict[str, Any]],
    unsubscribe_link: str,
) -> Mail:
    """One user's digest: the newest ``LIST_MAX`` notifications, each with who, where, an excerpt and a link."""
    rows = sorted(rows, key=lambda r: r["created_at"], reverse=True)
    base = settings.base_url
    if len(rows) == 1:
        subject = _clean(_what(rows[0], rooms), 150)
    else:
        subject = f"{len(rows)} unread notifications on ClubHoloHub"
    lines = [f"Hello {_clean(user['display_name'], 50)},", ""]
    lines.append(
        "you have an unread notification on ClubHoloHub:"
        if len(rows) == 1
        else f"you have {len(rows)} unread notifications on ClubHoloHub:"
    )
    lines.append("")
    for row in rows[:LIST_MAX]:
        room = rooms.get(row["room_id"]) if row["room_id"] is not None else None
        when = row["created_at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        lines.append(f"- {_what(row, rooms)}, {when}:")
        if row["text"]:
            lines.append(f'  "{_clean(row["text"], EXCERPT_MAX)}"')
        link = message_link(base, row["room_id"], row["seq"], room["club_id"] if room else None)
        lines += [f"  {link}", ""]
    if len(rows) > LIST_MAX:
        lines += [f"…and {len(rows) - LIST_MAX} more in your notifications: {base}/", ""]
    lines += [
        "You get this mail because email digests are on for your account.",
        f"Turn them off with one click: {unsubscribe_link}",
        "(or in the app's settings).",
        "",
    ]
    return Mail(
        to=user["email"],
        subject=subject,
        body="\n".join(lines),
        headers={
            "List-Unsubscribe": f"<{unsubscribe_link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


# -- the worker ------------------------------------------------------------------------------------------


@dataclass
class DigestRound:
    """What one ``run_once`` did."""

    mails: int = 0
    notifications: int = 0
    failed: int = 0
    users: list[int] = field(default_factory=list)


class DigestWorker:
    """Runs a digest pass every ``settings.digest_every_s`` on every gateway (claims keep them apart)."""

    def __init__(self, settings: Settings, mailer: Mailer, ring: KeyRing) -> None:
        self.settings = settings
        self.mailer = mailer
        self.ring = ring
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # stopping; its errors were logged already
                pass

    async def _run(self) -> None:
        every = self.settings.digest_every_s
        failures = 0
        # Gateways started together spread their passes over the period.
        await asyncio.sleep(random.uniform(0, every))  # nosec B311: jitter, not security
        while True:
            try:
                done = await self.run_once()
                failures = failures + 1 if done.failed else 0
            except Exception:
                failures += 1
                log.exception("email digest pass failed", extra={"failures": failures})
            delay = every if not failures else min(every * 2**failures, max(every, MAX_BACKOFF_S))
            await asyncio.sleep(delay * random.uniform(0.9, 1.1))  # nosec B311: jitter

    async def run_once(self, now: datetime | None = None) -> DigestRound:
        """One pass: page through the users with a digest due, claim and mail each one's. Stops at the first
        failed send (the mail server is likely down: the worker backs off) with that claim put back."""
        now = now or datetime.now(UTC)
        period = timedelta(seconds=self.settings.digest_after_s)
        due_before, period_start, oldest = now - period, now - period, now - MAX_AGE
        done = DigestRound()
        conn = connections.get("default")
        cursor = 0
        while len(done.users) < MAX_USERS_PER_TICK:
            found = await conn.execute_query_dict(
                DUE_USERS_SQL,
                [list(DIGEST_KINDS), due_before, oldest, period_start, cursor, BATCH_USERS],
            )
            if not found:
                break
            user_ids = [int(r["user_id"]) for r in found]
            cursor = user_ids[-1]
            claimed = await self._claim(user_ids, now, due_before, oldest, period_start)
            if claimed and not await self._mail(claimed, now, done):
                break
            if len(found) < BATCH_USERS:
                break
        if done.mails or done.failed:
            log.info(
                "email digest pass",
                extra={"mails": done.mails, "notifications": done.notifications, "failed": done.failed},
            )
        return done

    async def _claim(
        self,
        user_ids: list[int],
        now: datetime,
        due_before: datetime,
        oldest: datetime,
        period_start: datetime,
    ) -> list[dict[str, Any]]:
        async with in_transaction() as tx:
            locked = [int(r["id"]) for r in await tx.execute_query_dict(LOCK_USERS_SQL, [user_ids])]
            if not locked:
                return []
            return await tx.execute_query_dict(
                CLAIM_SQL, [now, locked, list(DIGEST_KINDS), due_before, oldest, period_start]
            )

    async def _mail(self, claimed: list[dict[str, Any]], now: datetime, done: DigestRound) -> bool:
        """Mail each user's claimed notifications; False after a failed send. Whatever was claimed and not
        mailed (a failed send, a failed lookup) is put back, so the next period tries again."""
        per_user: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in claimed:
            per_user[int(row["user_id"])].append(row)
        conn = connections.get("default")
        mailed: set[int] = set()
        try:
            room_ids = sorted({int(r["room_id"]) for r in claimed if r["room_id"] is not None})
            rooms = (
                {int(r["id"]): r for r in await conn.execute_query_dict(ROOMS_SQL, [room_ids])}
                if room_ids
                else {}
            )
            users = {
                u["id"]: u
                for u in await User.filter(id__in=list(per_user)).values("id", "email", "display_name")
            }
            for user_id in sorted(per_user):
                rows = per_user[user_id]
                user = users.get(user_id)
                if user is None:  # deleted since: its notifications went with it
                    mailed.add(user_id)
                    continue
                link = unsubscribe_url(self.settings.base_url, self.ring, user_id)
                try:
                    await self.mailer.send(compose(self.settings, user, rows, rooms, link))
                except Exception:
                    log.exception("email digest: send failed", extra={"user_id": user_id})
                    done.failed += 1
                    return False
                mailed.add(user_id)
                done.mails += 1
                done.notifications += len(rows)
                done.users.append(user_id)
            return True
        finally:
            back = [int(r["id"]) for uid, rows in per_user.items() if uid not in mailed for r in rows]
            if back:
                try:
                    await conn.execute_query(UNCLAIM_SQL, [back, now])
                except Exception:
                    log.exception("email digest: claim not put back", extra={"notifications": len(back)})
