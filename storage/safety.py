"""Blocks, reports and auto-moderation settings in PostgreSQL: the queries behind ``gateway.actions.safety``.

Nothing here decides who may do what (``actors.domain.roles`` and ``storage.visibility`` do); these are the
reads and writes, each bounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from .models import ClubAutomod, Membership, Report, ReportStatus, Role, UserBlock

BLOCKS_MAX = 1000  # people one user may block
REPORTS_PAGE_MAX = 100


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


# -- blocks ---------------------------------------------------------------------------------------------


async def blocked_by(user_id: int) -> frozenset[int]:
    """The people ``user_id`` blocked (at most ``BLOCKS_MAX``)."""
    rows = await UserBlock.filter(user_id=user_id).limit(BLOCKS_MAX).values_list("blocked_id", flat=True)
    return frozenset(int(b) for b in rows)  # type: ignore[call-overload]  # flat rows are ids


async def blocks(user_id: int) -> list[dict]:
    """``user_id``'s blocks with the blocked people's names, newest first."""
    rows = (
        await UserBlock.filter(user_id=user_id)
        .order_by("-id")
        .limit(BLOCKS_MAX)
        .values("blocked_id", "blocked__display_name", "created_at")
    )
    return [
        {
            "user_id": r["blocked_id"],
            "display_name": r["blocked__display_name"],
            "created_at": _iso(r["created_at"]),
        }
        for r in rows
    ]


async def count_blocks(user_id: int) -> int:
    return await UserBlock.filter(user_id=user_id).count()


async def add_block(user_id: int, blocked_id: int) -> bool:
    """True when the block is new (blocking twice changes nothing)."""
    try:
        await UserBlock.create(user_id=user_id, blocked_id=blocked_id)
    except IntegrityError:
        return False
    return True


async def remove_block(user_id: int, blocked_id: int) -> bool:
    return bool(await UserBlock.filter(user_id=user_id, blocked_id=blocked_id).delete())


# -- reports --------------------------------------------------------------------------------------------


async def create_report(
    club_id: int, room_id: int, seq: int, reporter_id: int, reason: str, snapshot: dict
) -> tuple[Report, bool]:
    """The report of this message by this person: made now (True) or the one made before (False)."""
    found = await Report.get_or_none(reporter_id=reporter_id, room_id=room_id, seq=seq)
    if found is not None:
        return found, False
    try:
        report = await Report.create(
            club_id=club_id,
            room_id=room_id,
            seq=seq,
            reporter_id=reporter_id,
            reason=reason,
            snapshot=snapshot,
        )
    except IntegrityError:  # the same report at the same moment: the first one counts
        return await Report.get(reporter_id=reporter_id, room_id=room_id, seq=seq), False
    return report, True


async def moderators(club_id: int) -> list[int]:
    """The club's moderators and owner."""
    rows = await Membership.filter(club_id=club_id, role__in=[Role.moderator, Role.owner]).values_list(
        "user_id", flat=True
    )
    return [int(u) for u in rows]  # type: ignore[call-overload]


async def reports(
    club_id: int, status: str | None, cursor: int | None, limit: int
) -> tuple[list[dict], int | None]:
    """A club's reports (of ``status``; None: any), newest first, after ``cursor`` (the last id of the
    previous page); the items and the next cursor (None: no more)."""
    limit = max(1, min(limit, REPORTS_PAGE_MAX))
    query = Report.filter(club_id=club_id)
    if status is not None:
        query = query.filter(status=ReportStatus(status))
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    rows = await query.order_by("-id").limit(limit + 1).prefetch_related("reporter")
    items = [report_out(r) for r in rows[:limit]]
    return items, (rows[limit - 1].id if len(rows) > limit else None)


def report_out(report: Report) -> dict[str, Any]:
    """A report as the API shows it (``reporter`` must be fetched)."""
    out: dict[str, Any] = {
        "id": report.id,
        "club_id": report.club_id,
        "room_id": report.room_id,
        "seq": report.seq,
        "reason": report.reason,
        "status": ReportStatus(report.status).value,
        "snapshot": report.snapshot,
        "reporter": {"id": report.reporter_id, "display_name": report.reporter.display_name},
        "created_at": _iso(report.created_at),
    }
    if report.action is not None:
        out["action"] = report.action
    if report.resolved_by_id is not None:
        out["resolved_by"] = report.resolved_by_id
    if report.resolved_at is not None:
        out["resolved_at"] = _iso(report.resolved_at)
    return out


async def claim_report(report_id: int, status: str, action: str, actor_id: int) -> bool:
    """Close an open report; False when it was not open (someone else resolved it first)."""
    updated = await Report.filter(id=report_id, status=ReportStatus.open).update(
        status=ReportStatus(status), action=action, resolved_by_id=actor_id, resolved_at=datetime.now(UTC)
    )
    return bool(updated)


async def reopen_report(report_id: int) -> None:
    """Undo ``claim_report`` when the action it was claimed for was refused."""
    await Report.filter(id=report_id).update(
        status=ReportStatus.open, action=None, resolved_by_id=None, resolved_at=None
    )


# -- auto-moderation ------------------------------------------------------------------------------------


def automod_out(row: ClubAutomod | None) -> dict[str, Any]:
    if row is None:
        return {"blocked_terms": [], "link_min_member_age_s": None, "max_mentions": None}
    return {
        "blocked_terms": list(row.blocked_terms or []),
        "link_min_member_age_s": row.link_min_member_age_s,
        "max_mentions": row.max_mentions,
    }


async def automod(club_id: int) -> dict[str, Any]:
    return automod_out(await ClubAutomod.get_or_none(club_id=club_id))


async def set_automod(
    club_id: int, blocked_terms: Sequence[str], link_min_member_age_s: int | None, max_mentions: int | None
) -> dict[str, Any]:
    row, _ = await ClubAutomod.update_or_create(
        club_id=club_id,
        defaults={
            "blocked_terms": list(blocked_terms),
            "link_min_member_age_s": link_min_member_age_s,
            "max_mentions": max_mentions,
        },
    )
    return automod_out(row)
