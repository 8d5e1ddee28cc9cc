"""Feed candidates for a user: what they could see next, never what they may not.

From the user's clubs: upcoming events and rooms; from public clubs: upcoming events and clubs not yet
joined; and the trending items (top decayed popularity) those caps left out. Excluded: past and ended
events, clubs the user is banned from, private clubs the user is not in (the rule: ``storage.visibility``).
``ranking.dataset.Snapshot`` applies the same rules to the past for training, bans aside (it does not read
them).

One feed costs one PostgreSQL round trip: ``FEED_SQL`` applies the visibility rules to the user's current
memberships and bans, and returns the candidates' ids with each row's version (its ``xmin``, and its
club's), the user's clubs and the co-members going to each event. Everything static about an item (title,
times, club name) comes from a ``Catalog`` kept per process, checked against those versions on every feed:
an item edited, rescheduled or whose club was renamed is read again, so nothing served is stale, and the
visibility rules never depend on a cache.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from storage import keys

from .features import TYPES
from .signals import hour_bucket

MAX_EVENTS = 400
MAX_ROOMS = 100
MAX_CLUBS = 100
MAX_TRENDING = 100

EVENT, ROOM, CLUB = (TYPES.index(t) for t in ("event", "room", "club"))

# A row's version: its xmin changes with every update of the row; an event's or a room's also carries its
# club's (a renamed club renames the club name its items show). Shifted and or-ed in 64 bits: a wrap only
# costs a needless re-read.
_V_EVENT = "((e.xmin::text::bigint << 32) | c.xmin::text::bigint)"
_V_ROOM = "((r.xmin::text::bigint << 32) | c.xmin::text::bigint)"
_V_CLUB = "c.xmin::text::bigint"

# $1 user, $2 now, $3 trending event ids, $4 trending club ids. The rules are those of ``Viewer``:
# memberships minus bans are the user's clubs; events of public clubs or of the user's, minus banned clubs;
# rooms of the user's clubs except live rooms (reached through their event); public clubs the user neither
# belongs to nor is banned from. Co-members going: distinct other users in one of the user's clubs with a
# 'going' RSVP, per event and per (event, club) in one grouping; the events as an array, so PostgreSQL
# probes the RSVPs' (event_id, user_id) index rather than scanning every RSVP (the co-going part: 3.5 ->
# 1.3 ms).
FEED_SQL = f"""
WITH
banned AS (SELECT club_id FROM club_bans WHERE user_id = $1),
joined AS (SELECT club_id FROM memberships WHERE user_id = $1),
mine AS (SELECT club_id FROM joined WHERE club_id NOT IN (SELECT club_id FROM banned)),
upcoming AS (
    SELECT e.id, e.starts_at, {_V_EVENT} AS v
    FROM events e JOIN clubs c ON c.id = e.club_id
    WHERE e.ends_at > $2 AND e.status <> 'ended'
      AND (c.visibility = 'public' OR e.club_id IN (SELECT club_id FROM mine))
      AND e.club_id NOT IN (SELECT club_id FROM banned)
),
ev AS (SELECT id, starts_at, v FROM upcoming ORDER BY starts_at, id LIMIT {MAX_EVENTS}),
tev AS (SELECT id, starts_at, v FROM upcoming WHERE id = ANY($3::bigint[]) AND id NOT IN (SELECT id FROM ev)),
rm AS (
    SELECT r.id, {_V_ROOM} AS v
    FROM rooms r JOIN clubs c ON c.id = r.club_id
    WHERE r.club_id IN (SELECT club_id FROM mine) AND r.name NOT LIKE 'live-%'
    ORDER BY r.id LIMIT {MAX_ROOMS}
),
joinable AS (
    SELECT c.id, {_V_CLUB} AS v FROM clubs c
    WHERE c.visibility = 'public' AND c.id NOT IN (SELECT club_id FROM joined)
      AND c.id NOT IN (SELECT club_id FROM banned)
),
cl AS (SELECT id, v FROM joinable ORDER BY id DESC LIMIT {MAX_CLUBS}),
tcl AS (SELECT id, v FROM joinable WHERE id = ANY($4::bigint[]) AND id NOT IN (SELECT id FROM cl)),
co AS (
    SELECT r.event_id, m.club_id, COUNT(DISTINCT r.user_id) AS n, GROUPING(m.club_id) AS total
    FROM rsvps r JOIN memberships m ON m.user_id = r.user_id
    WHERE r.status = 'going' AND r.user_id <> $1 AND m.club_id IN (SELECT club_id FROM mine)
      AND r.event_id = ANY(ARRAY(SELECT id FROM ev UNION ALL SELECT id FROM tev))
    GROUP BY GROUPING SETS ((r.event_id, m.club_id), (r.event_id))
)
SELECT
    ARRAY(SELECT c.id FROM clubs c JOIN mine ON mine.club_id = c.id ORDER BY c.id) AS mine,
    ARRAY(SELECT c.name FROM clubs c JOIN mine ON mine.club_id = c.id ORDER BY c.id) AS mine_names,
    ARRAY(SELECT id FROM ev ORDER BY starts_at, id) AS ev,
    ARRAY(SELECT v FROM ev ORDER BY starts_at, id) AS ev_v,
    ARRAY(SELECT id FROM rm ORDER BY id) AS rm,
    ARRAY(SELECT v FROM rm ORDER BY id) AS rm_v,
    ARRAY(SELECT id FROM cl ORDER BY id DESC) AS cl,
    ARRAY(SELECT v FROM cl ORDER BY id DESC) AS cl_v,
    ARRAY(SELECT id FROM tev ORDER BY starts_at, id) AS tev,
    ARRAY(SELECT v FROM tev ORDER BY starts_at, id) AS tev_v,
    ARRAY(SELECT id FROM tcl ORDER BY id DESC) AS tcl,
    ARRAY(SELECT v FROM tcl ORDER BY id DESC) AS tcl_v,
    ARRAY(SELECT event_id FROM co WHERE total = 1 ORDER BY event_id) AS co_e,
    ARRAY(SELECT n FROM co WHERE total = 1 ORDER BY event_id) AS co_n,
    ARRAY(SELECT event_id FROM co WHERE total = 0 ORDER BY event_id, n DESC, club_id) AS top_e,
    ARRAY(SELECT club_id FROM co WHERE total = 0 ORDER BY event_id, n DESC, club_id) AS top_c
