"""Message search: full-text over every room the caller may read right now (``storage.search``).

The store applies the read rule inside its query (a leave, a ban or a private club hides rows at once);
this action adds the contract's answers for the optional filters: a ``room_id`` or ``club_id`` the caller
cannot see is ``not_found`` (as for every other route: an outsider cannot confirm that it exists), a room
of a visible club the caller is not a member of is ``forbidden`` (as its history is); a visible club the
caller is not a member of answers an empty page (its rooms are not readable). A bad query, limit or cursor
is ``invalid``; a query past its time bound is ``unavailable``.
"""

from __future__ import annotations

from actors.domain.errors import DomainError
from storage.models import Media, MediaStatus
from storage.search import SearchInvalid, SearchStore, SearchUnavailable

from .chat import Chat
from .lookup import visible_club
from .media import attachment_of

UNAVAILABLE = "search is unavailable right now; retry"


class Search:
    def __init__(self, chat: Chat, store: SearchStore) -> None:
        self.chat = chat
        self.store = store

    async def messages(
        self,
        user_id: int,
        q: str,
        club_id: int | None = None,
        room_id: int | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> dict:
        if room_id is not None:
            await self.chat.room_access(user_id, room_id)  # not_found / forbidden, as the room's history
        if club_id is not None:
            await visible_club(club_id, user_id)  # not_found for a club the caller cannot see
        try:
            page = await self.store.query(user_id, q, club_id, room_id, limit, cursor)
        except SearchInvalid as exc:
            raise DomainError("invalid", str(exc)) from None
        except SearchUnavailable:
            raise DomainError("unavailable", UNAVAILABLE) from None
        await with_attachments(page["items"])
        return page


async def with_attachments(items: list[dict]) -> None:
    """Each result with its message's attachments, from the media rows that record which message holds
    them (a deleted message is no result: the indexer drops it)."""
    rooms = {int(it["room_id"]) for it in items}
    seqs = {int(it["seq"]) for it in items}
    if not rooms:
        return
    rows = await Media.filter(room_id__in=rooms, seq__in=seqs, status=MediaStatus.ready).order_by(
        "created_at"
    )
    held: dict[tuple[int, int], list[dict]] = {}
    for row in rows:
        if row.room_id is not None and row.seq is not None:
            held.setdefault((row.room_id, row.seq), []).append(attachment_of(row))
    for it in items:
        found = held.get((int(it["room_id"]), int(it["seq"])))
        if found:
            it["attachments"] = found
