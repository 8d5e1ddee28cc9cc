"""Direct-message rooms in PostgreSQL, and the one rule of who may write to whom.

A DM room is a ``rooms`` row with ``kind`` dm and no club; its people are ``dm_members`` rows, fixed when
the room is made. ``dm_key`` (the sorted user ids) is unique, so the same set of people always gets the
same room, however many open it at once.

Who may write in a DM (``refusal``), checked when it is opened and, by the room shards, on every send:
- nobody another person of the DM has blocked;
- in a DM of two, not someone who blocked the other (unblock them first);
- only someone every other person's ``dm_policy`` admits: ``everyone``; ``club_members`` (the default:
  people sharing a club with them); ``nobody``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from .models import DmMember, DmPolicy, Membership, Room, RoomKind, User, UserBlock

MAX_OTHERS = 9  # people besides the opener
MAX_LISTED = 200  # a user's DMs listed, newest first


def dm_key(user_ids: Iterable[int]) -> str:
    return "-".join(str(u) for u in sorted(set(user_ids)))


def _value(v: Enum | str) -> str:
    return str(v.value) if isinstance(v, Enum) else str(v)


@dataclass
class People:
    """What the rule needs to know of a set of people, loaded in three queries."""

    names: dict[int, str] = field(default_factory=dict)
    policies: dict[int, str] = field(default_factory=dict)
    blocks: set[tuple[int, int]] = field(default_factory=set)  # (blocker, blocked)
    clubs: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))

    @classmethod
    async def load(cls, user_ids: Iterable[int]) -> People:
        ids = sorted(set(user_ids))
        people = cls()
        for uid, name, policy in await User.filter(id__in=ids).values_list("id", "display_name", "dm_policy"):
            people.names[uid] = name
            people.policies[uid] = _value(policy)
        rows = await UserBlock.filter(user_id__in=ids, blocked_id__in=ids).values_list(
            "user_id", "blocked_id"
        )
        people.blocks = {(a, b) for a, b in rows}
        if any(p == DmPolicy.club_members.value for p in people.policies.values()):
            for uid, club_id in await Membership.filter(user_id__in=ids).values_list("user_id", "club_id"):
                people.clubs[uid].add(club_id)
        return people

    def refusal(self, sender: int, others: list[int]) -> str | None:
        """Why ``sender`` may not write to ``others`` in a DM (None: they may)."""
        for other in others:
            name = self.names.get(other, f"user {other}")
            if (other, sender) in self.blocks:
                return f"{name} does not accept messages from you"
            if len(others) == 1 and (sender, other) in self.blocks:
                return f"you blocked {name}; unblock them to write to them"
            policy = self.policies.get(other, DmPolicy.club_members.value)
            if policy == DmPolicy.nobody.value:
                return f"{name} does not accept direct messages"
            if policy == DmPolicy.club_members.value and not (self.clubs[sender] & self.clubs[other]):
                return f"{name} accepts direct messages only from people in their clubs"
        return None


async def refusals(user_ids: list[int]) -> dict[int, str]:
    """For each person of a DM, why they may not write in it now (absent: they may)."""
    people = await People.load(user_ids)
    out = {}
    for sender in user_ids:
        why = people.refusal(sender, [u for u in user_ids if u != sender])
        if why is not None:
            out[sender] = why
    return out


async def members(room_id: int) -> list[dict]:
    """A DM room's people: ``{user_id, display_name}``."""
    rows = await DmMember.filter(room_id=room_id).values("user_id", "user__display_name")
    return [{"user_id": r["user_id"], "display_name": r["user__display_name"]} for r in rows]


async def people_of(room_ids: list[int]) -> dict[int, list[dict]]:
    """Each room's people as ``{id, display_name}``."""
    out: dict[int, list[dict]] = defaultdict(list)
    rows = await DmMember.filter(room_id__in=room_ids).values("room_id", "user_id", "user__display_name")
    for r in sorted(rows, key=lambda r: r["user_id"]):
        out[r["room_id"]].append({"id": r["user_id"], "display_name": r["user__display_name"]})
    return out


async def get_or_create(user_ids: list[int]) -> tuple[Room, bool]:
    """The DM room of exactly these people; True when it was made now. Concurrent calls for the same
    people make one room: the loser of the unique ``dm_key`` reads the winner's (made in one transaction
    with its people, so it is complete when seen)."""
    key = dm_key(user_ids)
    room = await Room.get_or_none(dm_key=key)
    if room is not None:
        return room, False
    try:
        async with in_transaction():
            room = await Room.create(kind=RoomKind.dm, club_id=None, dm_key=key, name="dm")
            await DmMember.bulk_create([DmMember(room_id=room.id, user_id=u) for u in sorted(set(user_ids))])
    except IntegrityError:
        return await Room.get(dm_key=key), False
    return room, True


async def rooms_of(user_id: int, limit: int = MAX_LISTED) -> list[tuple[int, int]]:
    """The user's DM rooms as (room id, opened at in ms), newest opened first."""
    rows = (
        await DmMember.filter(user_id=user_id)
        .order_by("-room_id")
        .limit(limit)
        .values_list("room_id", "room__created_at")
    )
    return [(rid, int(created.timestamp() * 1000)) for rid, created in rows]


async def dm_room_ids(user_id: int) -> list[int]:
    return [int(r) for r in await DmMember.filter(user_id=user_id).values_list("room_id", flat=True)]  # type: ignore[call-overload]


async def rooms_with(user_ids: list[int]) -> dict[int, list[int]]:
    """The DM rooms any of these users is in, with all their people (room id -> user ids)."""
    ids = await DmMember.filter(user_id__in=user_ids).values_list("room_id", flat=True)
    out: dict[int, list[int]] = defaultdict(list)
    for rid, uid in await DmMember.filter(room_id__in=list(set(ids))).values_list("room_id", "user_id"):
        out[rid].append(uid)
    return dict(out)
