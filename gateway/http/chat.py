"""REST transport for chat and the feed: message history (the action ``message:history`` uses too), unread
counts, interactions and the feed."""

from __future__ import annotations

from aiohttp import web

from gateway.actions import feed as feed_actions
from gateway.core.tokens import AccessClaims
from gateway.schemas.chat import HistoryQuery, MessagesOut
from gateway.schemas.feed import AcceptedOut, FeedOut, FeedQuery, InteractionsIn

from .api import Api
from .keys import ACTORS, CHAT, INTERACTIONS

api = Api()


@api.route(
    "GET",
    "/rooms/{room_id}/messages",
    summary="A page of a room's messages, ascending seq",
    query=HistoryQuery,
    response=MessagesOut,
    tags=("chat",),
    errors=("forbidden", "not_found", "unavailable"),
)
async def room_messages(
    request: web.Request, claims: AccessClaims, room_id: int, query: HistoryQuery
) -> dict:
    chat = request.app[CHAT]
    await chat.room_access(claims.user_id, room_id)  # a private club's room does not exist for outsiders
    result = await chat.history(claims.user_id, room_id, query.before_seq, query.after_seq, query.limit)
    return {"messages": result["messages"]}


@api.route(
    "GET",
    "/me/unread",
    summary="Unread message count per room of the user's clubs: {room_id: count}",
    tags=("chat",),
)
async def unread(request: web.Request, claims: AccessClaims) -> dict:
    return await request.app[CHAT].unread(claims.user_id)


@api.route(
    "POST",
    "/interactions",
    summary="Log impressions, clicks and dwell on items the caller can see "
    "(a batch of up to 200, 60 batches a minute)",
    body=InteractionsIn,
    response=AcceptedOut,
    status=202,
    tags=("feed",),
    errors=("not_found", "rate_limited"),
)
async def post_interactions(request: web.Request, claims: AccessClaims, body: InteractionsIn) -> dict:
    items = [i.model_dump() for i in body.root]
    return {"accepted": await request.app[INTERACTIONS].record(claims.user_id, items)}


@api.route(
    "GET",
    "/feed",
    summary="The personalized feed: events, rooms and clubs with a score and a reason",
    query=FeedQuery,
    response=FeedOut,
    tags=("feed",),
)
async def feed(request: web.Request, claims: AccessClaims, query: FeedQuery) -> dict:
    return await feed_actions.feed(request.app[ACTORS], claims.user_id, query.limit)
