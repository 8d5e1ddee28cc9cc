"""The visibility rule's lookups as actions refuse: what the caller cannot see is ``not_found``, with the same
code and message as an id that does not exist (``storage.visibility`` holds the rule and answers None)."""

from __future__ import annotations

from actors.domain.errors import DomainError
from storage import visibility
from storage.models import Club, Event, Reel, Room


async def visible_club(club_id: int, user_id: int) -> tuple[Club, str | None]:
    """The club and the caller's role in it (None: not a member), or ``not_found``."""
    found = await visibility.visible_club(club_id, user_id)
    if found is None:
        raise DomainError("not_found", f"no such club: {club_id}")
    return found


async def visible_room(room_id: int, user_id: int) -> tuple[Room, Club | None, str | None]:
    """The room, its club (None: a DM) and the caller's role, or ``not_found``."""
    found = await visibility.visible_room(room_id, user_id)
    if found is None:
        raise DomainError("not_found", f"no such room: {room_id}")
    return found


async def visible_event(event_id: int, user_id: int) -> tuple[Event, Club, str | None]:
    found = await visibility.visible_event(event_id, user_id)
    if found is None:
        raise DomainError("not_found", f"no such event: {event_id}")
    return found


async def visible_reel(reel_id: int, user_id: int) -> tuple[Reel, Club, str | None]:
    """The reel, its club and the caller's role, or ``not_found`` (a deleted reel too)."""
    found = await visibility.visible_reel(reel_id, user_id)
    if found is None:
        raise DomainError("not_found", f"no such reel: {reel_id}")
    return found
