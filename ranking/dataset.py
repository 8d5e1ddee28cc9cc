"""Training data from stored interactions: point-in-time replay of the online signals.

``Items`` is every event, room, club and live reel (PostgreSQL); ``Log`` every interaction of the analytics store
(Parquet, ``storage.analytics``), sorted by time: ``encode`` turns a batch of its rows into ``Log``
columns (``ranking.pipeline`` runs it over Ray Data blocks; ``load_log`` in this process, for small logs). ``Snapshot`` is what the online pipeline would have held at a cutoff ``t`` — the same anchored sums
``signals.increments`` adds one interaction at a time, here summed in bulk — and ``Snapshot.inputs`` turns
it into ``features.Inputs`` for one user's candidates, the same structure serving builds from Redis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from . import signals
from .candidates import MAX_CLUBS, MAX_EVENTS, MAX_REELS, MAX_ROOMS, MAX_TRENDING
from .features import HOUR_BUCKETS, TYPES, Inputs

KINDS = list(signals.KIND_WEIGHT)
# Relevance of what a user did with an item in a label window: nothing/impression 0, a look 1, a commitment 2
# (an RSVP, joining a club, attending). Opening or writing in a room of one's own club is a look.
GRADE = {
    "impression": 0,
    "click": 1,
    "dwell": 1,
    "message": 1,
    "rsvp": 2,
    "join": 2,
    "attend": 2,
    # Reels are judged by how much of them was watched (``reel_grades``), as video feeds do: reaching the
    # end is a commitment; a play alone says nothing yet, and a skip is a 0 shown next to the graded reels.
    "play": 0,
    "watch": 0,
    "complete": 2,
    "skip": 0,
}
ROOM_GRADE_CAP = 1
REEL_STRONG, REEL_WEAK = 0.8, 0.3  # watched fraction for grade 2 and grade 1
EMB_DIM = 16


@dataclass
class Items:
    keys: list[str]
    index: dict[str, int]
    type_code: np.ndarray
    item_id: np.ndarray
    club_id: np.ndarray
    club_item: np.ndarray  # index of the item's club (as an item)
    created_at: np.ndarray
    starts_at: np.ndarray  # nan except events
    ends_at: np.ndarray
    start_bucket: np.ndarray  # -1 except events
    public: np.ndarray  # the item's club is public
    listed: np.ndarray  # may appear in a feed at all (live rooms are reached through their event)
    club_names: dict[int, str]
    duration_ms: np.ndarray | None = None  # reels: the video's duration (nan elsewhere or unknown)

    @property
    def n(self) -> int:
        return len(self.keys)


@dataclass
class Log:
    user: np.ndarray  # user ids
    item: np.ndarray  # item indexes
    kind: np.ndarray  # index into KINDS
    weight: np.ndarray
    ts: np.ndarray
    watch: np.ndarray | None = None  # reels: milliseconds watched (nan elsewhere)

    @property
    def anchored(self) -> np.ndarray:
        return self.weight * np.exp(signals.DECAY * (self.ts - signals.EPOCH))


async def load_items() -> Items:
    from storage.models import Club, Event, Reel, Room, Visibility

    clubs = await Club.all().values_list("id", "name", "visibility", "created_at")
    rooms = await Room.all().values_list("id", "club_id", "name", "created_at")
    events = await Event.all().values_list("id", "club_id", "created_at", "starts_at", "ends_at")
    reels = await Reel.filter(deleted_at=None).values_list(
        "id", "club_id", "created_at", "media__duration_ms"
    )
    public = {c[0]: c[2] == Visibility.public or c[2] == "public" for c in clubs}
    rows: list[tuple] = [("club", c[0], c[0], c[3].timestamp(), math.nan, math.inf, True) for c in clubs]
    rows += [
        ("room", r[0], r[1], r[3].timestamp(), math.nan, math.inf, not r[2].startswith("live-"))
        for r in rooms
    ]
    rows += [
        ("event", e[0], e[1], e[2].timestamp(), e[3].timestamp(), e[4].timestamp(), True) for e in events
    ]
    rows += [
        ("reel", r[0], r[1], r[2].timestamp(), math.nan, math.inf, True, r[3] if r[3] else math.nan)
        for r in reels
    ]
    return items_from_rows(rows, public, {c[0]: c[1] for c in clubs})


def items_from_rows(rows: list[tuple], public: dict[int, bool], club_names: dict[int, str]) -> Items:
    """``rows``: (type, id, club id, created_at, starts_at, ends_at, listed[, duration_ms]) per item, times
    in epoch seconds (nan / inf where they do not apply); ``public``: club id -> public."""
    keys = [signals.item_key(t, i) for t, i, *_ in rows]
    index = {k: j for j, k in enumerate(keys)}
    club_id = np.array([r[2] for r in rows], dtype=np.int64)
    starts = np.array([r[4] for r in rows], dtype=np.float64)
    return Items(
        keys=keys,
        index=index,
        type_code=np.array([TYPES.index(r[0]) for r in rows], dtype=np.int64),
        item_id=np.array([r[1] for r in rows], dtype=np.int64),
        club_id=club_id,
        club_item=np.array([index.get(f"club:{c}", -1) for c in club_id], dtype=np.int64),
        created_at=np.array([r[3] for r in rows], dtype=np.float64),
        starts_at=starts,
        ends_at=np.array([r[5] for r in rows], dtype=np.float64),
        start_bucket=np.array(
            [signals.hour_bucket(s) if not math.isnan(s) else -1 for s in starts], dtype=np.int64
        ),
        public=np.array([public.get(c, False) for c in club_id], dtype=bool),
        listed=np.array([r[6] for r in rows], dtype=bool),
        club_names=club_names,
        duration_ms=np.array([r[7] if len(r) > 7 else math.nan for r in rows], dtype=np.float64),
    )


def item_codes(items: Items) -> tuple[np.ndarray, np.ndarray]:
    """(sorted item codes, the item index of each): the lookup ``encode`` searches, vectorized."""
    codes = items.type_code * (1 << 40) + items.item_id
    order = np.argsort(codes, kind="stable")
    return codes[order], order


def encode(cols: dict, codes: np.ndarray, code_index: np.ndarray) -> dict[str, np.ndarray]:
    """Analytics rows (columns as arrays) -> ``Log`` columns; rows of items deleted since (or of unknown
    kinds) are dropped."""
    type_names = np.asarray(cols["item_type"]).astype(str)
    kinds = np.asarray(cols["kind"]).astype(str)
    type_code = np.full(len(type_names), -1, dtype=np.int64)
    for i, t in enumerate(TYPES):
        type_code[type_names == t] = i
    kind_code = np.full(len(kinds), -1, dtype=np.int64)
    weight = np.zeros(len(kinds))
    for i, k in enumerate(KINDS):
        m = kinds == k
        kind_code[m] = i
        weight[m] = signals.KIND_WEIGHT[k]
    dwell = np.asarray(cols["dwell_ms"], dtype=np.float64)
    is_dwell = kind_code == KINDS.index("dwell")
    weight[is_dwell] = np.minimum(np.nan_to_num(dwell[is_dwell], nan=0.0) / 30_000.0, 3.0)  # signals.weight
    # Tables written before reels have no watch_ms column.
    watch = np.asarray(cols.get("watch_ms", np.full(len(kinds), np.nan)), dtype=np.float64)
    is_watch = kind_code == KINDS.index("watch")
    weight[is_watch] = np.minimum(
        np.nan_to_num(watch[is_watch], nan=0.0) / signals.WATCH_MS_PER_CLICK, signals.WATCH_CAP
    )
    code = type_code * (1 << 40) + np.asarray(cols["item_id"], dtype=np.int64)
    pos = np.clip(np.searchsorted(codes, code), 0, max(len(codes) - 1, 0))
    found = (type_code >= 0) & (kind_code >= 0) & (len(codes) > 0)
    if len(codes):
        found &= codes[pos] == code
    return {
        "user": np.asarray(cols["user_id"], dtype=np.int64)[found],
        "item": code_index[pos[found]] if len(codes) else np.zeros(0, dtype=np.int64),
        "kind": kind_code[found],
        "weight": weight[found],
        "ts": np.asarray(cols["ts"], dtype=np.float64)[found],
        "watch": watch[found],
    }


def to_log(parts: list[dict[str, np.ndarray]]) -> Log:
    """Encoded batches -> one ``Log`` sorted by time (stable: the store's order breaks ties)."""
    cols = {
        k: np.concatenate([p[k] for p in parts]) if parts else np.zeros(0)
        for k in ("user", "item", "kind", "weight", "ts", "watch")
    }
    order = np.argsort(cols["ts"], kind="stable")
    return Log(
        cols["user"][order].astype(np.int64),
        cols["item"][order].astype(np.int64),
        cols["kind"][order].astype(np.int64),
        cols["weight"][order].astype(np.float64),
        cols["ts"][order].astype(np.float64),
        cols["watch"][order].astype(np.float64),
    )


def load_log(store, items: Items, files: list[str] | None = None) -> Log:
    """The analytics store's interactions (``files``, or every sealed one) read in this process."""
    if files is None:
        files, _, _ = store.files_until()
    codes, index = item_codes(items)
    return to_log([encode(columns(store.read([f])), codes, index) for f in files])


def columns(table) -> dict[str, np.ndarray]:
    """A pyarrow table's columns as numpy arrays (a null ``dwell_ms`` or ``watch_ms`` becomes nan)."""
    return {name: table[name].to_numpy() for name in table.column_names}


def item_embeddings(
    items: Items, log: Log, until: float, dim: int = EMB_DIM, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Item vectors from co-engagement: a truncated SVD of the user×item matrix of engagement (impressions
    left out: being shown something says nothing about liking it) up to ``until``. Returns (unit vectors
    with zero rows for items nobody engaged with, mask of items that have one)."""
    from scipy.sparse.linalg import svds

    m = (log.ts < until) & (log.kind != KINDS.index("impression"))
    users, uidx = np.unique(log.user[m], return_inverse=True)
    mat = sp.csr_matrix((np.log1p(log.weight[m]), (uidx, log.item[m])), shape=(len(users), items.n))
    mat.data = np.log1p(mat.data)  # dampen heavy users and repeated visits
    vecs = np.zeros((items.n, dim))
    k = min(dim, min(mat.shape) - 1)
    if k >= 1 and mat.nnz:
        rng = np.random.default_rng(seed)
        _, s, vt = svds(mat.astype(np.float64), k=k, v0=rng.standard_normal(min(mat.shape)))
        vecs[:, :k] = vt.T * np.sqrt(s)
    norms = np.linalg.norm(vecs, axis=1)
    has = norms > 1e-9
    vecs[has] /= norms[has, None]
    vecs[~has] = 0.0
    return vecs, has


class Snapshot:
    """The online signals as they stood at ``t`` (interactions with ts < t)."""

    def __init__(self, items: Items, log: Log, t: float, item_vecs: np.ndarray | None) -> None:
        self.items, self.t, self.item_vecs = items, t, item_vecs
        m = log.ts < t
        user, item, kind, anch = log.user[m], log.item[m], log.kind[m], log.anchored[m]
        self.user_ids, uidx = np.unique(user, return_inverse=True)
        self.row = {int(u): i for i, u in enumerate(self.user_ids)}
        nu = len(self.user_ids)
        self.pop = np.bincount(item, weights=anch, minlength=items.n)
        self.aff_item = sp.csr_matrix((anch, (uidx, item)), shape=(nu, items.n))
        # user × club-item: the club itself plus its events and rooms, as the "club:<id>" affinity field.
        club_of = items.club_item[item]
        ok = club_of >= 0
        self.aff_club = sp.csr_matrix((anch[ok], (uidx[ok], club_of[ok])), shape=(nu, items.n))
        b = items.start_bucket[item]
        ev = b >= 0
        self.hours = np.zeros((nu, HOUR_BUCKETS))
        np.add.at(self.hours, (uidx[ev], b[ev]), anch[ev])
        self.user_vec = (self.aff_item @ item_vecs) if item_vecs is not None else None
        # Memberships and RSVPs as the join / rsvp interactions say.
        joins = (kind == KINDS.index("join")) & (items.type_code[item] == TYPES.index("club"))
        self.member = sp.csr_matrix((np.ones(joins.sum()), (uidx[joins], item[joins])), shape=(nu, items.n))
        self.member.data[:] = 1.0
        rs = kind == KINDS.index("rsvp")
        self.going = sp.csr_matrix((np.ones(rs.sum()), (item[rs], uidx[rs])), shape=(items.n, nu))
        self.going.data[:] = 1.0
        self._member_t = self.member.T.tocsr()

    def clubs_of(self, user_id: int) -> np.ndarray:
        r = self.row.get(user_id)
        return self.member[r].indices if r is not None else np.zeros(0, dtype=np.int64)

    def candidates(self, user_id: int) -> np.ndarray:
        """Item indexes the feed would offer the user at ``t`` — the rules of ``ranking.candidates``."""
        it, t = self.items, self.t
        mine = np.zeros(it.n, dtype=bool)
        mine[self.clubs_of(user_id)] = True
        in_my_club = np.zeros(it.n, dtype=bool)
        ok = it.club_item >= 0
        in_my_club[ok] = mine[it.club_item[ok]]
        exists = it.created_at <= t
        upcoming = exists & (it.type_code == 0) & (it.ends_at > t) & (it.public | in_my_club)
        joinable = exists & (it.type_code == 2) & it.public & ~mine
        ev = np.flatnonzero(upcoming)
        ev = ev[np.lexsort((it.item_id[ev], it.starts_at[ev]))][:MAX_EVENTS]
        rooms = np.flatnonzero(exists & (it.type_code == 1) & in_my_club & it.listed)
        rooms = rooms[np.argsort(it.item_id[rooms], kind="stable")][:MAX_ROOMS]
        clubs = np.flatnonzero(joinable)
        clubs = clubs[np.argsort(-it.item_id[clubs], kind="stable")][:MAX_CLUBS]
        reel_ok = exists & (it.type_code == TYPES.index("reel")) & (it.public | in_my_club)
        reels = np.flatnonzero(reel_ok)
        reels = reels[np.lexsort((-it.item_id[reels], -it.created_at[reels]))][:MAX_REELS]
        have = np.zeros(it.n, dtype=bool)
        have[ev] = have[rooms] = have[clubs] = have[reels] = True
        popular = np.flatnonzero(self.pop > 0)
        top = popular[np.argsort(-self.pop[popular], kind="stable")][:MAX_TRENDING]
        extra = top[~have[top] & (upcoming[top] | joinable[top] | reel_ok[top])]
        return np.concatenate([ev, rooms, clubs, reels, extra])

    def co_going(self, user_id: int, cand: np.ndarray) -> np.ndarray:
        r = self.row.get(user_id)
        if r is None:
            return np.zeros(len(cand), dtype=np.int64)
        shared = (self._member_t[self.member[r].indices].sum(axis=0).A1 > 0).astype(np.float64)
        shared[r] = 0.0
        return np.rint(self.going[cand] @ shared).astype(np.int64)

    def inputs(self, user_id: int, cand: np.ndarray) -> Inputs:
        it = self.items
        r = self.row.get(user_id)
        club_items = it.club_item[cand]
        is_club = it.type_code[cand] == TYPES.index("club")
        if r is not None:
            ai = self.aff_item[r].toarray().ravel()
            ac = self.aff_club[r].toarray().ravel()
            hours = self.hours[r]
            member = np.isin(club_items, self.clubs_of(user_id))
        else:
            ai = ac = np.zeros(it.n)
            hours = np.zeros(HOUR_BUCKETS)
            member = np.zeros(len(cand), dtype=bool)
        safe = np.where(club_items >= 0, club_items, 0)
        club_aff = np.where(club_items >= 0, ac[safe], 0.0)
        user_vec = None
        if self.user_vec is not None and r is not None and np.any(self.user_vec[r]):
            user_vec = np.asarray(self.user_vec[r]).ravel()
        vecs = self.item_vecs
        return Inputs(
            now=self.t,
            type_code=it.type_code[cand],
            item_pop=self.pop[cand],
            club_pop=np.where(club_items >= 0, self.pop[safe], 0.0),
            # The "club:<id>" affinity field is a club item's own field too (see signals.increments).
            user_item_aff=np.where(is_club, club_aff, ai[cand]),
            user_club_aff=club_aff,
            hour_weights=hours,
            start_bucket=it.start_bucket[cand],
            starts_at=it.starts_at[cand],
            created_at=it.created_at[cand],
            member=member,
            co_going=self.co_going(user_id, cand),
            user_vec=user_vec,
            item_vecs=vecs[cand] if vecs is not None else None,
            club_vecs=np.where((club_items >= 0)[:, None], vecs[safe], 0.0) if vecs is not None else None,
        )


def reel_grades(kind: np.ndarray, watch_ms: np.ndarray, duration_ms: np.ndarray) -> np.ndarray:
    """Grades of reel interactions (``kind`` indexes KINDS) by the watched fraction: a watch or skip of at
    least ``REEL_STRONG`` of the video (or a complete) 2, of ``REEL_WEAK`` 1, less 0; a watch of an unknown
    duration counts as its weight says (20 s: 1, 40 s: 2). Other kinds keep ``GRADE``."""
    grades = np.array([GRADE[k] for k in KINDS])[kind]
    watched = (kind == KINDS.index("watch")) | (kind == KINDS.index("skip"))
    w = np.nan_to_num(watch_ms, nan=0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(duration_ms > 0, w / duration_ms, np.nan)
    by_frac = np.where(frac >= REEL_STRONG, 2, np.where(frac >= REEL_WEAK, 1, 0))
    by_time = np.minimum(w // signals.WATCH_MS_PER_CLICK, 2).astype(np.int64)
    return np.where(watched, np.where(np.isnan(frac), by_time, by_frac), grades)


def labels(log: Log, items: Items, start: float, end: float) -> dict[int, dict[int, int]]:
    """{user_id: {item index: grade}} for what users did in [start, end)."""
    m = (log.ts >= start) & (log.ts < end)
    out: dict[int, dict[int, int]] = {}
    grades = np.array([GRADE[k] for k in KINDS])[log.kind[m]]
    types = items.type_code[log.item[m]]
    grades = np.where(types == TYPES.index("room"), np.minimum(grades, ROOM_GRADE_CAP), grades)
    reel = types == TYPES.index("reel")
    if reel.any():
        watch = log.watch[m][reel] if log.watch is not None else np.full(int(reel.sum()), np.nan)
        durations = items.duration_ms if items.duration_ms is not None else np.full(items.n, np.nan)
        grades[reel] = reel_grades(log.kind[m][reel], watch, durations[log.item[m][reel]])
    for u, j, g in zip(log.user[m].tolist(), log.item[m].tolist(), grades.tolist(), strict=True):
        if g:
            d = out.setdefault(u, {})
            if g > d.get(j, 0):
                d[j] = g
    return out
