"""REST transport for accounts: ``/auth/*``, ``/me``, ``/users/{id}`` and the dev mailbox."""

from __future__ import annotations

from aiohttp import web

from actors.domain.errors import DomainError
from gateway.actions.achievements import user_achievements
from gateway.core.tokens import AccessClaims
from gateway.schemas.accounts import (
    AchievementsOut,
    LoginIn,
    MailboxOut,
    MailboxQuery,
    MeOut,
    MePatch,
    SignupIn,
    SignupOut,
    TokenOut,
    UserOut,
    VerifyIn,
    VerifyOut,
)
from storage.models import User
from storage.settings import is_loopback

from .api import PREFIX, Api
from .auth import client_ip
from .keys import ACCOUNTS, DMS
from .media import MEDIA_COOKIE, MEDIA_COOKIE_PATH

REFRESH_COOKIE = "clubhub_refresh"
REFRESH_COOKIE_PATH = PREFIX + "/auth"

api = Api()
dev_api = Api()


def _token_response(request: web.Request, login) -> web.Response:
    settings = request.app[ACCOUNTS].settings
    resp = web.json_response(
        TokenOut(access_token=login.access_token, expires_in=login.expires_in).model_dump()
    )
    resp.set_cookie(
        REFRESH_COOKIE,
        login.refresh_token,
        max_age=settings.refresh_token_ttl_s,
        path=REFRESH_COOKIE_PATH,
        httponly=True,
        samesite="Strict",
        secure=settings.env == "prod",
    )
    # The same access token for <img>/<video> requests to /media (they cannot send a bearer header);
    # it expires with the token and is replaced on every refresh.
    resp.set_cookie(
        MEDIA_COOKIE,
        login.access_token,
        max_age=login.expires_in,
        path=MEDIA_COOKIE_PATH,
        httponly=True,
        samesite="Strict",
        secure=settings.env == "prod",
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


@api.route(
    "POST",
    "/auth/signup",
    summary="Create an account and mail a verification link",
    body=SignupIn,
    response=SignupOut,
    status=201,
    auth=False,
    tags=("auth",),
    errors=("rate_limited", "unavailable"),
)
async def signup(request: web.Request, body: SignupIn) -> SignupOut:
    # An email that already has an account gets the same 201 (its owner is mailed instead): no enumeration.
    user_id = await request.app[ACCOUNTS].signup(
        body.email, body.password, body.display_name, client_ip(request)
    )
    return SignupOut(user_id=user_id)


@api.route(
    "POST",
    "/auth/verify",
    summary="Consume an email verification token",
    body=VerifyIn,
    response=VerifyOut,
    auth=False,
    tags=("auth",),
    errors=("not_found",),
)
async def verify(request: web.Request, body: VerifyIn) -> VerifyOut:
    user = await request.app[ACCOUNTS].verify(body.token)
    return VerifyOut(user_id=user.id)


@api.route(
    "POST",
    "/auth/login",
    summary="Log in: an access token, and the refresh token as an httpOnly cookie",
    body=LoginIn,
    response=TokenOut,
    auth=False,
    tags=("auth",),
    errors=("unauthorized", "email_unverified", "rate_limited"),
)
async def login(request: web.Request, body: LoginIn) -> web.Response:
    result = await request.app[ACCOUNTS].login(body.email, body.password, client_ip(request))
    return _token_response(request, result)


@api.route(
    "POST",
    "/auth/refresh",
    summary="Rotate the refresh cookie and get a new access token",
    response=TokenOut,
    auth=False,
    tags=("auth",),
    errors=("unauthorized",),
)
async def refresh(request: web.Request) -> web.Response:
    result = await request.app[ACCOUNTS].refresh(request.cookies.get(REFRESH_COOKIE))
    return _token_response(request, result)


@api.route(
    "POST", "/auth/logout", summary="Revoke this login's tokens", status=204, auth=False, tags=("auth",)
)
async def logout(request: web.Request, claims: AccessClaims | None) -> web.Response:
    await request.app[ACCOUNTS].logout(request.cookies.get(REFRESH_COOKIE), claims)
    resp = web.Response(status=204)
    resp.del_cookie(REFRESH_COOKIE, path=REFRESH_COOKIE_PATH)
    resp.del_cookie(MEDIA_COOKIE, path=MEDIA_COOKIE_PATH)
    return resp


def _me(user) -> MeOut:
    return MeOut(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        bio=user.bio,
        email_verified=user.email_verified_at is not None,
        created_at=user.created_at,
        email_digest=user.email_digest,
        dm_policy=str(getattr(user.dm_policy, "value", user.dm_policy)),
    )


@api.route("GET", "/me", summary="The current user's own profile", response=MeOut, tags=("users",))
async def get_me(request: web.Request, claims: AccessClaims) -> MeOut:
    return _me(await request.app[ACCOUNTS].current_user(claims.user_id))


@api.route(
    "PATCH",
    "/me",
    summary="Change display name, bio or the email digest",
    body=MePatch,
    response=MeOut,
    tags=("users",),
)
async def patch_me(request: web.Request, claims: AccessClaims, body: MePatch) -> MeOut:
    user = await request.app[ACCOUNTS].update_profile(
        claims.user_id, body.display_name, body.bio, email_digest=body.email_digest, dm_policy=body.dm_policy
    )
    if body.dm_policy is not None:
        await request.app[DMS].policy_changed(claims.user_id)
    return _me(user)


@api.route(
    "GET",
    "/users/{user_id}",
    summary="A user's public profile",
    response=UserOut,
    tags=("users",),
    errors=("not_found",),
)
async def get_user(request: web.Request, claims: AccessClaims, user_id: int) -> UserOut:
    user = await User.get_or_none(id=user_id)
    if user is None:
        raise DomainError("not_found", f"no such user: {user_id}")
    return UserOut(id=user.id, display_name=user.display_name, bio=user.bio, created_at=user.created_at)


@api.route(
    "GET",
    "/users/{user_id}/achievements",
    summary="A user's achievements, oldest first",
    response=AchievementsOut,
    tags=("users",),
    errors=("not_found",),
)
async def get_user_achievements(request: web.Request, claims: AccessClaims, user_id: int) -> dict:
    if not await User.exists(id=user_id):
        raise DomainError("not_found", f"no such user: {user_id}")
    return {"achievements": await user_achievements(user_id)}


@dev_api.route(
    "GET",
    "/dev/mailbox",
    summary="Mails the dev mailbox holds for an address (CLUBHUB_ENV=dev and loopback clients only)",
    query=MailboxQuery,
    response=MailboxOut,
    auth=False,
    tags=("dev",),
    errors=("not_found",),
)
async def dev_mailbox(request: web.Request, query: MailboxQuery) -> MailboxOut:
    # Anyone's verification link is in here: only this machine may read it. Both the peer and (behind a
    # trusted proxy) the client it speaks for must be loopback; a 404 says nothing about the route.
    if not (is_loopback(request.remote or "") and is_loopback(client_ip(request))):
        raise DomainError("not_found", f"no route {request.method} {request.path}")
    return MailboxOut(messages=await request.app[ACCOUNTS].mailer.dev_mailbox(query.email))
