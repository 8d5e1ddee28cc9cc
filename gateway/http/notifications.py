"""REST transport for notifications: the inbox, marking read, per-room notification levels."""

from __future__ import annotations

from aiohttp import web

from gateway.core.tokens import AccessClaims
from gateway.schemas.notifications import LevelIn, LevelOut, NotificationsOut, NotificationsQuery, ReadIn

from .api import Api
from .keys import NOTIFICATIONS

api = Api()


@api.route(
    "GET",
    "/notifications",
    summary="The caller's notifications, newest first, paged by cursor",
    query=NotificationsQuery,
    response=NotificationsOut,
    tags=("notifications",),
)
async def inbox(request: web.Request, claims: AccessClaims, query: NotificationsQuery) -> dict:
    return await request.app[NOTIFICATIONS].inbox(claims.user_id, query.cursor, query.limit, query.unread)


@api.route(
    "POST",
    "/notifications/read",
    summary="Mark notifications read ({ids} or {all: true}); the caller's other devices are told",
    body=ReadIn,
    status=204,
    tags=("notifications",),
)
async def read(request: web.Request, claims: AccessClaims, body: ReadIn) -> None:
    await request.app[NOTIFICATIONS].read(claims.user_id, None if body.all else body.ids)


@api.route(
    "GET",
    "/rooms/{room_id}/notifications",
    summary="The caller's notification level for a room (all, mentions or none)",
    response=LevelOut,
    tags=("notifications",),
    errors=("forbidden", "not_found"),
)
async def level(request: web.Request, claims: AccessClaims, room_id: int) -> dict:
    return await request.app[NOTIFICATIONS].level(claims.user_id, room_id)


@api.route(
    "PATCH",
    "/rooms/{room_id}/notifications",
    summary="Set the caller's notification level for a room (none mutes even mentions)",
    body=LevelIn,
    response=LevelOut,
    tags=("notifications",),
    errors=("forbidden", "not_found"),
)
async def set_level(request: web.Request, claims: AccessClaims, room_id: int, body: LevelIn) -> dict:
    return await request.app[NOTIFICATIONS].set_level(claims.user_id, room_id, body.level)
