"""Online signals from interactions: time-decayed item popularity, user×club / user×item affinity, the
user's time-of-day profile and the user embedding.

Decay without read-modify-write: a weight w at time t is stored as ``w · exp(λ·(t − EPOCH))``, so every
update is a plain addition (Redis ``HINCRBYFLOAT``) and the decayed value at time ``now`` is the stored sum
times ``exp(−λ·(now − EPOCH))``. With a 3-day half-life the stored numbers stay far inside float range for
decades.

The user embedding is the same kind of sum: the anchored weights times the (unit) embeddings of the items
the user engaged with. Its direction is all the feed uses (cosine similarity), and decay scales every
dimension alike, so it too is updated by additions alone. Item embeddings belong to a model version, so
user embeddings are kept per version (``storage.keys.user_embedding``): the consumer rebuilds them from
the stored interactions when a version appears, then adds each new interaction's share.

``increments`` is the one definition of what an interaction adds; the consumer actor applies it to Redis
and ``ranking.dataset`` replays the same arithmetic over stored interactions for training.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from storage import keys

HALF_LIFE_S = 3 * 24 * 3600.0
DECAY = math.log(2) / HALF_LIFE_S
EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z

# Client kinds (the contract) and server-only kinds (a message written, a live session attended).
KIND_WEIGHT = {
    "impression": 0.05,
    "click": 1.0,
    "dwell": 0.0,
    "rsvp": 4.0,
    "join": 4.0,
    "message": 0.5,
    "attend": 3.0,
    # Reels (client kinds): a play is a tap, barely more than an impression; how long it was watched says
    # the rest (``weight``); a skip adds nothing.
    "play": 0.1,
    "watch": 0.0,
    "complete": 2.0,
    "skip": 0.0,
}
REEL_KINDS = ("play", "watch", "complete", "skip")
WATCH_MS_PER_CLICK = 20_000.0  # 20 s of a reel watched is worth a click
WATCH_CAP = 2.0  # ... and a long watch at most a completed reel
HOUR_BUCKETS = 6  # 4-hour buckets of an event's start (UTC)


def weight(kind: str, dwell_ms: int | None, watch_ms: int | None = None) -> float:
    """What one interaction adds to the online signals. It needs no item facts (a reel's duration): the
    consumer applies it as interactions arrive and a model switch replays it from Parquet alone; labels,
    which judge the watched fraction, are computed offline where durations are at hand
    (``ranking.dataset.labels``)."""
    if kind == "dwell":
        return min((dwell_ms or 0) / 30_000.0, 3.0)  # 30 s of reading is worth a click, capped at 3
    if kind == "watch":
        return min((watch_ms or 0) / WATCH_MS_PER_CLICK, WATCH_CAP)
    return KIND_WEIGHT[kind]


def anchored(w: float, ts: float) -> float:
    return w * math.exp(DECAY * (ts - EPOCH))


def decay_factor(now: float) -> float:
    return math.exp(-DECAY * (now - EPOCH))


def decayed(stored: float, now: float) -> float:
    return stored * decay_factor(now)


def item_key(item_type: str, item_id: int) -> str:
    return f"{item_type}:{item_id}"


def hour_bucket(epoch_s: float) -> int:
    return int((epoch_s % 86400) // (86400 // HOUR_BUCKETS))


def increments(
    user_id: int,
    item_type: str,
    item_id: int,
    kind: str,
    dwell_ms: int | None,
    ts: float,
    club_id: int | None,
    start_bucket: int | None,
    emb: tuple[int, Sequence[float]] | None,
    watch_ms: int | None = None,
) -> list[tuple[str, str, float]]:
    """What one interaction adds, as (hash, field, increment) triples.

    ``club_id`` is the item's club, ``start_bucket`` an event's start hour bucket, ``emb`` the current
    model version and the item's unit embedding (None before any model or for an unknown item)."""
    w = anchored(weight(kind, dwell_ms, watch_ms), ts)
    if w == 0.0:
        return []
    key = item_key(item_type, item_id)
    aff = keys.affinity(user_id)
    out = [(keys.POPULARITY, key, w), (aff, key, w)]
    if club_id is not None and item_type != "club":
        out.append((aff, f"club:{club_id}", w))
    if start_bucket is not None:
        out.append((aff, f"hour:{start_bucket}", w))
    if emb is not None:
        version, vec = emb
        uk = keys.user_embedding(version, user_id)
        out += [(uk, str(i), w * float(x)) for i, x in enumerate(vec)]
    return out
