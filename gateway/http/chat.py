"""REST transport for chat and the feed: message history (the action ``message:history`` uses too), unread
counts, interactions and the feed."""

from __future__ import annotations

from aiohttp import web

from gateway.actions import feed as feed_actions
from gateway.core.tokens import AccessClaims
from gateway.schemas.chat import HistoryQuery, MessagesOut, PinIn, PinsOut, ThreadOut, ThreadQuery
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
    "POST",
    "/rooms/{room_id}/pins",
    summary="Pin a message (moderators; in a DM any of its people): members get room:pins",
    body=PinIn,
    status=204,
    tags=("chat",),
    errors=("forbidden", "not_found", "too_large", "unavailable"),
)
async def pin(request: web.Request, claims: AccessClaims, room_id: int, body: PinIn) -> None:
    chat = request.app[CHAT]
    await chat.room_access(claims.user_id, room_id)
    await chat.pin(claims.user_id, room_id, body.seq, True)


@api.route(
    "DELETE",
    "/rooms/{room_id}/pins/{seq}",
    summary="Unpin a message (moderators; in a DM any of its people)",
    status=204,
    tags=("chat",),
    errors=("forbidden", "not_found", "unavailable"),
)
async def unpin(request: web.Request, claims: AccessClaims, room_id: int, seq: int) -> None:
    chat = request.app[CHAT]
    await chat.room_access(claims.user_id, room_id)
    await chat.pin(claims.user_id, room_id, seq, False)


@api.route(
    "GET",
    "/rooms/{room_id}/pins",
    summary="A room's pinned messages, most recently pinned first",
    response=PinsOut,
    tags=("chat",),
    errors=("forbidden", "not_found", "unavailable"),
)
async def pins(request: web.Request, claims: AccessClaims, room_id: int) -> dict:
    chat = request.app[CHAT]
    await chat.room_access(claims.user_id, room_id)
    return await chat.pins(claims.user_id, room_id)


@api.route(
    "GET",
    "/rooms/{room_id}/threads/{root_seq}",
    summary="A thread: its root message and its replies after after_seq, ascending",
    query=ThreadQuery,
    response=ThreadOut,
    tags=("chat",),
    errors=("forbidden", "not_found", "unavailable"),
)
async def thread(
    request: web.Request, claims: AccessClaims, room_id: int, root_seq: int, query: ThreadQuery
) -> dict:
    chat = request.app[CHAT]
    await chat.room_access(claims.user_id, room_id)
    return await chat.thread(claims.user_id, room_id, root_seq, query.after_seq, query.limit)


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
