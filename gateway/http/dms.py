"""REST transport for direct messages: opening one (idempotent for the same people) and the caller's list.
Everything else about a DM (joining, sending, history, pins) is the chat of any room."""

from __future__ import annotations

from aiohttp import web

from gateway.core.tokens import AccessClaims
from gateway.schemas.chat import DmOpenIn, DmOut, DmsOut

from .api import Api
from .keys import DMS

api = Api()


@api.route(
    "POST",
    "/dms",
    summary="Open the DM room of the caller and 1-9 others: the same people always get the same room "
    "(201 when made now, 200 when it existed)",
    body=DmOpenIn,
    response=DmOut,
    status=201,
    tags=("dms",),
    errors=("forbidden", "not_found"),
)
async def open_dm(request: web.Request, claims: AccessClaims, body: DmOpenIn) -> web.StreamResponse:
    out, created = await request.app[DMS].open(claims.user_id, body.user_ids)
    return web.json_response(out, status=201 if created else 200)


@api.route(
    "GET",
    "/dms",
    summary="The caller's DM rooms with their people and last message, newest activity first",
    response=DmsOut,
    tags=("dms",),
)
async def list_dms(request: web.Request, claims: AccessClaims) -> dict:
    return await request.app[DMS].list(claims.user_id)
