"""Serving side of the feed: gather ``Inputs`` for one user's candidates from Redis (signals, user
embedding) and PostgreSQL (co-members going), then score them with a model or by popularity.

``FeedServer`` is the path a ranker actor serves: per feed one PostgreSQL round trip (candidates and
co-members going, ``ranking.candidates.feed_candidates``) concurrent with one Redis pipeline (the user's
affinities and embedding), the items' static facts from the process's catalog, features gathered as
arrays, one prediction and one for the reasons. ``serving_inputs`` gathers the same inputs for a list of
``Candidate`` objects with nothing cached: the reference the parity checks and tests compare against.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from tortoise import connections

from storage import keys

from . import signals
from .candidates import (
    EVENT,
    REEL,
    Candidate,
    Catalog,
    Feed,
    Item,
    feed_candidates,
    trending_keys,
)
from .features import HOUR_BUCKETS, TYPES, Inputs, fallback, feature_matrix, said_most, sayings
from .registry import RankerModel

_CO_GOING_SQL = """
SELECT r.event_id, m.club_id, COUNT(DISTINCT r.user_id)
FROM rsvps r JOIN memberships m ON m.user_id = r.user_id
WHERE r.event_id = ANY($1::bigint[]) AND m.club_id = ANY($2::bigint[]) AND r.user_id <> $3 AND r.status = 'going'
GROUP BY r.event_id, m.club_id
"""
_CO_GOING_TOTAL_SQL = """
SELECT r.event_id, COUNT(DISTINCT r.user_id)
FROM rsvps r JOIN memberships m ON m.user_id = r.user_id
WHERE r.event_id = ANY($1::bigint[]) AND m.club_id = ANY($2::bigint[]) AND r.user_id <> $3 AND r.status = 'going'
GROUP BY r.event_id
"""


def _epoch(dt) -> float:
    return dt.timestamp() if dt is not None else math.nan


async def co_members_going(
    user_id: int, my_clubs: list[int], event_ids: list[int], db=None
) -> tuple[dict, dict]:
    """{event_id: distinct people sharing a club with the user who are going} and
    {event_id: the user's club with most of them}. ``db``: an asyncpg pool, or None for Tortoise's."""
    if not my_clubs or not event_ids:
        return {}, {}
    args = [event_ids, my_clubs, user_id]
    if db is None:
        conn = connections.get("default")
        (_, per_club), (_, totals) = await asyncio.gather(
            conn.execute_query(_CO_GOING_SQL, args), conn.execute_query(_CO_GOING_TOTAL_SQL, args)
        )
    else:
        per_club, totals = await asyncio.gather(
            db.fetch(_CO_GOING_SQL, *args), db.fetch(_CO_GOING_TOTAL_SQL, *args)
        )
    top: dict[int, tuple[int, int]] = {}
    for row in per_club:
        e, c, n = int(row[0]), int(row[1]), int(row[2])
        if n > top.get(e, (0, 0))[1]:
            top[e] = (c, n)
    return {int(r[0]): int(r[1]) for r in totals}, {e: c for e, (c, _) in top.items()}


async def serving_inputs(
    redis,
    user_id: int,
    candidates: list[Candidate],
    my_clubs: list[int],
    model: RankerModel | None,
    now: float,
    db=None,
) -> tuple[Inputs, dict]:
    n = len(candidates)
    item_keys = [c.key for c in candidates]
    club_keys = [f"club:{c.club_id}" for c in candidates]
    hour_fields = [f"hour:{b}" for b in range(HOUR_BUCKETS)]

    async def read_signals():
        async with redis.pipeline(transaction=False) as pipe:
            pipe.hmget(keys.POPULARITY, item_keys + club_keys)
            pipe.hmget(keys.affinity(user_id), item_keys + club_keys + hour_fields)
            if model is not None:
                pipe.hgetall(keys.user_embedding(model.version, user_id))
            return await pipe.execute()

    events = [c.id for c in candidates if c.type == "event"]
    replies, (co_going, co_club) = await asyncio.gather(
        read_signals(), co_members_going(user_id, my_clubs, events, db)
    )

    def floats(values) -> np.ndarray:
        return np.array([float(v) if v else 0.0 for v in values])

    pop, aff = floats(replies[0]), floats(replies[1])
    user_vec = item_vecs = club_vecs = None
    if model is not None:
        emb = model.embeddings
        raw = replies[2]
        if raw:
            user_vec = np.zeros(emb.vectors.shape[1])
            for k, v in raw.items():
                user_vec[int(k)] = float(v)
        item_vecs, club_vecs = emb.rows(item_keys), emb.rows(club_keys)
    starts = np.array([_epoch(c.starts_at) if c.type == "event" else math.nan for c in candidates])
    x = Inputs(
        now=now,
        type_code=np.array([TYPES.index(c.type) for c in candidates], dtype=np.int64),
        item_pop=pop[:n],
        club_pop=pop[n:],
        user_item_aff=aff[:n],
        user_club_aff=aff[n : 2 * n],
        hour_weights=aff[2 * n :],
        start_bucket=np.array(
            [signals.hour_bucket(s) if not math.isnan(s) else -1 for s in starts], dtype=np.int64
        ),
        starts_at=starts,
        created_at=np.array([_epoch(c.created_at) if c.created_at else now for c in candidates]),
        member=np.array([c.member for c in candidates], dtype=bool),
        co_going=np.array(
            [co_going.get(c.id, 0) if c.type == "event" else 0 for c in candidates], dtype=np.int64
        ),
        user_vec=user_vec,
        item_vecs=item_vecs,
        club_vecs=club_vecs,
    )
    return x, co_club


def popularity_scores(x: Inputs) -> np.ndarray:
    return x.item_pop * signals.decay_factor(x.now)


def popularity_reason(item_type: str, club_name: str, member: bool, popularity: float) -> str:
    where = (
        "in your club " + club_name if member else f"from {club_name}" if item_type != "club" else "to join"
    )
    trend = "popular right now" if popularity > 0 else "new"
    return (
        f"A {trend} {item_type} {where} — ranked by popularity until your personal ranking model is trained"
    )


def explain(
    model: RankerModel, rows: np.ndarray, order: list[int], scores: np.ndarray, said: list[dict[int, str]]
) -> list[str | None]:
    """For each shown item (``order``), the sentence of the feature that lifts it most, among those that
    can be said of it (``said``, from ``features.sayings``); None when none lifts it. A feature's lift is
    the item's score minus its score with that one feature set to the median over the user's candidates
    (what a typical item for this user looks like): one batched prediction of only the (item, feature)
    pairs with a sentence, ~4 per item rather than all 15 features. LightGBM's exact per-feature
    contributions (TreeSHAP) cost ~0.6 ms per row with a few hundred trees; this costs a few µs per pair
    and names the same standout feature."""
    pairs = [(j, f) for j, texts in enumerate(said) for f in texts]
    if not pairs:
        return [None] * len(said)
    at = np.array([order[j] for j, _ in pairs])
    feature = np.array([f for _, f in pairs])
    probe = rows[at]  # a copy
    probe[np.arange(len(pairs)), feature] = np.median(rows, axis=0)[feature]
    lift = scores[at] - model.predict(probe)
    lifts: list[dict[int, float]] = [{} for _ in said]
    for (j, f), value in zip(pairs, lift.tolist(), strict=True):
        lifts[j][f] = value
    return [said_most(texts, lifts[j]) for j, texts in enumerate(said)]


def item_out(c: Candidate | Item, score: float, why: str) -> dict:
    out = {
        "type": c.type,
        "id": c.id,
        "score": round(float(score), 6),
        "reason": why,
        "title": c.title,
        "club_id": c.club_id,
        "club_name": c.club_name,
    }
    out.update(c.extra)
    return out


# A page of the feed holds at least this many reels when the candidates have them: they fill the web
# client's reels strip, which a new reel (no plays yet) would otherwise rarely reach on a busy feed.
REEL_SLOTS = 3


def top_order(
    scores: np.ndarray,
    ids: np.ndarray,
    limit: int,
    reels: np.ndarray | None = None,
    reel_slots: int = REEL_SLOTS,
) -> np.ndarray:
    """Indexes of the best ``limit`` scores, ties to the newest id (a stable sort: then the feed order).
    With ``reels`` (a mask), the best reels replace the lowest-ranked other items until the page holds
    ``reel_slots`` of them (or every reel there is); the page stays in score order."""
    order = np.lexsort((-ids, -scores))
    top = order[:limit]
    if reels is None or limit <= reel_slots:
        return top
    missing = min(reel_slots, int(reels.sum())) - int(reels[top].sum())
    if missing <= 0:
        return top
    extra = order[limit:][reels[order[limit:]]][:missing]
    others = np.flatnonzero(~reels[top])
    dropped = set(others[len(others) - len(extra) :].tolist())
    kept = np.array([i for p, i in enumerate(top.tolist()) if p not in dropped], dtype=order.dtype)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    chosen = np.concatenate([kept, extra])
    return chosen[np.argsort(rank[chosen], kind="stable")]


def user_vector(raw: dict, dim: int) -> np.ndarray | None:
    """The user embedding from its Redis hash (None when the user has none yet)."""
    if not raw:
        return None
    vec = np.zeros(dim)
    for k, v in raw.items():
        vec[int(k)] = float(v)
    return vec


_HOUR_FIELDS = [f"hour:{b}".encode() for b in range(HOUR_BUCKETS)]


def affinities(raw: dict, items: list[Item]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The user's affinity (``keys.affinity``, as Redis returned it: bytes to bytes) with each item, with
    each item's club, and per hour bucket. A user may have engaged with thousands of items: looked up per
    candidate with C-level ``dict.get`` rather than decoding every field."""

    def weights(values: list) -> np.ndarray:
        return np.array([float(v) if v else 0.0 for v in values], dtype=np.float64)

    get = raw.get
    item = weights(list(map(get, [it.key_b for it in items])))
    club = weights(list(map(get, [it.club_key_b for it in items])))
    return item, club, weights(list(map(get, _HOUR_FIELDS)))


@dataclass
class _EmbeddingRows:
    version: int
    index: dict[str, int]
    padded: np.ndarray  # the model's item vectors and a zero row last: index -1 is "no embedding"

    @classmethod
    def of(cls, model: RankerModel) -> _EmbeddingRows:
        emb = model.embeddings
        zero = np.zeros((1, emb.vectors.shape[1]))
        return cls(model.version, emb.index, np.vstack([emb.vectors, zero]))


class FeedServer:
    """Feeds for one process (a ranker actor).

    Per feed: the candidate query (PostgreSQL) and the user's signals (one Redis pipeline) concurrently.
    Shared, global data is kept here with bounds; nothing about the user is (memberships and bans are
    read by the candidate query itself, on every feed):
    - ``catalog``: the items' static facts, checked against each row's version on every feed, at most
      ``catalog_max`` items, with per-item columns the features gather from by slot (``Catalog.cols``);
    - the trending list (``MAX_TRENDING`` keys), at most ``shared_ttl_s`` old;
    - decayed popularity of the catalog's items and their clubs (so at most twice the catalog's size),
      at most ``shared_ttl_s`` old, re-read by the feed that finds it older (in its own pipeline, no extra
      round trip); an item new to the catalog has its popularity read when first served. Each item's
      values are copied into its catalog columns once per refresh;
    - each item's rows in the served model's embeddings, in its catalog columns, looked up once per
      item and model version.
    """

    def __init__(self, redis, db, *, shared_ttl_s: float = 1.0, catalog_max: int = 20_000) -> None:
        self.redis = redis
        self.db = db  # an asyncpg pool (None: Tortoise's connection)
        self.shared_ttl_s = shared_ttl_s
        self.catalog = Catalog(catalog_max)
        self._trending: list[str] = []
        self._trending_at = -math.inf
        self._pop: dict[str, float] = {}
        self._pop_at = -math.inf
        self._pop_gen = 0  # bumped by each refresh: the catalog's popularity columns older than it are stale
        self._emb: _EmbeddingRows | None = None

    async def trending(self) -> list[str]:
        if time.monotonic() - self._trending_at > self.shared_ttl_s:
            self._trending_at = time.monotonic()  # one refresh at a time
            self._trending = await trending_keys(self.redis)
        return self._trending

    def _popularity_keys(self) -> list[str] | None:
        """The keys to re-read popularity for, when the cached values are too old."""
        if time.monotonic() - self._pop_at <= self.shared_ttl_s:
            return None
        self._pop_at = time.monotonic()
        wanted: set[str] = set()
        for it in self.catalog.live():
            wanted.add(it.key)
            wanted.add(it.club_key)
        return sorted(wanted)

    async def _signals(self, user_id: int, model: RankerModel | None, pop_keys: list[str] | None) -> list:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.affinity(user_id))
            if model is not None:
                pipe.hgetall(keys.user_embedding(model.version, user_id))
            if pop_keys:
                pipe.hmget(keys.POPULARITY, pop_keys)
            return await pipe.execute()

    def _set_popularity(self, pop_keys: list[str], values: list) -> None:
        self._pop = {k: float(v) for k, v in zip(pop_keys, values, strict=True) if v}
        self._pop_gen += 1

    def _stale_popularity(self, slots: np.ndarray) -> tuple[np.ndarray, list[Item]]:
        cols = self.catalog.cols
        stale = np.unique(slots[cols["pop_gen"][slots] != self._pop_gen])
        return stale, [self.catalog.by_slot[s] for s in stale.tolist()]

    async def _read_popularity(self, slots: np.ndarray) -> None:
        """Items new to this process (or without any popularity yet) have theirs read now, kept until
        the refresh."""
        _, items = self._stale_popularity(slots)
        pop = self._pop
        unread = [k for k in {*(it.key for it in items), *(it.club_key for it in items)} if k not in pop]
        if unread:
            values = await self.redis.hmget(keys.POPULARITY, unread)
            pop.update((k, float(v) if v else 0.0) for k, v in zip(unread, values, strict=True))

    def _write_popularity(self, slots: np.ndarray) -> None:
        """The catalog's popularity columns of ``slots``, current as of the last refresh."""
        stale, items = self._stale_popularity(slots)
        if not items:
            return
        pop, cols = self._pop, self.catalog.cols
        cols["item_pop"][stale] = [pop.get(it.key, 0.0) for it in items]
        cols["club_pop"][stale] = [pop.get(it.club_key, 0.0) for it in items]
        cols["pop_gen"][stale] = self._pop_gen

    def _embedding_rows(self, model: RankerModel, slots: np.ndarray) -> _EmbeddingRows:
        emb = self._emb
        if emb is None or emb.version != model.version:
            emb = self._emb = _EmbeddingRows.of(model)
        cols = self.catalog.cols
        stale = slots[cols["emb_ver"][slots] != model.version]
        if len(stale):
            stale = np.unique(stale)
            items = [self.catalog.by_slot[s] for s in stale.tolist()]
            cols["emb_row"][stale] = [emb.index.get(it.key, -1) for it in items]
            cols["club_emb_row"][stale] = [emb.index.get(it.club_key, -1) for it in items]
            cols["emb_ver"][stale] = model.version
        return emb

    async def inputs(self, user_id: int, model: RankerModel | None, now: float) -> tuple[Feed, Inputs]:
        top = await self.trending()
        pop_keys = self._popularity_keys()
        feed, replies = await asyncio.gather(
            feed_candidates(self.db, user_id, datetime.fromtimestamp(now, UTC), self.catalog, top),
            self._signals(user_id, model, pop_keys),
        )
        if pop_keys:
            self._set_popularity(pop_keys, replies[-1])
        await self._read_popularity(feed.slots)
        # From here to the return: no await, so no other feed changes the catalog meanwhile.
        feed = self.catalog.current(feed)
        slots = feed.slots
        self._write_popularity(slots)
        cols = self.catalog.cols
        item_aff, club_aff, hours = affinities(replies[0], feed.items)
        user_vec = item_vecs = club_vecs = None
        if model is not None:
            emb = self._embedding_rows(model, slots)
            user_vec = user_vector(replies[1], emb.padded.shape[1])
            item_vecs, club_vecs = emb.padded[cols["emb_row"][slots]], emb.padded[cols["club_emb_row"][slots]]
        created = cols["created"][slots]
        x = Inputs(
            now=now,
            type_code=cols["type_code"][slots],
            item_pop=cols["item_pop"][slots],
            club_pop=cols["club_pop"][slots],
            user_item_aff=item_aff,
            user_club_aff=club_aff,
            hour_weights=hours,
            start_bucket=cols["bucket"][slots],
            starts_at=cols["starts"][slots],
            created_at=np.where(np.isnan(created), now, created),
            member=feed.member,
            co_going=feed.co_going_n,
            user_vec=user_vec,
            item_vecs=item_vecs,
            club_vecs=club_vecs,
        )
        return feed, x

    async def feed(
        self, user_id: int, model: RankerModel | None, limit: int, now: float
    ) -> tuple[list[dict], int]:
        """The top ``limit`` candidates with a score and a reason (by the model when there is one), and
        how many candidates there were."""
        feed, x = await self.inputs(user_id, model, now)
        items = feed.items
        if not items:
            return [], 0
        ids = self.catalog.cols["id"][feed.slots]
        reels = self.catalog.cols["type_code"][feed.slots] == REEL
        if model is None:
            scores = popularity_scores(x)
            order = top_order(scores, ids, limit, reels)
            out = [
                item_out(
                    items[i],
                    scores[i],
                    popularity_reason(items[i].type, items[i].club_name, bool(feed.member[i]), scores[i]),
                )
                for i in order
            ]
            return out, len(items)
        rows = feature_matrix(x)
        scores = model.predict(rows)
        order = top_order(scores, ids, limit, reels)
        shown = order.tolist()
        said = []
        for i in shown:
            it = items[i]
            co_id = feed.co_club.get(it.id) if it.type_code == EVENT else None
            co = feed.club_names.get(co_id) if co_id is not None else None
            said.append(sayings(it.type, it.club_name, bool(feed.member[i]), rows[i], co, it.bucket))
        reasons = explain(model, rows, shown, scores, said)
        out = []
        for i, why in zip(shown, reasons, strict=True):
            it = items[i]
            why = why or fallback(it.type, it.club_name, bool(feed.member[i]))
            out.append(item_out(it, scores[i], why))
        return out, len(items)
