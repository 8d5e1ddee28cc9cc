"""The personalized feed: ranked by the user's ranker actor (events, rooms and clubs with a score and a
reason); what it learns from arrives through ``actions.interactions``."""

from __future__ import annotations

from actors.client import ActorClient


async def feed(actors: ActorClient, user_id: int, limit: int) -> dict:
    return await actors.feed(user_id, limit)
