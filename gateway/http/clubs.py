"""REST transport for clubs, rooms, moderation and the audit log (thin: ``Clubs`` holds the rules)."""

from __future__ import annotations

from aiohttp import web

from gateway.core.tokens import AccessClaims
from gateway.schemas.clubs import (
    AuditOut,
    AuditQuery,
    BanIn,
    BanOut,
    ClubIn,
    ClubOut,
    ClubSearchOut,
    ClubSearchQuery,
    InviteAcceptIn,
    InviteIn,
    InviteOut,
    InviteRevokeIn,
    JoinIn,
    MembersOut,
    MyClubsOut,
    RoleIn,
    RoleOut,
    RoomCreateIn,
    RoomOut,
    RoomPatchIn,
    RoomsOut,
    TimeoutIn,
    TimeoutOut,
)

from .api import Api
from .keys import CLUBS

api = Api()
MOD_ERRORS = ("forbidden", "not_found")


@api.route(
    "POST",
    "/clubs",
    summary="Create a club: the creator is its owner and a general room is made",
    body=ClubIn,
    response=ClubOut,
    status=201,
    tags=("clubs",),
)
async def create_club(request: web.Request, claims: AccessClaims, body: ClubIn) -> dict:
    return await request.app[CLUBS].create(claims.user_id, body.name, body.description, body.visibility)


@api.route(
    "GET",
    "/clubs",
    summary="Search clubs by name and description (ranked), with a cursor",
    query=ClubSearchQuery,
    response=ClubSearchOut,
    tags=("clubs",),
)
async def search_clubs(request: web.Request, claims: AccessClaims, query: ClubSearchQuery) -> dict:
    return await request.app[CLUBS].search(claims.user_id, query.q, query.limit, query.cursor)


@api.route(
    "GET",
    "/clubs/{club_id}",
    summary="A club, with the caller's role",
    response=ClubOut,
    tags=("clubs",),
    errors=("not_found",),
)
async def get_club(request: web.Request, claims: AccessClaims, club_id: int) -> dict:
    return await request.app[CLUBS].get(club_id, claims.user_id)


@api.route(
    "POST",
    "/clubs/{club_id}/join",
    summary="Join a public club, or a private one with an invite code",
    body=JoinIn,
    response=ClubOut,
    tags=("clubs",),
    errors=MOD_ERRORS,
)
async def join_club(request: web.Request, claims: AccessClaims, club_id: int, body: JoinIn) -> dict:
    return await request.app[CLUBS].join(club_id, claims.user_id, body.invite_code)


@api.route(
    "POST",
    "/invites/accept",
    summary="Join the club an invite code belongs to (codes are unique)",
    body=InviteAcceptIn,
    response=ClubOut,
    tags=("clubs",),
    errors=MOD_ERRORS,
)
async def accept_invite(request: web.Request, claims: AccessClaims, body: InviteAcceptIn) -> dict:
    return await request.app[CLUBS].join_by_invite(claims.user_id, body.invite_code)


@api.route(
    "GET",
    "/me/clubs",
    summary="The clubs the caller belongs to, with the caller's role",
    response=MyClubsOut,
    tags=("clubs",),
)
async def my_clubs(request: web.Request, claims: AccessClaims) -> dict:
    return {"clubs": await request.app[CLUBS].mine(claims.user_id)}


@api.route(
    "POST",
    "/clubs/{club_id}/leave",
    summary="Leave a club (an owner hands over ownership first)",
    status=204,
    tags=("clubs",),
    errors=("not_found", "conflict"),
)
async def leave_club(request: web.Request, claims: AccessClaims, club_id: int) -> None:
    await request.app[CLUBS].leave(club_id, claims.user_id)


@api.route(
    "GET",
    "/clubs/{club_id}/members",
    summary="Members with their roles and presence",
    response=MembersOut,
    tags=("clubs",),
    errors=("not_found",),
)
async def club_members(request: web.Request, claims: AccessClaims, club_id: int) -> dict:
    return {"members": await request.app[CLUBS].members(club_id, claims.user_id)}


