"""The feed's features: one function, ``feature_matrix``, used by training and by serving.

Both sides gather the same raw inputs — anchored signal sums (see ``ranking.signals``), embeddings, item
times, membership and co-members going — into ``Inputs``; everything derived from them (decay to ``now``,
logs, cosine similarity, time to start) happens here, once. Training gathers the inputs by replaying stored
interactions up to a cutoff (``ranking.dataset``); serving reads them from Redis and PostgreSQL
(``ranking.serve``). ``tests/test_ranking.py`` checks both give the same matrix for the same moment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .signals import HOUR_BUCKETS, decay_factor

TYPES = ("event", "room", "club", "reel")
FEATURES = [
    "is_event",
    "is_room",
    "is_club",
    "emb_sim",  # cosine(user embedding, item embedding)
    "club_emb_sim",  # cosine(user embedding, the item's club's embedding)
    "log_item_popularity",  # decayed popularity of the item
    "log_club_popularity",  # decayed popularity of the item's club
    "log_user_item_affinity",  # the user's own decayed engagement with the item
    "log_user_club_affinity",  # ... with the item's club (its events and rooms included)
    "hour_share",  # share of the user's event engagement in this event's start-hour bucket
    "hours_to_start",  # events: hours until start (clipped to 30 days); others -1
    "item_age_days",
    "member",  # the user belongs to the item's club
    "co_members_going",  # people sharing a club with the user who are going to the event
    "log_user_event_activity",  # how much the user engages with events at all (scales the above)
    # Last, not next to the other types: a model trained before reels names the 15 features above, and
    # ``RankerModel.predict`` hands it those columns only.
    "is_reel",
]
_TYPE_COLUMNS = [FEATURES.index(f"is_{t}") for t in TYPES]


@dataclass
class Inputs:
    """Raw inputs for one user and n candidates (arrays of length n unless noted)."""

    now: float
    type_code: np.ndarray  # index into TYPES
    item_pop: np.ndarray  # anchored sums
    club_pop: np.ndarray
    user_item_aff: np.ndarray
    user_club_aff: np.ndarray
    hour_weights: np.ndarray  # (HOUR_BUCKETS,) anchored sums of the user's event engagement by start hour
    start_bucket: np.ndarray  # event start hour bucket, -1 for other items
    starts_at: np.ndarray  # epoch seconds, nan for other items
    created_at: np.ndarray  # epoch seconds
    member: np.ndarray  # bool
    co_going: np.ndarray  # int
    user_vec: np.ndarray | None  # (d,) anchored sum, None without a model or engagement
    item_vecs: np.ndarray | None  # (n, d) unit vectors, zero rows for items without an embedding
    club_vecs: np.ndarray | None


def _log_decayed(anchored_sums: np.ndarray, factor: float) -> np.ndarray:
    return np.log1p(np.maximum(anchored_sums * factor, 0.0))


def _cosine(user_vec: np.ndarray | None, vecs: np.ndarray | None, n: int) -> np.ndarray:
    if user_vec is None or vecs is None:
        return np.zeros(n)
    norm = float(np.linalg.norm(user_vec))
    if norm == 0.0:
        return np.zeros(n)
    return vecs @ (user_vec / norm)  # item vectors are unit (or zero) already


def feature_matrix(x: Inputs) -> np.ndarray:
    n = len(x.type_code)
    f = decay_factor(x.now)
    out = np.zeros((n, len(FEATURES)), dtype=np.float64)
    for i, col in enumerate(_TYPE_COLUMNS):
        out[:, col] = x.type_code == i
    out[:, 3] = _cosine(x.user_vec, x.item_vecs, n)
    out[:, 4] = _cosine(x.user_vec, x.club_vecs, n)
    out[:, 5] = _log_decayed(x.item_pop, f)
    out[:, 6] = _log_decayed(x.club_pop, f)
    out[:, 7] = _log_decayed(x.user_item_aff, f)
    out[:, 8] = _log_decayed(x.user_club_aff, f)
    hours = np.maximum(x.hour_weights, 0.0)
    total = float(hours.sum())
    is_event = x.start_bucket >= 0
    if total > 0:
        share = hours[np.clip(x.start_bucket, 0, HOUR_BUCKETS - 1)] / total
        out[:, 9] = np.where(is_event, share, 0.0)
    out[:, 10] = np.where(is_event, np.clip((x.starts_at - x.now) / 3600.0, 0.0, 720.0), -1.0)
    out[:, 11] = np.maximum((x.now - x.created_at) / 86400.0, 0.0)
    out[:, 12] = x.member
    out[:, 13] = x.co_going
    out[:, 14] = np.log1p(total * f)
    return out


# -- human reasons ------------------------------------------------------------------------------------
def reason(
    item_type: str,
    club_name: str,
    member: bool,
    row: np.ndarray,
    contributions: np.ndarray | None,
    co_club: str | None,
    start_bucket: int,
) -> str:
    """The sentence a person sees: of the features that can be said of this item (``sayings``), the one
    that lifted it most (``contributions``, per feature: see ``ranking.serve.explain``); the first one
    without contributions."""
    said = sayings(item_type, club_name, member, row, co_club, start_bucket)
    if contributions is None:
        return next(iter(said.values()), None) or fallback(item_type, club_name, member)
    return said_most(said, {i: float(contributions[i]) for i in said}) or fallback(
        item_type, club_name, member
    )


_EMB, _CLUB_EMB, _ITEM_POP, _CLUB_POP, _ITEM_AFF, _CLUB_AFF, _HOUR, _TO_START, _AGE, _MEMBER, _CO = (
    FEATURES.index(name)
    for name in (
        "emb_sim",
        "club_emb_sim",
        "log_item_popularity",
        "log_club_popularity",
        "log_user_item_affinity",
        "log_user_club_affinity",
        "hour_share",
        "hours_to_start",
        "item_age_days",
        "member",
        "co_members_going",
    )
)


def sayings(
    item_type: str, club_name: str, member: bool, row: np.ndarray, co_club: str | None, start_bucket: int
) -> dict[int, str]:
    """{feature index: the sentence it gives this item}, in feature order, for the features whose value
    here says something (most say nothing for most items: only these need a contribution). Straight-line
    checks on the row as Python floats: a feed says this of 20 items, and a loop over every feature by name
    cost it 0.6 ms."""
    v = row.tolist()
    club = club_name
    out = {}
    if v[_EMB] > 0.3 or v[_CLUB_EMB] > 0.3:
        similar = (
            f"Similar to what you enjoy — {club}"
            if item_type == "club"
            else f"Similar to what you enjoy in {club}"
        )
        if v[_EMB] > 0.3:
            out[_EMB] = similar
        if v[_CLUB_EMB] > 0.3:
            out[_CLUB_EMB] = similar
    if v[_ITEM_POP] > 0:
        # A reel's popularity is its watching, mostly by the club's own people.
        out[_ITEM_POP] = (
            f"Popular with members of {club}" if item_type == "reel" else f"Popular in {club} right now"
        )
    if v[_CLUB_POP] > 0:
        out[_CLUB_POP] = f"Popular in {club} right now"
    if v[_ITEM_AFF] > 0:
        out[_ITEM_AFF] = f"You showed interest in this {item_type}"
    if v[_CLUB_AFF] > 0:
        out[_CLUB_AFF] = f"Because you're active in {club}"
    if v[_HOUR] > 0.25 and start_bucket >= 0:
        span = 24 // HOUR_BUCKETS
        out[_HOUR] = (
            f"At a time you usually join events "
            f"({start_bucket * span:02d}:00–{(start_bucket + 1) * span:02d}:00 UTC)"
        )
    if 0 <= v[_TO_START] <= 48:
        out[_TO_START] = f"Starting soon in {club}"
    if v[_AGE] < 3:
        out[_AGE] = f"New in {club}"
    if v[_MEMBER]:
        out[_MEMBER] = f"From your club {club}"
    if v[_CO] >= 1:
        n = int(v[_CO])
        where = co_club or "your clubs"
        out[_CO] = f"{n} member{'s' if n != 1 else ''} of {where} {'are' if n != 1 else 'is'} going"
    return out


def said_most(said: dict[int, str], lifts: dict[int, float]) -> str | None:
    """The sentence of the feature with the highest positive lift (the first in feature order on a tie)."""
    best = None
    for i in said:
        lift = lifts.get(i, 0.0)
        if lift > 0 and (best is None or lift > lifts[best]):
            best = i
    return said[best] if best is not None else None


def fallback(item_type: str, club: str, member: bool) -> str:
    if item_type == "club":
        return f"A club you might like: {club}"
    return f"From your club {club}" if member else f"From {club}"
