"""REST transport for chat: message history and unread counts (same actions as Socket.IO)."""
from __future__ import annotations

import ray
from aiohttp import web

from .api import Api
from .chat import Chat
from .errors import STATUS_BY_CODE, ApiError
from .schemas import AcceptedOut, FeedOut, FeedQuery, HistoryQuery, InteractionsIn, MessagesOut
from .tokens import AccessClaims
from .visibility import visible_room

CHAT = web.AppKey("chat", Chat)

api = Api()


def _raise_for(result: dict) -> None:
    if not result.get("ok"):
        err = result["error"]
        raise ApiError(err["code"], err["message"], status=STATUS_BY_CODE.get(err["code"], 400))


@api.route("GET", "/rooms/{room_id}/messages", summary="A page of a room's messages, ascending seq",
           query=HistoryQuery, response=MessagesOut, tags=("chat",), errors=("forbidden", "not_found", "unavailable"))
async def room_messages(request: web.Request, claims: AccessClaims, room_id: int, query: HistoryQuery) -> dict:
    await visible_room(room_id, claims.user_id)  # a private club's room does not exist for outsiders
    result = await request.app[CHAT].history(claims.user_id, room_id, query.before_seq, query.after_seq, query.limit)
    _raise_for(result)
    return {"messages": result["messages"]}


@api.route("GET", "/me/unread", summary="Unread message count per room of the user's clubs: {room_id: count}",
           tags=("chat",))
async def unread(request: web.Request, claims: AccessClaims) -> dict:
    return await request.app[CHAT].unread(claims.user_id)


@api.route("POST", "/interactions", summary="Log impressions, clicks and dwell on items the caller can see "
           "(a batch of up to 200, 60 batches a minute)", body=InteractionsIn, response=AcceptedOut, status=202,
           tags=("feed",), errors=("not_found", "rate_limited"))
async def post_interactions(request: web.Request, claims: AccessClaims, body: InteractionsIn) -> dict:
    items = [i.model_dump() for i in body.root]
    return {"accepted": await request.app[CHAT].interactions(claims.user_id, items)}


@api.route("GET", "/feed", summary="The personalized feed: events, rooms and clubs with a score and a reason",
           query=FeedQuery, response=FeedOut, tags=("feed",))
async def feed(request: web.Request, claims: AccessClaims, query: FeedQuery) -> dict:
    try:
        return await request.app[CHAT].ranker(claims.user_id).feed.remote(claims.user_id, query.limit)
    except ray.exceptions.RayError as exc:
        raise ApiError("unavailable", "the feed ranker is not answering, try again", status=503) from exc
