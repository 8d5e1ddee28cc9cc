"""Serving side of the feed: gather ``Inputs`` for one user's candidates from Redis (signals, user
embedding) and PostgreSQL (co-members going), then score them with a model or by popularity."""

from __future__ import annotations

import asyncio
import math
import time

import numpy as np
from tortoise import connections

from storage import keys

from . import signals
from .candidates import Candidate
from .features import HOUR_BUCKETS, TYPES, Inputs, feature_matrix, reason
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


# One thread per prediction: a feed predicts a few hundred rows, where OpenMP's fork/join and spinning
# cost more than they save, and on a shared 2-core machine its threads fight the event loop and the
# stores (560 rows: 8.5 ms with the default threads, 1.9 ms with one, measured on a busy machine).
# Feeds run in parallel on more ranker actors instead (CLUBHUB_RANKERS).
PREDICT_THREADS = 1


def predict(booster, rows: np.ndarray) -> np.ndarray:
    return np.asarray(booster.predict(rows, num_threads=PREDICT_THREADS))


def _epoch(dt) -> float:
    return dt.timestamp() if dt is not None else math.nan


async def co_members_going(user_id: int, my_clubs: list[int], event_ids: list[int]) -> tuple[dict, dict]:
    """{event_id: distinct people sharing a club with the user who are going} and
    {event_id: the user's club with most of them}."""
    if not my_clubs or not event_ids:
        return {}, {}
    conn = connections.get("default")
    (_, per_club), (_, totals) = await asyncio.gather(
        conn.execute_query(_CO_GOING_SQL, [event_ids, my_clubs, user_id]),
        conn.execute_query(_CO_GOING_TOTAL_SQL, [event_ids, my_clubs, user_id]),
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
        read_signals(), co_members_going(user_id, my_clubs, events)
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


def popularity_reason(c: Candidate, popularity: float) -> str:
    where = (
        "in your club " + c.club_name
        if c.member
        else f"from {c.club_name}"
        if c.type != "club"
        else "to join"
    )
    trend = "popular right now" if popularity > 0 else "new"
    return f"A {trend} {c.type} {where} — ranked by popularity until your personal ranking model is trained"


def attributions(booster, rows: np.ndarray, order: list[int], scores: np.ndarray) -> np.ndarray:
    """How much each feature lifts each shown item: its score minus the score with that one feature set to
    the median over the user's candidates (what a typical item for this user looks like) — one batched
    prediction of k×F rows. LightGBM's exact per-feature contributions (TreeSHAP) cost ~0.6 ms per row
    with a few hundred trees; this costs ~2 µs per row and names the same standout feature."""
    if not order:
        return np.zeros((0, rows.shape[1]))
    top = rows[order]
    k, f = top.shape
    typical = np.median(rows, axis=0)
    probe = np.repeat(top, f, axis=0)
    idx = np.arange(k * f)
    probe[idx, idx % f] = typical[idx % f]
    without = predict(booster, probe).reshape(k, f)
    return scores[order][:, None] - without


def item_out(c: Candidate, score: float, why: str) -> dict:
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


async def rank(
    redis,
    user_id: int,
    candidates: list[Candidate],
    my_clubs: list[int],
    club_names: dict[int, str],
    model: RankerModel | None,
    limit: int,
    now: float | None = None,
) -> list[dict]:
    """The top ``limit`` candidates with a score and a reason; by the model when there is one."""
    if not candidates:
        return []
    now = now or time.time()
    x, co_club = await serving_inputs(redis, user_id, candidates, my_clubs, model, now)
    if model is None:
        scores = popularity_scores(x)
        order = sorted(range(len(candidates)), key=lambda i: (-scores[i], -candidates[i].id))[:limit]
        return [
            item_out(candidates[i], scores[i], popularity_reason(candidates[i], scores[i])) for i in order
        ]
    rows = feature_matrix(x)
    scores = predict(model.booster, rows)
    order = sorted(range(len(candidates)), key=lambda i: (-scores[i], -candidates[i].id))[:limit]
    contributions = attributions(model.booster, rows, order, scores)
    out = []
    for j, i in enumerate(order):
        c = candidates[i]
        co_id = co_club.get(c.id) if c.type == "event" else None
        co = club_names.get(co_id) if co_id is not None else None
        why = reason(c.type, c.club_name, c.member, rows[i], contributions[j], co, int(x.start_bucket[i]))
        out.append(item_out(c, scores[i], why))
    return out
