"""REST transport for the outbound notification channels: Web Push subscriptions, the VAPID public key,
and the email digest's one-click unsubscribe link (RFC 8058: GET from the mail's link, POST from a mail
client's unsubscribe button)."""

from __future__ import annotations

import html
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, Field, StringConstraints

from actors.domain.errors import DomainError
from actors.push import (
    ENDPOINT_MAX,
    delete_subscription,
    endpoint_problem,
    key_problem,
    save_subscription,
    vapid_public_key,
)
from gateway.actions.digest import unsubscribe
from gateway.core.tokens import AccessClaims
from gateway.schemas.common import Input

from .api import Api
from .keys import ACCOUNTS, ACTORS, SETTINGS

api = Api()

Endpoint = Annotated[str, StringConstraints(min_length=1, max_length=ENDPOINT_MAX)]


class PushKeys(Input):
    p256dh: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    auth: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class PushSubscriptionIn(Input):
    """What a browser's ``PushSubscription.toJSON()`` gives (``expirationTime`` is accepted and ignored)."""

    endpoint: Endpoint
    keys: PushKeys
    expirationTime: float | None = Field(None, ge=0)  # the browser's own name (ms since the epoch)


class PushSubscriptionOut(BaseModel):
    endpoint: str


class PushSubscriptionDelete(Input):
    endpoint: Endpoint


class VapidKeyOut(BaseModel):
    key: str  # base64url of the uncompressed P-256 point: pushManager.subscribe's applicationServerKey


class UnsubscribeQuery(Input):
    token: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class UnsubscribedOut(BaseModel):
    email_digest: bool = False


@api.route(
    "POST",
    "/me/push-subscriptions",
    summary="Subscribe this device to Web Push (the same endpoint again is the same subscription)",
    body=PushSubscriptionIn,
    response=PushSubscriptionOut,
    status=201,
    tags=("notifications",),
)
async def add_push_subscription(
    request: web.Request, claims: AccessClaims, body: PushSubscriptionIn
) -> PushSubscriptionOut:
    problem = endpoint_problem(body.endpoint, request.app[SETTINGS].env == "dev") or key_problem(
        body.keys.p256dh, body.keys.auth
    )
    if problem:
        raise DomainError("invalid", problem)
    await save_subscription(claims.user_id, body.endpoint, body.keys.p256dh, body.keys.auth)
    return PushSubscriptionOut(endpoint=body.endpoint)


@api.route(
    "DELETE",
    "/me/push-subscriptions",
    summary="Unsubscribe a device of the caller from Web Push",
    body=PushSubscriptionDelete,
    status=204,
    tags=("notifications",),
)
async def delete_push_subscription(
    request: web.Request, claims: AccessClaims, body: PushSubscriptionDelete
) -> None:
    await delete_subscription(claims.user_id, body.endpoint)


@api.route(
    "GET",
    "/push/vapid-public-key",
    summary="The server's VAPID public key (applicationServerKey for pushManager.subscribe)",
    response=VapidKeyOut,
    auth=False,
    tags=("notifications",),
)
async def get_vapid_public_key(request: web.Request) -> VapidKeyOut:
    return VapidKeyOut(key=vapid_public_key(request.app[ACTORS].actor_config.vapid_private_key))


UNSUBSCRIBED_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Unsubscribed</title></head>
<body><main><h1>You are unsubscribed</h1>
<p>You will get no more email digests of unread mentions and direct messages.
You can turn them back on in <a href="{settings}">your settings</a>.</p></main></body></html>
"""


@api.route(
    "GET",
    "/notifications/unsubscribe",
    summary="The email digest's unsubscribe link: turns the digest off, answers a short page",
    query=UnsubscribeQuery,
    auth=False,
    tags=("notifications",),
    content_type="text/html",
)
async def unsubscribe_page(request: web.Request, query: UnsubscribeQuery) -> web.Response:
    await unsubscribe(request.app[ACCOUNTS].access.ring, query.token)
    page = UNSUBSCRIBED_PAGE.format(settings=html.escape(request.app[SETTINGS].base_url + "/profile"))
    return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})


@api.route(
    "POST",
    "/notifications/unsubscribe",
    summary="One-click unsubscribe (RFC 8058 List-Unsubscribe-Post): turns the email digest off",
    query=UnsubscribeQuery,
    response=UnsubscribedOut,
    auth=False,
    tags=("notifications",),
)
async def unsubscribe_one_click(request: web.Request, query: UnsubscribeQuery) -> UnsubscribedOut:
    await unsubscribe(request.app[ACCOUNTS].access.ring, query.token)
    return UnsubscribedOut()
