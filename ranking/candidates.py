"""Feed candidates for a user: what they could see next, never what they may not.

From the user's clubs: upcoming events and rooms; from public clubs: upcoming events and clubs not yet
joined; from both, the newest reels; and the trending items (top decayed popularity) those caps left out.
Excluded: past and ended events, deleted reels, clubs the user is banned from, private clubs the user is not
in (the rule: ``storage.visibility``).
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

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from typing import Any

import numpy as np

from storage import keys

from .features import TYPES
from .signals import hour_bucket

MAX_EVENTS = 400
MAX_ROOMS = 100
MAX_CLUBS = 100
MAX_TRENDING = 100
MAX_REELS = 100

EVENT, ROOM, CLUB, REEL = (TYPES.index(t) for t in ("event", "room", "club", "reel"))

# A row's version: its xmin changes with every update of the row; an event's or a room's also carries its
# club's (a renamed club renames the club name its items show). Shifted and or-ed in 64 bits: a wrap only
# costs a needless re-read.
_V_EVENT = "((e.xmin::text::bigint << 32) | c.xmin::text::bigint)"
_V_ROOM = "((r.xmin::text::bigint << 32) | c.xmin::text::bigint)"
_V_CLUB = "c.xmin::text::bigint"
_V_REEL = "((rl.xmin::text::bigint << 32) | c.xmin::text::bigint)"

# $1 user, $2 now, $3 trending event ids, $4 trending club ids, $5 trending reel ids. The rules are those of
# ``Viewer``: memberships minus bans are the user's clubs; events of public clubs or of the user's, minus
# banned clubs; rooms of the user's clubs except live rooms (reached through their event); public clubs the
# user neither belongs to nor is banned from; reels not deleted, by the events' rule (newest first, on the
# reels' created_at index). Co-members going: distinct other users in one of the user's clubs with a
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
live_reels AS (
    SELECT rl.id, rl.created_at, {_V_REEL} AS v
    FROM reels rl JOIN clubs c ON c.id = rl.club_id
    WHERE rl.deleted_at IS NULL
      AND (c.visibility = 'public' OR rl.club_id IN (SELECT club_id FROM mine))
      AND rl.club_id NOT IN (SELECT club_id FROM banned)
),
rl AS (SELECT id, created_at, v FROM live_reels ORDER BY created_at DESC, id DESC LIMIT {MAX_REELS}),
trl AS (
    SELECT id, created_at, v FROM live_reels WHERE id = ANY($5::bigint[]) AND id NOT IN (SELECT id FROM rl)
),
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
    ARRAY(SELECT id FROM rl ORDER BY created_at DESC, id DESC) AS rl,
    ARRAY(SELECT v FROM rl ORDER BY created_at DESC, id DESC) AS rl_v,
    ARRAY(SELECT id FROM trl ORDER BY created_at DESC, id DESC) AS trl,
    ARRAY(SELECT v FROM trl ORDER BY created_at DESC, id DESC) AS trl_v,
    ARRAY(SELECT event_id FROM co WHERE total = 1 ORDER BY event_id) AS co_e,
    ARRAY(SELECT n FROM co WHERE total = 1 ORDER BY event_id) AS co_n,
    ARRAY(SELECT event_id FROM co WHERE total = 0 ORDER BY event_id, n DESC, club_id) AS top_e,
    ARRAY(SELECT club_id FROM co WHERE total = 0 ORDER BY event_id, n DESC, club_id) AS top_c
"""  # nosec B608: only the module constants above are interpolated, every value is a placeholder

# The static facts of items the catalog lacks (or holds in an older version), all four kinds at once. A
# reel's title is its caption; its video and author are added by the gateway (``gateway.actions.feed``).
ITEMS_SQL = f"""
SELECT 0, e.id, e.club_id, c.name, e.title, e.starts_at, e.created_at, e.status, NULL, {_V_EVENT}
FROM events e JOIN clubs c ON c.id = e.club_id WHERE e.id = ANY($1::bigint[])
UNION ALL
SELECT 1, r.id, r.club_id, c.name, r.name, NULL, r.created_at, NULL, NULL, {_V_ROOM}
FROM rooms r JOIN clubs c ON c.id = r.club_id WHERE r.id = ANY($2::bigint[])
UNION ALL
SELECT 2, c.id, c.id, c.name, c.name, NULL, c.created_at, NULL, c.description, {_V_CLUB}
FROM clubs c WHERE c.id = ANY($3::bigint[])
UNION ALL
SELECT 3, rl.id, rl.club_id, c.name, rl.caption, NULL, rl.created_at, NULL, NULL, {_V_REEL}
FROM reels rl JOIN clubs c ON c.id = rl.club_id WHERE rl.id = ANY($4::bigint[])
"""  # nosec B608: only the module constants above are interpolated, every value is a placeholder


def _epoch(dt: datetime | None) -> float:
    return dt.timestamp() if dt is not None else math.nan


