"""Feed candidates for a user: what they could see next, never what they may not.

From the user's clubs: upcoming events and rooms; from public clubs: upcoming events and clubs not yet
joined; and the trending items (top decayed popularity) those caps left out. Excluded: past and ended
events, clubs the user is banned from, private clubs the user is not in (the rule: ``storage.visibility``).
``ranking.dataset.Snapshot`` applies the same rules to the past for training, bans aside (it does not read
them).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from storage import keys
from storage.models import Club, Event, EventStatus, Room
from storage.visibility import Viewer

MAX_EVENTS = 400
MAX_ROOMS = 100
MAX_CLUBS = 100
MAX_TRENDING = 100


@dataclass
class Candidate:
    type: str  # event | club | room
    id: int
    club_id: int
    club_name: str
    title: str
    member: bool  # the user belongs to the item's club
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
    club_names: dict[int, str]  # names of the user's clubs (reasons name them)


async def candidates_for(user_id: int, now: datetime | None = None, redis=None) -> CandidateSet:
    """Rows are read as tuples (``values_list``), not models: a feed reads ~500 of them per request."""
    now = now or datetime.now(UTC)
    viewer = await Viewer.load(user_id)
    my_clubs = viewer.member_of
    out: list[Candidate] = []

    def event(row) -> Candidate:
        eid, club_id, club_name, title, starts_at, created_at, status = row
        return Candidate(
            "event",
            eid,
            club_id,
            club_name,
            title,
            club_id in my_clubs,
            starts_at=starts_at,
            created_at=created_at,
            extra={"starts_at": starts_at.isoformat(), "status": getattr(status, "value", status)},
        )

    def club(row) -> Candidate:
        cid, name, created_at, description = row
        return Candidate(
            "club",
            cid,
            cid,
            name,
            name,
            False,
            created_at=created_at,
            extra={"description": description[:200]},
        )

    event_fields = ("id", "club_id", "club__name", "title", "starts_at", "created_at", "status")
    club_fields = ("id", "name", "created_at", "description")
    # Visibility is part of the query: hidden rows never use up a limit.
    upcoming = Event.filter(viewer.listable(), ends_at__gt=now, status__not=EventStatus.ended)
    joinable = Club.filter(viewer.joinable_clubs())

    async def rooms():
        if not my_clubs:
            return []
        # Live rooms are reached through their event.
        return (
            await Room.filter(club_id__in=sorted(my_clubs))
            .exclude(name__startswith="live-")
            .order_by("id")
            .limit(MAX_ROOMS)
            .values_list("id", "club_id", "club__name", "name", "created_at")
        )

    async def trending():
        if redis is None:
            return []
        return [k.decode() for k in await redis.zrevrange(keys.TRENDING, 0, MAX_TRENDING - 1)]

    # Independent reads, concurrently: a feed's latency is the slowest of them, not their sum.
    event_rows, room_rows, club_rows, top = await asyncio.gather(
        upcoming.order_by("starts_at", "id").limit(MAX_EVENTS).values_list(*event_fields),
        rooms(),
        joinable.order_by("-id").limit(MAX_CLUBS).values_list(*club_fields),
        trending(),
    )
    out += [event(r) for r in event_rows]
    out += [
        Candidate("room", rid, cid, cname, name, True, created_at=created_at)
        for rid, cid, cname, name, created_at in room_rows
    ]
    out += [club(r) for r in club_rows]
    if top:
        # Trending: the most popular items right now, when the rules above left them out.
        have = {c.key for c in out}
        events = [int(k[6:]) for k in top if k.startswith("event:") and k not in have]
        clubs = [int(k[5:]) for k in top if k.startswith("club:") and k not in have]
        if events:
            out += [
                event(r)
                for r in await upcoming.filter(id__in=events)
                .order_by("starts_at", "id")
                .values_list(*event_fields)
            ]
        if clubs:
            out += [
                club(r) for r in await joinable.filter(id__in=clubs).order_by("-id").values_list(*club_fields)
            ]
    return CandidateSet(out, sorted(my_clubs), dict(viewer.member_names))
