"""Who can see a club, and so its rooms, events and reels: the one place this rule lives.

A public club is visible to everyone; a private one only to its members (a ban removes the membership, so
a banned user is an outsider). Lists of things from many clubs (events, the feed) also leave out the
public clubs the caller is banned from: a ban hides a club's events from lists, while the club itself,
being public, can still be opened. A reel is visible to whoever may see its club, until it is deleted.

One rule, offered the three ways callers query:
- a Python predicate: ``can_see`` (and ``Viewer.can_see`` / ``Viewer.can_list`` for a loaded caller);
- lookups that return what they found, or None when the caller cannot see it: ``visible_club``,
  ``visible_room``, ``visible_event``, ``visible_reel``, ``first_invisible_item``;
- an ORM filter (``Viewer.listable``, ``Viewer.joinable_clubs``, ``listable_clubs``), applied in the query
  so hidden rows never use up a ``LIMIT``;
- SQL fragments for raw queries: ``visible_club_sql``, ``listable_club_sql`` (the feed's candidate query,
  ``ranking.candidates.FEED_SQL``, spells the same rule for events and reels with the caller's memberships
  and bans read once).

Storage is below the refusal type: nothing here raises for an invisible thing. Callers turn a None into
``not_found`` (the same answer as for an id that does not exist, so an outsider cannot even confirm that a
private club exists).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from enum import Enum

from tortoise.expressions import Q

from .models import Club, ClubBan, DmMember, Event, Membership, Reel, Room, RoomKind, Visibility

_MAX_ID = 2**63 - 1  # BIGINT: a larger id cannot exist (and must not reach the database driver)


def _value(enum_or_str: Enum | str) -> str:
    return str(enum_or_str.value) if isinstance(enum_or_str, Enum) else str(enum_or_str)


def can_see(visibility: Visibility | str, role: str | None) -> bool:
    """The rule itself: public, or a member (``role`` None: not a member)."""
    return _value(visibility) == Visibility.public.value or role is not None


def _valid_id(id_: int) -> bool:
    return 0 < id_ <= _MAX_ID


# -- one thing --------------------------------------------------------------------------------------


async def role_of(club_id: int, user_id: int) -> str | None:
    m = await Membership.get_or_none(club_id=club_id, user_id=user_id)
    return _value(m.role) if m else None


async def find_club(club_id: int) -> Club | None:
    """The club whatever its visibility; only for a caller that brings its own right to it (an invite)."""
    return await Club.get_or_none(id=club_id) if _valid_id(club_id) else None


async def visible_club(club_id: int, user_id: int) -> tuple[Club, str | None] | None:
    """The club and the caller's role in it (None: not a member), or None when the caller cannot see it."""
    club = await find_club(club_id)
    if club is None:
        return None
    role = await role_of(club_id, user_id)
    return (club, role) if can_see(club.visibility, role) else None


async def visible_room(room_id: int, user_id: int) -> tuple[Room, Club | None, str | None] | None:
    """The room, its club and the caller's role, or None when the room is missing or its club hidden.
    A direct-message room has no club and is visible to its own people only (as ``member``)."""
    room = await Room.get_or_none(id=room_id) if _valid_id(room_id) else None
    if room is None:
        return None
    if is_dm(room):
        return (room, None, "member") if await is_dm_member(room_id, user_id) else None
    found = await visible_club(room.club_id, user_id) if room.club_id is not None else None
    return (room, *found) if found is not None else None


async def can_read_room(room_id: int, user_id: int) -> bool:
    """The user may read the room's messages now: a member of its club, or one of a DM's people (the
    room shards' rule, as ``readable_room_sql`` says it in SQL)."""
    room = await Room.get_or_none(id=room_id) if _valid_id(room_id) else None
    if room is None:
        return False
    if is_dm(room):
        return await is_dm_member(room_id, user_id)
    return room.club_id is not None and await role_of(room.club_id, user_id) is not None


def is_dm(room: Room) -> bool:
    return _value(room.kind) == RoomKind.dm.value


async def is_dm_member(room_id: int, user_id: int) -> bool:
    return await DmMember.exists(room_id=room_id, user_id=user_id)