@dataclass(slots=True)
class Item:
    """What the feed needs of one event, room, club or reel that does not depend on the viewer, with the
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
    key_b: bytes = b""
    club_key_b: bytes = b""
    starts: float = math.nan  # epoch seconds, events only
    created: float = math.nan
    bucket: int = -1  # start hour bucket, events only

    def __post_init__(self) -> None:
        self.key = f"{TYPES[self.type_code]}:{self.id}"
        self.club_key = f"club:{self.club_id}"
        self.key_b, self.club_key_b = self.key.encode(), self.club_key.encode()  # as Redis replies spell them
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


# Per-slot columns of the catalog. The first group is the items' static facts (set by ``put``); the second
# is what a ranker (``ranking.serve.FeedServer``) caches per item: decayed popularity as of its refresh
# ``pop_gen``, and the rows of the item and its club in model ``emb_ver``'s embeddings. ``put`` resets
# both stamps, so an item read again is looked up again.
COLUMNS: dict[str, type] = {
    "type_code": np.int64,
    "id": np.int64,
    "club_id": np.int64,
    "starts": np.float64,
    "created": np.float64,
    "bucket": np.int64,
    "version": np.int64,
    "item_pop": np.float64,
    "club_pop": np.float64,
    "pop_gen": np.int64,
    "emb_row": np.int64,
    "club_emb_row": np.int64,
    "emb_ver": np.int64,
}


class Catalog:
    """Items by (type, id), per process, each in a slot: its ``Item`` and its numbers in ``cols`` (numpy
    arrays indexed by slot), so a feed gathers its candidates' features with one fancy index per column
    rather than item by item in Python. Bounded: past ``max_items`` the oldest half is dropped (items are
    re-read when next needed), so a catalog follows the upcoming events as time moves on."""

    def __init__(self, max_items: int = 20_000) -> None:
        self.max_items = max_items
        self.slot_of: list[dict[int, int]] = [{} for _ in TYPES]  # per type: id -> slot
        self.by_slot: list[Item | None] = []
        self.cols: dict[str, np.ndarray] = {name: np.zeros(0, dtype) for name, dtype in COLUMNS.items()}
        self._free: list[int] = []
        self._order: dict[int, None] = {}  # live slots, oldest first
        self.reads = 0  # rows read into the catalog, for stats
        self.changes = 0  # bumped by every put: a feed that awaited since it took its slots checks them

    def __len__(self) -> int:
        return len(self._order)

    def live(self) -> list[Item]:
        return [it for it in self.by_slot if it is not None]

    def get(self, type_code: int, item_id: int) -> Item | None:
        slot = self.slot_of[type_code].get(item_id)
        return None if slot is None else self.by_slot[slot]

    def slots(self, type_code: int, ids: Sequence[int]) -> np.ndarray:
        """The slot of each id (-1: not in the catalog)."""
        return np.fromiter(map(self.slot_of[type_code].get, ids, repeat(-1)), np.int64, len(ids))

    def stale(self, type_code: int, ids: list[int], versions: list[int]) -> list[int]:
        """The ids the catalog lacks, or holds in another version than ``versions``."""
        if not ids:
            return []
        slots = self.slots(type_code, ids)
        held = (
            self.cols["version"][np.maximum(slots, 0)] if len(self.by_slot) else np.zeros(len(ids), np.int64)
        )
        bad = (slots < 0) | (held != np.asarray(versions, dtype=np.int64))
        return np.asarray(ids, dtype=np.int64)[bad].tolist() if bad.any() else []

    def put(self, rows: list[Any]) -> None:
        if len(self) + len(rows) > self.max_items:
            self._evict(len(self) // 2 + len(rows))
        cols = self.cols
        for row in rows:
            it = Item.from_row(row)
            where = self.slot_of[it.type_code]
            slot = where.get(it.id)
            if slot is None:
                slot = where[it.id] = self._alloc()
                self._order[slot] = None
            self.by_slot[slot] = it
            cols["type_code"][slot] = it.type_code
            cols["id"][slot] = it.id
            cols["club_id"][slot] = it.club_id
            cols["starts"][slot] = it.starts
            cols["created"][slot] = it.created
            cols["bucket"][slot] = it.bucket
            cols["version"][slot] = it.version
            cols["pop_gen"][slot] = -1
            cols["emb_ver"][slot] = -1
        self.reads += len(rows)
        self.changes += 1

    def current(self, feed: Feed) -> Feed:
        """``feed`` with its slots checked after an await: while it waited another feed may have put rows
        (an edited item in its slot, or an eviction that gave a slot to another item). Items re-read are
        taken in their new version; items evicted are left out of this feed (as an item deleted between
        two reads is)."""
        if feed.changes == self.changes:
            return feed
        by_slot = self.by_slot
        fresh = [by_slot[s] for s in feed.slots.tolist()]
        keep = np.fromiter(
            (f is not None and f.key == it.key for f, it in zip(fresh, feed.items, strict=True)),
            bool,
            len(fresh),
        )
        return dataclasses.replace(
            feed,
            items=[f for f, k in zip(fresh, keep.tolist(), strict=True) if k and f is not None],
            member=feed.member[keep],
            slots=feed.slots[keep],
            co_going_n=feed.co_going_n[keep],
            changes=self.changes,
        )

    def _evict(self, count: int) -> None:
        for slot in list(self._order)[:count]:
            it = self.by_slot[slot]
            assert it is not None
            del self.slot_of[it.type_code][it.id]
            del self._order[slot]
            self.by_slot[slot] = None
            self._free.append(slot)

    def _alloc(self) -> int:
        if not self._free:
            old = len(self.by_slot)
            size = max(64, 2 * old)
            for name, col in self.cols.items():
                grown = np.zeros(size, dtype=col.dtype)
                grown[:old] = col
                self.cols[name] = grown
            self.by_slot.extend([None] * (size - old))
            self._free.extend(range(size - 1, old - 1, -1))
        return self._free.pop()


@dataclass
class Feed:
    """One user's candidates: items in feed order (and their catalog slots), whether each is in one of
    the user's clubs, and the co-members going per event."""

    items: list[Item]
    member: np.ndarray  # bool per item
    my_clubs: list[int]
    club_names: dict[int, str]  # names of the user's clubs (reasons name them)
    co_going: dict[int, int]  # event id -> co-members going
    co_club: dict[int, int]  # event id -> the user's club with most of them
    slots: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # per item, in the catalog
    co_going_n: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # per item (events)
    changes: int = 0  # the catalog's ``changes`` when the slots were taken


