"""The personalized feed: ranked by the user's ranker actor (events, rooms and clubs with a score and a
reason); what it learns from arrives through ``actions.interactions``.

The ranker's ``reason`` is a sentence; the gateway adds the facts a client words its own reason from (and
shows on the card): whether the caller belongs to the item's club, how many are going to an event and how
many of them the caller knows from a club (the club with most of them named), a club's member count and how
many of its members share a club with the caller; a reel's caption, author and video (as ``GET /reels/{id}``
shows them). One query per fact for the whole page, all at once.
"""

from __future__ import annotations

import asyncio

from tortoise import connections

from actors.client import ActorClient

from .events import rsvp_counts
from .reels import reels_payload

MY_CLUBS_SQL = "SELECT club_id FROM memberships WHERE user_id = $1"

# Per event: the caller's club with the most other members going, and how many.
FRIENDS_GOING_SQL = """
            SELECT DISTINCT ON (r.event_id) r.event_id, c.name AS club_name, count(*) AS n
            FROM rsvps r
            JOIN memberships m ON m.user_id = r.user_id
            JOIN clubs c ON c.id = m.club_id
            WHERE r.event_id = ANY($1::bigint[]) AND r.status = 'going' AND r.user_id <> $2
              AND m.club_id IN (SELECT club_id FROM memberships WHERE user_id = $2)
            GROUP BY r.event_id, m.club_id, c.name
            ORDER BY r.event_id, count(*) DESC, m.club_id
"""

# Per club: its member count, and how many of its members share another club with the caller.
CLUB_MEMBERS_SQL = """
            SELECT m.club_id, count(*) AS members,
                   count(*) FILTER (WHERE m.user_id <> $2 AND EXISTS (
                       SELECT 1 FROM memberships o
                       WHERE o.user_id = m.user_id
                         AND o.club_id IN (SELECT club_id FROM memberships WHERE user_id = $2))) AS known
            FROM memberships m WHERE m.club_id = ANY($1::bigint[]) GROUP BY m.club_id
"""


async def feed(actors: ActorClient, user_id: int, limit: int) -> dict:
    out = await actors.feed(user_id, limit)
    items = out.get("items") or []
    await add_facts(items, user_id)
    # A reel deleted after the ranker read its candidates has no payload: it is not served.
    out["items"] = [i for i in items if i.get("type") != "reel" or "media" in i]
    return out


async def add_facts(items: list[dict], user_id: int) -> None:
    """Adds ``member``, and for events ``going``, ``my_rsvp``, ``friends_going``, ``friends_club``, for clubs
    ``member_count`` and ``friends_members``, for reels ``caption``, ``author`` and ``media`` (none for a reel
    deleted since), to each feed item (in place)."""
    if not items:
        return
    conn = connections.get("default")
    events = [i["id"] for i in items if i.get("type") == "event"]
    clubs = [i["id"] for i in items if i.get("type") == "club"]
    reels = [i["id"] for i in items if i.get("type") == "reel"]

    async def rows(sql: str, args: list, wanted: list) -> list[dict]:
        return await conn.execute_query_dict(sql, args) if wanted else []

    # Independent reads: concurrently, each on a pooled connection (one round trip of wall time, not four).
    mine_rows, counts, friend_rows, member_rows, reel_rows = await asyncio.gather(
        conn.execute_query_dict(MY_CLUBS_SQL, [user_id]),
        rsvp_counts(events, user_id),
        rows(FRIENDS_GOING_SQL, [events, user_id], events),
        rows(CLUB_MEMBERS_SQL, [clubs, user_id], clubs),
        reels_payload(reels),
    )
    mine = {r["club_id"] for r in mine_rows}
    friends = {r["event_id"]: r for r in friend_rows}
    members = {r["club_id"]: r for r in member_rows}
    for item in items:
        club_id = item["id"] if item.get("type") == "club" else item.get("club_id")
        item["member"] = club_id in mine
        if item.get("type") == "event":
            going, _, my_status = counts.get(item["id"], (0, 0, None))
            f = friends.get(item["id"])
            item.update(
                going=going,
                my_rsvp=my_status,
                friends_going=int(f["n"]) if f else 0,
                friends_club=f["club_name"] if f else None,
            )
        elif item.get("type") == "club":
            m = members.get(item["id"])
            item.update(
                member_count=int(m["members"]) if m else 0, friends_members=int(m["known"]) if m else 0
            )
        elif item.get("type") == "reel" and item["id"] in reel_rows:
            r = reel_rows[item["id"]]
            item.update(caption=r["caption"], author=r["author"], media=r["media"])
