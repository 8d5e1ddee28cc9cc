"""Club members as rooms see them, read from PostgreSQL: a whole club on activation, one member on a
change, and members who joined after activation in one query per write batch (with a short negative
cache, so a stranger's sends cannot make every batch query again)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from .domain.room import Member, Room

NEGATIVE_MEMBER_TTL_S = 5.0
# The negative cache's bound: past it, expired entries go, and if that is not enough, all of them (it only
# saves queries; strangers sending to many clubs must not grow a shard's memory).
NEGATIVE_MEMBER_MAX = 10_000


FIELDS = ("user_id", "role", "muted_until", "joined_at", "user__display_name")


def member_of(row: dict) -> Member:
    muted = row.get("muted_until")
    joined = row.get("joined_at")
    role = row["role"]
    return Member(
        row["user_id"],
        row.get("user__display_name") or f"user {row['user_id']}",
        str(role.value if hasattr(role, "value") else role),
        muted.timestamp() if muted else None,
        joined.timestamp() if joined else None,
    )


class MemberDirectory:
    def __init__(self) -> None:
        self._not_member: dict[tuple[int, int], float] = {}  # (club, user) -> monotonic time to ask again

    async def club(self, club_id: int) -> dict[int, Member]:
        from storage.models import Membership

        rows = await Membership.filter(club_id=club_id).values(*FIELDS)
        return {r["user_id"]: member_of(r) for r in rows}

    @staticmethod
    async def dm(room_id: int) -> dict[int, Member]:
        """A DM room's people, each a plain member of it."""
        from storage import dms

        return {p["user_id"]: Member(p["user_id"], p["display_name"]) for p in await dms.members(room_id)}

    async def lookup(self, wanted: set[tuple[int, int]], rooms: Iterable[Room]) -> None:
        """Members that joined after their rooms were activated: one query, added to every active room
        of their club."""
        from storage.models import Membership

        now = time.monotonic()
        # A DM's people are fixed (club 0: no club): nobody joins one later.
        wanted = {k for k in wanted if k[0] and self._not_member.get(k, 0) < now}
        if not wanted:
            return
        clubs = {c for c, _ in wanted}
        users = {u for _, u in wanted}
        rows = await Membership.filter(club_id__in=clubs, user_id__in=users).values("club_id", *FIELDS)
        found = {(r["club_id"], r["user_id"]): r for r in rows}
        rooms = list(rooms)
        for key in wanted:
            r = found.get(key)
            if r is None:
                self._remember_not_member(key, now)
                continue
            for room in rooms:
                if room.club_id == key[0]:
                    room.set_member(member_of(r), key[1])

    def _remember_not_member(self, key: tuple[int, int], now: float) -> None:
        if len(self._not_member) >= NEGATIVE_MEMBER_MAX:
            self._not_member = {k: t for k, t in self._not_member.items() if t >= now}
            if len(self._not_member) >= NEGATIVE_MEMBER_MAX:
                self._not_member.clear()
        self._not_member[key] = now + NEGATIVE_MEMBER_TTL_S

    async def refresh(self, club_id: int, user_id: int) -> Member | None:
        """The member as stored now (None: no longer a member)."""
        from storage.models import Membership

        self._not_member.pop((club_id, user_id), None)
        row = await Membership.filter(club_id=club_id, user_id=user_id).values(*FIELDS)
        return member_of(row[0]) if row else None
