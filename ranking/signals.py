"""Online signals from interactions: time-decayed item popularity and user×club / user×item affinity.

Decay without read-modify-write: a weight w at time t is stored as ``w · exp(λ·(t − EPOCH))``, so every
update is a plain addition (Redis ``HINCRBYFLOAT``) and the decayed value at time ``now`` is the stored sum
times ``exp(−λ·(now − EPOCH))``. With a 3-day half-life the stored numbers stay far inside float range for
decades.
"""
from __future__ import annotations

import math

HALF_LIFE_S = 3 * 24 * 3600.0
DECAY = math.log(2) / HALF_LIFE_S
EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z

KIND_WEIGHT = {"impression": 0.05, "click": 1.0, "dwell": 0.0, "rsvp": 4.0, "join": 4.0}
POPULARITY_KEY = "clubhub:pop"
AFFINITY_KEY = "clubhub:aff:"      # + user_id -> {"club:<id>" | "<item_type>:<id>": anchored weight}
APPLIED_KEY = "clubhub:applied:"   # + UTC day -> interaction ids already counted (exactly-once effect)


def weight(kind: str, dwell_ms: int | None) -> float:
    if kind == "dwell":
        return min((dwell_ms or 0) / 30_000.0, 3.0)  # 30 s of reading is worth a click, capped at 3
    return KIND_WEIGHT[kind]


def anchored(w: float, ts: float) -> float:
    return w * math.exp(DECAY * (ts - EPOCH))


def decayed(stored: float, now: float) -> float:
    return stored * math.exp(-DECAY * (now - EPOCH))


def item_key(item_type: str, item_id: int) -> str:
    return f"{item_type}:{item_id}"
