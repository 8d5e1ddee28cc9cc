"""REST transport for message search."""

from __future__ import annotations

from aiohttp import web

from gateway.core.tokens import AccessClaims
from gateway.schemas.search import SearchOut, SearchQuery

from .api import Api
from .keys import SEARCH

api = Api()


@api.route(
    "GET",
    "/search/messages",
    summary="Full-text search over the messages of every room the caller may read now, best match first, "
    "paged by cursor",
    query=SearchQuery,
    response=SearchOut,
    tags=("search",),
    errors=("forbidden", "not_found", "unavailable"),
)
async def search_messages(request: web.Request, claims: AccessClaims, query: SearchQuery) -> dict:
    return await request.app[SEARCH].messages(
        claims.user_id, query.q, query.club_id, query.room_id, query.limit, query.cursor
    )
