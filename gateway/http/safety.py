"""REST transport for blocks, reports and auto-moderation settings (thin: ``Safety`` holds the rules)."""

from __future__ import annotations

from aiohttp import web

from gateway.core.tokens import AccessClaims
from gateway.schemas.safety import (
    AutomodIn,
    AutomodOut,
    BlockedOut,
    BlockIn,
    BlocksOut,
    ReportCreatedOut,
    ReportIn,
    ReportOut,
    ReportsOut,
    ReportsQuery,
    ResolveIn,
)

from .api import Api
from .keys import SAFETY

api = Api()


@api.route(
    "GET",
    "/me/blocks",
    summary="The people the caller blocked, newest first",
    response=BlocksOut,
    tags=("safety",),
)
async def list_blocks(request: web.Request, claims: AccessClaims) -> dict:
    return await request.app[SAFETY].blocks(claims.user_id)


@api.route(
    "POST",
    "/me/blocks",
    summary="Block someone: no DMs and no notifications from them; their messages in shared rooms arrive "
    "marked author_blocked (201; 200 when already blocked; at most 1000 blocks)",
    body=BlockIn,
    response=BlockedOut,
    status=201,
    also=(200,),
    tags=("safety",),
    errors=("not_found",),
)
async def block(request: web.Request, claims: AccessClaims, body: BlockIn) -> web.Response:
    new = await request.app[SAFETY].block(claims.user_id, body.user_id)
    return Api.answer({"user_id": body.user_id, "blocked": True}, 201 if new else 200)


@api.route(
    "DELETE",
    "/me/blocks/{user_id}",
    summary="Unblock someone (204 also when they were not blocked)",
    status=204,
    tags=("safety",),
)
async def unblock(request: web.Request, claims: AccessClaims, user_id: int) -> None:
    await request.app[SAFETY].unblock(claims.user_id, user_id)


@api.route(
    "POST",
    "/reports",
    summary="Report a message to its club's moderators (201; 200 with the same id when the caller "
    "reported it before); a direct message cannot be reported",
    body=ReportIn,
    response=ReportCreatedOut,
    status=201,
    also=(200,),
    tags=("safety",),
    errors=("forbidden", "not_found", "unavailable"),
)
async def report(request: web.Request, claims: AccessClaims, body: ReportIn) -> web.Response:
    report_id, new = await request.app[SAFETY].report(claims.user_id, body.room_id, body.seq, body.reason)
    return Api.answer({"report_id": report_id}, 201 if new else 200)


@api.route(
    "GET",
    "/clubs/{club_id}/reports",
    summary="The club's reports, newest first (moderators), by status, paged by cursor",
    query=ReportsQuery,
    response=ReportsOut,
    tags=("safety",),
    errors=("forbidden", "not_found"),
)
async def club_reports(request: web.Request, claims: AccessClaims, club_id: int, query: ReportsQuery) -> dict:
    return await request.app[SAFETY].reports(club_id, claims.user_id, query.status, query.cursor, query.limit)


@api.route(
    "POST",
    "/reports/{report_id}/resolve",
    summary="Resolve a report (moderators of its club): dismiss, or delete the message, time out or ban "
    "its author through the same moderation actions as by hand; audited",
    body=ResolveIn,
    response=ReportOut,
    tags=("safety",),
    errors=("conflict", "forbidden", "not_found", "unavailable"),
)
async def resolve_report(request: web.Request, claims: AccessClaims, report_id: int, body: ResolveIn) -> dict:
    return await request.app[SAFETY].resolve(report_id, claims.user_id, body.action, body.minutes)


@api.route(
    "GET",
    "/clubs/{club_id}/automod",
    summary="The club's auto-moderation settings (moderators)",
    response=AutomodOut,
    tags=("safety",),
    errors=("forbidden", "not_found"),
)
async def get_automod(request: web.Request, claims: AccessClaims, club_id: int) -> dict:
    return await request.app[SAFETY].automod(club_id, claims.user_id)


@api.route(
    "PUT",
    "/clubs/{club_id}/automod",
    summary="Set the club's auto-moderation (moderators): blocked terms (literals, at most 200), the member "
    "age before links, the most mentions in a message; audited",
    body=AutomodIn,
    response=AutomodOut,
    tags=("safety",),
    errors=("forbidden", "not_found"),
)
async def put_automod(request: web.Request, claims: AccessClaims, club_id: int, body: AutomodIn) -> dict:
    return await request.app[SAFETY].set_automod(
        club_id, claims.user_id, body.blocked_terms, body.link_min_member_age_s, body.max_mentions
    )
