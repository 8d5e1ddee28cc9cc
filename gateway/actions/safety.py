"""Safety actions: blocks, reports and their resolution, auto-moderation settings. Transport-free; each
answers the success body or raises ``DomainError``.

- A block hides nothing from the room (the blocked person's messages still arrive, seqs stay gapless, marked
  ``author_blocked: true``: ``gateway.actions.blocking``); it stops DMs from them (the DM rules, told through
  ``ActorClient.dm_changed``) and every notification caused by them (the notifier asks
  ``storage.notifications.blocking``). The user's own sockets learn the new set as ``blocks:changed``.
- A report is read through the chat history action *as the reporter*, so exactly the people who may read the
  message may report it; it keeps a snapshot of the message as it was then. A DM has no moderators: a report
  there is refused (block the person instead).
- A resolution applies the action through the same actions a moderator uses by hand (``Chat.delete``,
  ``Clubs.timeout``, ``Clubs.ban``), so the audit log shows it like a manual action, plus a
  ``resolve_report`` entry.
- Auto-moderation settings are stored here; the room rules enforce them (``ActorClient.automod_changed``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from actors.client import ActorClient
from actors.domain.errors import DomainError
from actors.domain.roles import require
from actors.fanout import user_target
from storage import notifications, safety, visibility
from storage.models import Report, ReportStatus, User
from storage.notifications import NewNotification

from .blocking import BLOCKS_EVENT
from .chat import Chat
from .clubs import Clubs
from .lookup import visible_club, visible_room

Emit = Callable[..., Awaitable[Any]]

DM_REPORT_REFUSED = "a direct message has no moderators: block the person instead"
TIMEOUT_MINUTES_MAX = 40320  # 28 days, Discord's longest timeout
RESOLUTIONS = ("dismiss", "delete", "timeout", "ban")


class Safety:
    """``emit``: the Socket.IO server's emit (through the Redis manager, so every gateway's sockets)."""

    def __init__(self, actors: ActorClient, chat: Chat, clubs: Clubs, emit: Emit) -> None:
        self.actors = actors
        self.chat = chat
        self.clubs = clubs
        self.emit = emit

    # -- blocks -------------------------------------------------------------------------------------
    async def blocks(self, user_id: int) -> dict:
        return {"blocks": await safety.blocks(user_id)}

    async def block(self, user_id: int, blocked_id: int) -> bool:
        """True when the block is new (blocking again changes nothing)."""
        if blocked_id == user_id:
            raise DomainError("invalid", "you cannot block yourself")
        if not await User.exists(id=blocked_id):
            raise DomainError("not_found", f"no such user: {blocked_id}")
        if await safety.count_blocks(user_id) >= safety.BLOCKS_MAX:
            if blocked_id in await safety.blocked_by(user_id):
                return False
            raise DomainError(
                "too_large", f"you can block at most {safety.BLOCKS_MAX} people: unblock someone first"
            )
        new = await safety.add_block(user_id, blocked_id)
        if new:
            await self._blocks_changed(user_id, blocked_id)
        return new

    async def unblock(self, user_id: int, blocked_id: int) -> None:
        if await safety.remove_block(user_id, blocked_id):
            await self._blocks_changed(user_id, blocked_id)

    async def _blocks_changed(self, user_id: int, other_id: int) -> None:
        await self.actors.dm_changed([user_id, other_id])
        blocked = sorted(await safety.blocked_by(user_id))
        # Every gateway's copy of the user's set changes with this event (``BlockSets.changed``), and the
        # user's other tabs update.
        await self.emit(BLOCKS_EVENT, {"blocks": blocked}, room=user_target(user_id))

    # -- reports ------------------------------------------------------------------------------------
    async def report(self, user_id: int, room_id: int, seq: int, reason: str) -> tuple[int, bool]:
        """The report's id, and True when it is new (a second report of the same message by the same
        person answers the first one)."""
        room, club, _role = await visible_room(room_id, user_id)
        if visibility.is_dm(room) or club is None:
            raise DomainError("invalid", DM_REPORT_REFUSED)
        # Read as the reporter: whoever may not read the room is refused here, as by message:history.
        page = await self.chat.history(user_id, room_id, None, seq - 1, 1)
        message = next((m for m in page["messages"] if m["seq"] == seq), None)
        if message is None or message.get("deleted"):
            raise DomainError("not_found", f"no such message: {seq} in room {room_id}")
        if message["author"]["id"] == user_id:
            raise DomainError("invalid", "you cannot report your own message")
        snapshot: dict[str, Any] = {
            "text": message["text"],
            "author": {"id": message["author"]["id"], "display_name": message["author"]["display_name"]},
            "ts": message["ts"],
        }
        if message.get("edited_at") is not None:
            snapshot["edited_at"] = message["edited_at"]
        report, new = await safety.create_report(club.id, room_id, seq, user_id, reason, snapshot)
        if new:
            await self._notify_moderators(report, club.name, user_id)
        return report.id, new

    async def _notify_moderators(self, report: Report, club_name: str, reporter_id: int) -> None:
        reporter = await User.get(id=reporter_id)
        rows = [
            NewNotification(
                user_id=uid,
                kind="report",
                cause=f"report:{report.id}",
                text=f"New report in {club_name}: {report.reason}",
                room_id=report.room_id,
                seq=report.seq,
                actor_id=reporter_id,
                actor_name=reporter.display_name,
            )
            for uid in await safety.moderators(report.club_id)
            if uid != reporter_id
        ]
        for item in await notifications.create(rows):
            uid = item.pop("user_id")
            await self.emit("notification", item, room=user_target(uid))

    async def reports(
        self, club_id: int, user_id: int, status: str | None, cursor: str | None, limit: int
    ) -> dict:
        _, role = await visible_club(club_id, user_id)
        require(role, "view_reports")
        items, next_id = await safety.reports(club_id, status, int(cursor) if cursor else None, limit)
        return {"items": items, "next_cursor": str(next_id) if next_id is not None else None}

    async def resolve(self, report_id: int, user_id: int, action: str, minutes: int | None) -> dict:
        """Applies ``action`` as the moderator would by hand. Only moderators of the report's club may: a
        member of that club is refused ``forbidden``; anyone else (another club's moderator included)
        learns nothing, ``not_found``. A report is resolved once: again is ``conflict``."""
        report = await Report.get_or_none(id=report_id).prefetch_related("reporter")
        found = await visibility.visible_club(report.club_id, user_id) if report is not None else None
        if report is None or found is None or found[1] is None:
            raise DomainError("not_found", f"no such report: {report_id}")
        require(found[1], "resolve_report")
        if action not in RESOLUTIONS:
            raise DomainError("invalid", f"action must be one of {', '.join(RESOLUTIONS)}")
        if action == "timeout" and (minutes is None or not 1 <= minutes <= TIMEOUT_MINUTES_MAX):
            raise DomainError("invalid", f"a timeout needs minutes, 1 to {TIMEOUT_MINUTES_MAX}")
        if report.status != ReportStatus.open:
            raise DomainError(
                "conflict", f"report {report_id} was already {ReportStatus(report.status).value}"
            )
        status = "dismissed" if action == "dismiss" else "resolved"
        if not await safety.claim_report(report_id, status, action, user_id):
            raise DomainError("conflict", f"report {report_id} was already resolved")
        author_id = int(report.snapshot["author"]["id"])
        why = f"report {report_id}: {report.reason}"[:500]
        try:
            if action == "delete":
                await self._delete(user_id, report)
            elif action == "timeout":
                assert minutes is not None
                await self.clubs.timeout(report.club_id, user_id, author_id, minutes, why)
            elif action == "ban":
                await self.clubs.ban(report.club_id, user_id, author_id, why)
        except DomainError:
            await safety.reopen_report(report_id)
            raise
        details: dict[str, Any] = {"report_id": report_id, "action": action, "room_id": report.room_id}
        details["seq"] = report.seq
        if action == "timeout":
            details["minutes"] = minutes
        await self.clubs.audit(report.club_id, user_id, "resolve_report", author_id, report.reason, details)
        await report.refresh_from_db()
        await report.fetch_related("reporter")
        return safety.report_out(report)

    async def _delete(self, user_id: int, report: Report) -> None:
        """The message deleted as the moderator (the room shard audits it as a moderation delete); one its
        author deleted meanwhile counts as done."""
        try:
            await self.chat.delete(user_id, report.room_id, report.seq)
        except DomainError as exc:
            if exc.code != "not_found":
                raise
            page = await self.chat.history(user_id, report.room_id, None, report.seq - 1, 1)
            if not any(m["seq"] == report.seq and m.get("deleted") for m in page["messages"]):
                raise

    # -- auto-moderation ----------------------------------------------------------------------------
    async def automod(self, club_id: int, user_id: int) -> dict:
        require((await visible_club(club_id, user_id))[1], "view_automod")
        return await safety.automod(club_id)

    async def set_automod(
        self,
        club_id: int,
        user_id: int,
        blocked_terms: list[str],
        link_min_member_age_s: int | None,
        max_mentions: int | None,
    ) -> dict:
        """``blocked_terms`` are already stripped, case-folded and de-duplicated (the schema does it)."""
        require((await visible_club(club_id, user_id))[1], "set_automod")
        out = await safety.set_automod(club_id, blocked_terms, link_min_member_age_s, max_mentions)
        details = {
            "blocked_terms": len(out["blocked_terms"]),
            "link_min_member_age_s": link_min_member_age_s,
            "max_mentions": max_mentions,
        }
        await self.clubs.audit(club_id, user_id, "set_automod", None, details=details)
        await self.actors.automod_changed(club_id)
        return out