async def dm_members(room_id: int) -> list[int]:
    return [int(u) for u in await DmMember.filter(room_id=room_id).values_list("user_id", flat=True)]  # type: ignore[call-overload]


async def visible_event(event_id: int, user_id: int) -> tuple[Event, Club, str | None] | None:
    """The event, its club and the caller's role, or None when the event is missing or its club hidden."""
    event = await Event.get_or_none(id=event_id) if _valid_id(event_id) else None
    found = await visible_club(event.club_id, user_id) if event is not None else None
    return (event, *found) if event is not None and found is not None else None


async def visible_reel(reel_id: int, user_id: int) -> tuple[Reel, Club, str | None] | None:
    """The reel, its club and the caller's role, or None when the reel is missing, deleted or its club
    hidden."""
    reel = await Reel.get_or_none(id=reel_id, deleted_at=None) if _valid_id(reel_id) else None
    found = await visible_club(reel.club_id, user_id) if reel is not None else None
    return (reel, *found) if reel is not None and found is not None else None


async def first_invisible_item(user_id: int, items: list[tuple[str, int]]) -> tuple[str, int] | None:
    """The first ``(item_type, item_id)`` (club, event, room or reel) the caller cannot see, or None.

    A batch costs at most five queries whatever its size: events', rooms' and reels' clubs, the clubs'
    visibility, the caller's memberships among them. A missing item (or a deleted reel) is invisible.
    """
    event_ids = {i for t, i in items if t == "event" and _valid_id(i)}
    room_ids = {i for t, i in items if t == "room" and _valid_id(i)}
    reel_ids = {i for t, i in items if t == "reel" and _valid_id(i)}
    club_of: dict[tuple[str, int], int] = {("club", i): i for t, i in items if t == "club" and _valid_id(i)}
    if event_ids:
        for eid, cid in await Event.filter(id__in=event_ids).values_list("id", "club_id"):
            club_of[("event", eid)] = cid
    if room_ids:
        for rid, cid in await Room.filter(id__in=room_ids).values_list("id", "club_id"):
            club_of[("room", rid)] = cid
    if reel_ids:
        for rid, cid in await Reel.filter(id__in=reel_ids, deleted_at=None).values_list("id", "club_id"):
            club_of[("reel", rid)] = cid
    club_ids = set(club_of.values())
    visibility: dict[int, str] = {}
    member_of: set[int] = set()
    if club_ids:
        visibility = dict(await Club.filter(id__in=club_ids).values_list("id", "visibility"))
        mine = await Membership.filter(user_id=user_id, club_id__in=club_ids).values_list("club_id")
        member_of = {cid for (cid,) in mine}
    for item in items:
        cid = club_of.get(item)
        if (
            cid is None
            or cid not in visibility
            or not can_see(visibility[cid], "member" if cid in member_of else None)
        ):
            return item
    return None


# -- lists ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """A caller's standing in every club at once: what list filters need, loaded in one round trip."""

    user_id: int
    member_names: dict[int, str] = field(default_factory=dict)  # club id -> name, as the memberships say
    banned_from: frozenset[int] = frozenset()

    @classmethod
    async def load(cls, user_id: int) -> Viewer:
        mine, banned = await asyncio.gather(
            Membership.filter(user_id=user_id).values_list("club_id", "club__name"),
            ClubBan.filter(user_id=user_id).values_list("club_id"),
        )
        return cls(user_id, {club_id: name for club_id, name in mine}, frozenset(cid for (cid,) in banned))

    @property
    def member_of(self) -> frozenset[int]:
        """The clubs the caller belongs to (a ban wins over a membership, should both exist)."""
        return frozenset(self.member_names) - self.banned_from

    def can_see(self, club_id: int, visibility: Visibility | str) -> bool:
        return can_see(visibility, "member" if club_id in self.member_of else None)

    def can_list(self, club_id: int, visibility: Visibility | str) -> bool:
        return self.can_see(club_id, visibility) and club_id not in self.banned_from

    def listable(self) -> Q:
        """A filter for rows with a ``club`` (events, rooms): clubs the caller can see, minus those the
        caller is banned from."""
        visible = Q(club__visibility=Visibility.public) | Q(club_id__in=sorted(self.member_of) or [0])
        return visible & Q(club_id__not_in=sorted(self.banned_from) or [0])

    def joinable_clubs(self) -> Q:
        """A filter on clubs: public ones the caller neither belongs to nor is banned from."""
        return Q(visibility=Visibility.public, id__not_in=sorted(self.member_of | self.banned_from) or [0])