def _as_list(values: Sequence[Any] | None) -> list:
    return list(values) if values else []


async def _fetch(db, sql: str, *args: Any) -> list:
    """``db``: an asyncpg pool or connection (the ranker's own), or None for Tortoise's connection."""
    if db is None:
        from tortoise import connections

        _, rows = await connections.get("default").execute_query(sql, list(args))
        return list(rows)
    return list(await db.fetch(sql, *args))


def lookup(keys_: np.ndarray, values: np.ndarray, wanted: np.ndarray, default: float = 0.0) -> np.ndarray:
    """``values`` at ``wanted`` by sorted ``keys_`` (``default`` where absent), vectorized."""
    if not len(keys_) or not len(wanted):
        return np.full(len(wanted), default, dtype=np.float64 if values.dtype.kind == "f" else values.dtype)
    pos = np.minimum(np.searchsorted(keys_, wanted), len(keys_) - 1)
    return np.where(keys_[pos] == wanted, values[pos], default)


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
    t_reels = [int(k[5:]) for k in trending if k.startswith("reel:")]
    (row,) = await _fetch(db, FEED_SQL, user_id, now, t_events, t_clubs, t_reels)
    ev, rm, cl = _as_list(row["ev"]), _as_list(row["rm"]), _as_list(row["cl"])
    tev, tcl = _as_list(row["tev"]), _as_list(row["tcl"])
    rl, trl = _as_list(row["rl"]), _as_list(row["trl"])
    wanted = (
        (EVENT, ev + tev, _as_list(row["ev_v"]) + _as_list(row["tev_v"])),
        (ROOM, rm, _as_list(row["rm_v"])),
        (CLUB, cl + tcl, _as_list(row["cl_v"]) + _as_list(row["tcl_v"])),
        (REEL, rl + trl, _as_list(row["rl_v"]) + _as_list(row["trl_v"])),
    )
    missing = [catalog.stale(t, ids, vs) for t, ids, vs in wanted]
    if any(missing):
        catalog.put(await _fetch(db, ITEMS_SQL, *missing))
    slots = np.concatenate(
        [
            catalog.slots(EVENT, ev),
            catalog.slots(ROOM, rm),
            catalog.slots(CLUB, cl),
            catalog.slots(REEL, rl),
            catalog.slots(EVENT, tev),
            catalog.slots(CLUB, tcl),
            catalog.slots(REEL, trl),
        ]
    )
    slots = slots[slots >= 0]  # an item deleted between the two reads is gone from the catalog's answer
    by_slot = catalog.by_slot
    items = [by_slot[s] for s in slots.tolist()]
    cols = catalog.cols
    type_code, ids = cols["type_code"][slots], cols["id"][slots]
    mine = _as_list(row["mine"])
    member = (type_code != CLUB) & np.isin(cols["club_id"][slots], np.asarray(mine, dtype=np.int64))
    co_e = np.asarray(_as_list(row["co_e"]), dtype=np.int64)  # by event id
    co_n = np.asarray(_as_list(row["co_n"]), dtype=np.int64)
    co_going_n = np.where(type_code == EVENT, lookup(co_e, co_n, ids, 0), 0).astype(np.int64)
    co_club: dict[int, int] = {}
    for e, c in zip(_as_list(row["top_e"]), _as_list(row["top_c"]), strict=True):
        co_club.setdefault(e, c)  # rows come by event, most going first
    return Feed(
        items,
        member,
        mine,
        dict(zip(mine, _as_list(row["mine_names"]), strict=True)),
        dict(zip(co_e.tolist(), co_n.tolist(), strict=True)),
        co_club,
        slots,
        co_going_n,
        catalog.changes,
    )


# -- the per-candidate view (training/serving parity checks, tools) -----------------------------------


@dataclass
class Candidate:
    type: str  # event | club | room | reel
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
