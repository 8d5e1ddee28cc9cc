"""Feed candidates for a user: what they could see next, never what they may not.

From the user's clubs: upcoming events and rooms; from public clubs: upcoming events and clubs not yet
joined. Excluded: past and ended events, clubs the user is banned from, private clubs the user is not in.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from storage.models import Club, ClubBan, Event, EventStatus, Membership, Room, Visibility

MAX_EVENTS = 400
MAX_ROOMS = 100
MAX_CLUBS = 100


@dataclass
class Candidate:
    type: str            # event | club | room
    id: int
    club_id: int
    club_name: str
    title: str
    member: bool         # the user belongs to the item's club
    starts_at: datetime | None = None
    created_at: datetime | None = None
    extra: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.type}:{self.id}"


@dataclass
class CandidateSet:
    candidates: list[Candidate]
    my_clubs: list[int]
    club_names: dict[int, str]   # names of the user's clubs (reasons name them)


async def candidates_for(user_id: int, now: datetime | None = None) -> CandidateSet:
    now = now or datetime.now(timezone.utc)
    mine = await Membership.filter(user_id=user_id).values_list("club_id", "club__name")
    my_clubs = {c for c, _ in mine}
    banned = set(await ClubBan.filter(user_id=user_id).values_list("club_id", flat=True))
    visible_clubs = Club.filter(id__not_in=list(banned) or [0])
    out: list[Candidate] = []

    events = await Event.filter(ends_at__gt=now, status__not=EventStatus.ended,
                                club_id__not_in=list(banned) or [0]).order_by("starts_at").limit(MAX_EVENTS) \
        .prefetch_related("club")
    for e in events:
        if e.club.visibility == Visibility.private and e.club_id not in my_clubs:
            continue
        out.append(Candidate("event", e.id, e.club_id, e.club.name, e.title, e.club_id in my_clubs,
                             starts_at=e.starts_at, created_at=e.created_at,
                             extra={"starts_at": e.starts_at.isoformat(), "status": e.status.value}))
    if my_clubs:
        rooms = await Room.filter(club_id__in=list(my_clubs - banned)).limit(MAX_ROOMS).prefetch_related("club")
        for r in rooms:
            if r.name.startswith("live-"):
                continue  # live rooms are reached through their event
            out.append(Candidate("room", r.id, r.club_id, r.club.name, r.name, True, created_at=r.created_at))
    clubs = await visible_clubs.filter(visibility=Visibility.public, id__not_in=list(my_clubs) or [0]) \
        .order_by("-id").limit(MAX_CLUBS)
    for c in clubs:
        out.append(Candidate("club", c.id, c.id, c.name, c.name, False, created_at=c.created_at,
                             extra={"description": c.description[:200]}))
    return CandidateSet(out, sorted(my_clubs - banned), {c: name for c, name in mine})
