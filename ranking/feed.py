"""Scoring feed candidates. Until a ranker model is trained, the feed is ranked by time-decayed
popularity, and every item's ``reason`` says so."""
from __future__ import annotations

import time

from . import signals
from .candidates import Candidate


async def popularity_scores(redis, candidates: list[Candidate], now: float | None = None) -> list[float]:
    if not candidates:
        return []
    now = now or time.time()
    raw = await redis.hmget(signals.POPULARITY_KEY, [c.key for c in candidates])
    return [signals.decayed(float(v), now) if v else 0.0 for v in raw]


def fallback_reason(c: Candidate, popularity: float) -> str:
    what = {"event": "event", "room": "room", "club": "club"}[c.type]
    where = "in your club " + c.club_name if c.member else f"from {c.club_name}" if c.type != "club" else "to join"
    trend = "popular right now" if popularity > 0 else "new"
    return f"A {trend} {what} {where} — ranked by popularity until your personal ranking model is trained"


def item(c: Candidate, score: float, reason: str) -> dict:
    out = {"type": c.type, "id": c.id, "score": round(score, 6), "reason": reason, "title": c.title,
           "club_id": c.club_id, "club_name": c.club_name}
    out.update(c.extra)
    return out