async def listable_clubs(user_id: int) -> Q:
    """``Viewer.listable`` for a caller not loaded yet."""
    return (await Viewer.load(user_id)).listable()


# -- raw SQL ----------------------------------------------------------------------------------------


_ALIAS = re.compile(r"[a-z_][a-z0-9_]{0,30}")
_PARAM = re.compile(r"\$[1-9][0-9]?")


def _checked(club: str, user_param: str) -> None:
    # The fragments are formatted from a table alias and a placeholder written in our own code, never from
    # input; refusing anything else keeps it that way.
    if not _ALIAS.fullmatch(club) or not _PARAM.fullmatch(user_param):
        raise ValueError(f"not a table alias and a query parameter: {club!r}, {user_param!r}")


def visible_club_sql(club: str, user_param: str) -> str:
    """A boolean SQL expression: the club (table alias ``club``) is visible to the user whose id is the
    query parameter ``user_param`` (e.g. ``$2``)."""
    _checked(club, user_param)
    return (
        f"({club}.visibility = '{Visibility.public.value}'"  # nosec B608: alias and placeholder checked above
        f" OR EXISTS (SELECT 1 FROM memberships m WHERE m.club_id = {club}.id AND m.user_id = {user_param}))"
    )


def listable_club_sql(club: str, user_param: str) -> str:
    """``visible_club_sql``, minus the clubs the user is banned from (lists of many clubs' things)."""
    _checked(club, user_param)
    return (
        f"({visible_club_sql(club, user_param)}"  # nosec B608: alias and placeholder checked above
        f" AND NOT EXISTS (SELECT 1 FROM club_bans b WHERE b.club_id = {club}.id AND b.user_id = {user_param}))"
    )


def readable_room_sql(room_id: str, club_id: str, user_param: str) -> str:
    """A boolean SQL expression: the user (query parameter ``user_param``) may read the room whose id and
    club id are the columns ``room_id`` and ``club_id`` (e.g. ``s.room_id``, ``s.club_id``) right now: a
    member of its club (a ban or a leave removes the membership), or one of a DM room's people."""
    for column in (room_id, club_id):
        alias, _, name = column.partition(".")
        _checked(alias, user_param)
        _checked(name, user_param)
    return (
        f"({club_id} IN (SELECT m.club_id FROM memberships m WHERE m.user_id = {user_param})"  # nosec B608
        f" OR {room_id} IN (SELECT d.room_id FROM dm_members d WHERE d.user_id = {user_param}))"
    )


# -- who may read a club's rooms -----------------------------------------------------------------------


async def room_readers(club_id: int, user_ids: list[int] | None = None) -> set[int]:
    """The users (of ``user_ids``; None: all) who may read the club's rooms now: its members (the room
    shards' rule; a ban removes the membership, a private club changes nothing for its members)."""
    query = Membership.filter(club_id=club_id)
    if user_ids is not None:
        query = query.filter(user_id__in=[u for u in user_ids if _valid_id(u)])
    return {int(u) for u in await query.values_list("user_id", flat=True)}  # type: ignore[call-overload]


async def event_audience(club_id: int, user_ids: list[int]) -> set[int]:
    """The users (of ``user_ids``) who may still be told about the club's events: anyone for a public
    club but those it banned, members only for a private one (the listing rule: a ban hides a club's
    events)."""
    club = await Club.get_or_none(id=club_id)
    if club is None:
        return set()
    wanted = [u for u in user_ids if _valid_id(u)]
    if _value(club.visibility) != Visibility.public.value:
        return await room_readers(club_id, wanted)
    banned = await ClubBan.filter(club_id=club_id, user_id__in=wanted).values_list("user_id", flat=True)
    return set(wanted) - {int(u) for u in banned}  # type: ignore[call-overload]
