"""REST transport for reels: post a ready video to a club, read one, delete one."""

from __future__ import annotations

from aiohttp import web

from gateway.core.tokens import AccessClaims
from gateway.schemas.reels import ReelCreatedOut, ReelIn, ReelOut

from .api import Api
from .keys import REELS

api = Api()


@api.route(
    "POST",
    "/clubs/{club_id}/reels",
    summary="Post a reel (a member): one of the caller's own ready videos, not attached to a message nor "
    "already a reel, with a caption of up to 500 characters",
    body=ReelIn,
    response=ReelCreatedOut,
    status=201,
    tags=("reels",),
    errors=("conflict", "forbidden", "invalid", "not_found"),
)
async def create_reel(
    request: web.Request, claims: AccessClaims, club_id: int, body: ReelIn
) -> web.StreamResponse:
    out = await request.app[REELS].create(club_id, claims.user_id, body.media_id, body.caption)
    return web.json_response(out, status=201)


@api.route(
    "GET",
    "/reels/{reel_id}",
    summary="A reel (whoever may see its club): its author, caption and video",
    response=ReelOut,
    tags=("reels",),
    errors=("not_found",),
)
async def get_reel(request: web.Request, claims: AccessClaims, reel_id: int) -> dict:
    return await request.app[REELS].get(reel_id, claims.user_id)


@api.route(
    "DELETE",
    "/reels/{reel_id}",
    summary="Delete a reel (its author, or a moderator of its club): it is never served again",
    status=204,
    tags=("reels",),
    errors=("forbidden", "not_found"),
)
async def delete_reel(request: web.Request, claims: AccessClaims, reel_id: int) -> None:
    await request.app[REELS].delete(reel_id, claims.user_id)