@api.route(
    "PATCH",
    "/clubs/{club_id}/members/{user_id}",
    summary="Change a member's role (owner; 'owner' hands over)",
    body=RoleIn,
    response=RoleOut,
    tags=("moderation",),
    errors=MOD_ERRORS,
)
async def set_member_role(
    request: web.Request, claims: AccessClaims, club_id: int, user_id: int, body: RoleIn
) -> dict:
    return await request.app[CLUBS].set_role(club_id, claims.user_id, user_id, body.role)


@api.route(
    "POST",
    "/clubs/{club_id}/bans",
    summary="Ban a member: removed from the club and its rooms at once",
    body=BanIn,
    response=BanOut,
    tags=("moderation",),
    errors=MOD_ERRORS,
)
async def ban_member(request: web.Request, claims: AccessClaims, club_id: int, body: BanIn) -> dict:
    return await request.app[CLUBS].ban(club_id, claims.user_id, body.user_id, body.reason)


@api.route(
    "POST",
    "/clubs/{club_id}/timeouts",
    summary="Time a member out (no sending) for N minutes; 0 lifts it",
    body=TimeoutIn,
    response=TimeoutOut,
    tags=("moderation",),
    errors=MOD_ERRORS,
)
async def timeout_member(request: web.Request, claims: AccessClaims, club_id: int, body: TimeoutIn) -> dict:
    return await request.app[CLUBS].timeout(club_id, claims.user_id, body.user_id, body.minutes, body.reason)


@api.route(
    "POST",
    "/clubs/{club_id}/invites",
    summary="Create an invite code (moderator)",
    body=InviteIn,
    response=InviteOut,
    status=201,
    tags=("clubs",),
    errors=MOD_ERRORS,
)
async def create_invite(request: web.Request, claims: AccessClaims, club_id: int, body: InviteIn) -> dict:
    return await request.app[CLUBS].create_invite(club_id, claims.user_id, body.expires_in_s)


@api.route(
    "POST",
    "/clubs/{club_id}/invites/revoke",
    summary="Revoke an invite code (moderator)",
    body=InviteRevokeIn,
    status=204,
    tags=("clubs",),
    errors=MOD_ERRORS,
)
async def revoke_invite(
    request: web.Request, claims: AccessClaims, club_id: int, body: InviteRevokeIn
) -> None:
    await request.app[CLUBS].revoke_invite(club_id, claims.user_id, body.code)


@api.route(
    "GET",
    "/clubs/{club_id}/rooms",
    summary="The club's rooms",
    response=RoomsOut,
    tags=("rooms",),
    errors=MOD_ERRORS,
)
async def club_rooms(request: web.Request, claims: AccessClaims, club_id: int) -> dict:
    return {"rooms": await request.app[CLUBS].rooms(club_id, claims.user_id)}


@api.route(
    "POST",
    "/clubs/{club_id}/rooms",
    summary="Create a room (moderator)",
    body=RoomCreateIn,
    response=RoomOut,
    status=201,
    tags=("rooms",),
    errors=MOD_ERRORS + ("conflict",),
)
async def create_room(request: web.Request, claims: AccessClaims, club_id: int, body: RoomCreateIn) -> dict:
    return await request.app[CLUBS].create_room(club_id, claims.user_id, body.name, body.slow_mode_s)


@api.route(
    "PATCH",
    "/rooms/{room_id}",
    summary="Set a room's slow mode (moderator)",
    body=RoomPatchIn,
    response=RoomOut,
    tags=("rooms",),
    errors=MOD_ERRORS,
)
async def patch_room(request: web.Request, claims: AccessClaims, room_id: int, body: RoomPatchIn) -> dict:
    return await request.app[CLUBS].set_slow_mode(room_id, claims.user_id, body.slow_mode_s)


@api.route(
    "GET",
    "/clubs/{club_id}/audit",
    summary="The club's moderation log, newest first (moderator)",
    query=AuditQuery,
    response=AuditOut,
    tags=("moderation",),
    errors=MOD_ERRORS,
)
async def club_audit(request: web.Request, claims: AccessClaims, club_id: int, query: AuditQuery) -> dict:
    return {"entries": await request.app[CLUBS].audit_entries(club_id, claims.user_id, query.limit)}
