"""Who can see a club, and so its rooms and events: the one place this rule lives.

A public club is visible to everyone; a private one only to its members (a ban removes the membership, so
a banned user is an outsider). To someone who cannot see a club, every route about it, its rooms or its
events answers ``not_found`` exactly as for an id that does not exist (same code, same message), so an
outsider cannot even confirm that a private club exists. Members who lack a role still get ``forbidden``
from ``permissions.require``: they know the club.

Every function raises ``DomainError("not_found")`` or returns what it looked up, so callers need no second
query for the club or the caller's role.
"""

from __future__ import annotations

from tortoise.expressions import Q

from actors.domain.errors import DomainError
from storage.models import Club, ClubBan, Event, Membership, Room, Visibility

_MAX_ID = 2**63 - 1  # BIGINT: a larger id cannot exist (and must not reach the database driver)


def can_see(visibility, role: str | None) -> bool:
    """The rule itself: public, or a member."""
    return _value(visibility) == Visibility.public.value or role is not None


async def role_of(club_id: int, user_id: int) -> str | None:
    m = await Membership.get_or_none(club_id=club_id, user_id=user_id)
    return _value(m.role) if m else None


async def find_club(club_id: int) -> Club | None:
    """The club whatever its visibility; only for a caller that brings its own right to it (an invite)."""
    return await Club.get_or_none(id=club_id) if 0 < club_id <= _MAX_ID else None


async def visible_club(club_id: int, user_id: int) -> tuple[Club, str | None]:
    """The club and the caller's role in it (None: not a member), or ``not_found``."""
    club = await find_club(club_id)
    role = await role_of(club_id, user_id) if club is not None else None
    if club is None or not can_see(club.visibility, role):
        raise DomainError("not_found", f"no such club: {club_id}")
    return club, role


async def visible_room(room_id: int, user_id: int) -> tuple[Room, Club, str | None]:
    room = await Room.get_or_none(id=room_id) if 0 < room_id <= _MAX_ID else None
    if room is None:
        raise DomainError("not_found", f"no such room: {room_id}")
    try:
        club, role = await visible_club(room.club_id, user_id)
    except DomainError:
        raise DomainError("not_found", f"no such room: {room_id}") from None
    return room, club, role


async def visible_event(event_id: int, user_id: int) -> tuple[Event, Club, str | None]:
    event = await Event.get_or_none(id=event_id) if 0 < event_id <= _MAX_ID else None
    if event is None:
        raise DomainError("not_found", f"no such event: {event_id}")
    try:
        club, role = await visible_club(event.club_id, user_id)
    except DomainError:
        raise DomainError("not_found", f"no such event: {event_id}") from None
    return event, club, role


async def listable_clubs(user_id: int) -> Q:
    """A filter on ``club_id`` for lists (events of every club): clubs the caller can see, minus public
    ones the caller is banned from (a ban hides the club's events from the lists and the feed)."""
    member_of = await Membership.filter(user_id=user_id).values_list("club_id", flat=True)
    banned = await ClubBan.filter(user_id=user_id).values_list("club_id", flat=True)
    visible = Q(club__visibility=Visibility.public) | Q(club_id__in=list(member_of) or [0])
    return visible & ~Q(club_id__in=list(banned) or [0])


async def first_invisible_item(user_id: int, items: list[tuple[str, int]]) -> tuple[str, int] | None:
    """The first ``(item_type, item_id)`` (club, event or room) the caller cannot see, or None.

    A batch costs at most four queries whatever its size: events' and rooms' clubs, the clubs' visibility,
    the caller's memberships among them. A missing item is invisible.
    """
    event_ids = {i for t, i in items if t == "event" and 0 < i <= _MAX_ID}
    room_ids = {i for t, i in items if t == "room" and 0 < i <= _MAX_ID}
    club_of: dict[tuple[str, int], int] = {
        ("club", i): i for t, i in items if t == "club" and 0 < i <= _MAX_ID
    }
    if event_ids:
        for eid, cid in await Event.filter(id__in=event_ids).values_list("id", "club_id"):
            club_of[("event", eid)] = cid
    if room_ids:
        for rid, cid in await Room.filter(id__in=room_ids).values_list("id", "club_id"):
            club_of[("room", rid)] = cid
    club_ids = set(club_of.values())
    visibility = dict(await Club.filter(id__in=club_ids).values_list("id", "visibility")) if club_ids else {}
    member_of = (
        set(await Membership.filter(user_id=user_id, club_id__in=club_ids).values_list("club_id", flat=True))
        if club_ids
        else set()
    )
    for item in items:
        cid = club_of.get(item)
        if cid not in visibility or not can_see(visibility[cid], "member" if cid in member_of else None):
            return item
    return None


def _value(enum_or_str) -> str:
    return enum_or_str.value if hasattr(enum_or_str, "value") else str(enum_or_str)