"""  # nosec B608: only the module constants above are interpolated, every value is a placeholder

# The static facts of items the catalog lacks (or holds in an older version), all three kinds at once.
ITEMS_SQL = f"""
SELECT 0, e.id, e.club_id, c.name, e.title, e.starts_at, e.created_at, e.status, NULL, {_V_EVENT}
FROM events e JOIN clubs c ON c.id = e.club_id WHERE e.id = ANY($1::bigint[])
UNION ALL
SELECT 1, r.id, r.club_id, c.name, r.name, NULL, r.created_at, NULL, NULL, {_V_ROOM}
FROM rooms r JOIN clubs c ON c.id = r.club_id WHERE r.id = ANY($2::bigint[])
UNION ALL
SELECT 2, c.id, c.id, c.name, c.name, NULL, c.created_at, NULL, c.description, {_V_CLUB}
FROM clubs c WHERE c.id = ANY($3::bigint[])
"""  # nosec B608: only the module constants above are interpolated, every value is a placeholder


def _epoch(dt: datetime | None) -> float:
    return dt.timestamp() if dt is not None else math.nan


@dataclass(slots=True)
class Item:
    """What the feed needs of one event, room or club that does not depend on the viewer, with the
    per-row numbers features use computed once."""

    type_code: int
    id: int
    club_id: int
    club_name: str
    title: str
    starts_at: datetime | None
    created_at: datetime | None
    extra: dict
    version: int
    key: str = ""
    club_key: str = ""
    starts: float = math.nan  # epoch seconds, events only
    created: float = math.nan
    bucket: int = -1  # start hour bucket, events only

    def __post_init__(self) -> None:
        self.key = f"{TYPES[self.type_code]}:{self.id}"
        self.club_key = f"club:{self.club_id}"
        self.starts = _epoch(self.starts_at) if self.type_code == EVENT else math.nan
        self.created = _epoch(self.created_at)
        self.bucket = hour_bucket(self.starts) if not math.isnan(self.starts) else -1

    @property
    def type(self) -> str:
        return TYPES[self.type_code]

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Item:
        t, id_, club_id, club_name, title, starts_at, created_at, status, description, version = row
        if t == EVENT:
            extra = {"starts_at": starts_at.isoformat(), "status": getattr(status, "value", status)}
        elif t == CLUB:
            extra = {"description": (description or "")[:200]}
        else:
            extra = {}
        return cls(t, id_, club_id, club_name, title, starts_at, created_at, extra, version)


class Catalog:
    """Items by (type, id), per process. Bounded: past ``max_items`` the oldest half is dropped (items
    are re-read when next needed), so a catalog follows the upcoming events as time moves on."""

    def __init__(self, max_items: int = 20_000) -> None:
        self.max_items = max_items
        self.items: dict[tuple[int, int], Item] = {}
        self.reads = 0  # rows read into the catalog, for stats

    def __len__(self) -> int:
        return len(self.items)

    def stale(self, type_code: int, ids: list[int], versions: list[int]) -> list[int]:
        items = self.items
        out = []
        for i, v in zip(ids, versions, strict=True):
            it = items.get((type_code, i))
            if it is None or it.version != v:
                out.append(i)
        return out

    def put(self, rows: list[Any]) -> None:
        if len(self.items) + len(rows) > self.max_items:
            drop = list(self.items)[: len(self.items) // 2 + len(rows)]
            for k in drop:
                del self.items[k]
        for row in rows:
            it = Item.from_row(row)
            self.items[(it.type_code, it.id)] = it
        self.reads += len(rows)


@dataclass
class Feed:
    """One user's candidates: items in feed order, whether each is in one of the user's clubs, and the
    co-members going per event."""

    items: list[Item]
    member: np.ndarray  # bool per item
    my_clubs: list[int]
    club_names: dict[int, str]  # names of the user's clubs (reasons name them)
    co_going: dict[int, int]  # event id -> co-members going
    co_club: dict[int, int]  # event id -> the user's club with most of them


def _as_list(values: Sequence[Any] | None) -> list:
    return list(values) if values else []


async def _fetch(db, sql: str, *args: Any) -> list:
    """``db``: an asyncpg pool or connection (the ranker's own), or None for Tortoise's connection."""
    if db is None:
        from tortoise import connections

        _, rows = await connections.get("default").execute_query(sql, list(args))
        return list(rows)
    return list(await db.fetch(sql, *args))


async def feed_candidates(
    db,
    user_id: int,
    now: datetime,
    catalog: Catalog,
    trending: Sequence[str] = (),
) -> Feed:
    """The user's candidates in one round trip (two when the catalog lacks some items' current version).

    ``trending``: item keys by decayed popularity (``keys.TRENDING``), the best first."""
    t_events = [int(k[6:]) for k in trending if k.startswith("event:")]
    t_clubs = [int(k[5:]) for k in trending if k.startswith("club:")]
    (row,) = await _fetch(db, FEED_SQL, user_id, now, t_events, t_clubs)
    ev, rm, cl = _as_list(row["ev"]), _as_list(row["rm"]), _as_list(row["cl"])
    tev, tcl = _as_list(row["tev"]), _as_list(row["tcl"])
    wanted = (
        (EVENT, ev + tev, _as_list(row["ev_v"]) + _as_list(row["tev_v"])),
        (ROOM, rm, _as_list(row["rm_v"])),
        (CLUB, cl + tcl, _as_list(row["cl_v"]) + _as_list(row["tcl_v"])),
    )
    missing = [catalog.stale(t, ids, vs) for t, ids, vs in wanted]
    if any(missing):
        catalog.put(await _fetch(db, ITEMS_SQL, *missing))
    items_by = catalog.items
    order = [(EVENT, i) for i in ev] + [(ROOM, i) for i in rm] + [(CLUB, i) for i in cl]
    order += [(EVENT, i) for i in tev] + [(CLUB, i) for i in tcl]
    # An item deleted between the two reads is gone from the catalog's answer: not offered.
    items = [it for it in map(items_by.get, order) if it is not None]
    mine = _as_list(row["mine"])
    my = set(mine)
    member = np.fromiter((it.type_code != CLUB and it.club_id in my for it in items), bool, len(items))
    top_c = _as_list(row["top_c"])
    co_club: dict[int, int] = {}
    for e, c in zip(_as_list(row["top_e"]), top_c, strict=True):
        co_club.setdefault(e, c)  # rows come by event, most going first
    return Feed(
        items,
        member,
        mine,
        dict(zip(mine, _as_list(row["mine_names"]), strict=True)),
        dict(zip(_as_list(row["co_e"]), _as_list(row["co_n"]), strict=True)),
        co_club,
    )


# -- the per-candidate view (training/serving parity checks, tools) -----------------------------------


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


async def trending_keys(redis) -> list[str]:
    return [k.decode() for k in await redis.zrevrange(keys.TRENDING, 0, MAX_TRENDING - 1)]


async def candidates_for(user_id: int, now: datetime | None = None, redis=None, db=None) -> CandidateSet:
    """``feed_candidates`` with nothing cached, as ``Candidate`` objects (Tortoise's connection unless
    ``db`` is given)."""
    now = now or datetime.now(UTC)
    top = await trending_keys(redis) if redis is not None else []
    feed = await feed_candidates(db, user_id, now, Catalog(), top)
    out = [
        Candidate(
            it.type,
            it.id,
            it.club_id,
            it.club_name,
            it.title,
            bool(m),
            starts_at=it.starts_at,
            created_at=it.created_at,
            extra=dict(it.extra),
        )
        for it, m in zip(feed.items, feed.member, strict=True)
    ]
    return CandidateSet(out, feed.my_clubs, feed.club_names)
