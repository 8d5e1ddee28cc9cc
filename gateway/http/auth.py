"""Who is calling: the bearer token of a request, and the client's address."""

from __future__ import annotations

from aiohttp import web

from gateway.core import addresses
from gateway.core.tokens import AccessClaims, TokenError

from .keys import ACCOUNTS, SETTINGS


async def authenticate(request: web.Request, required: bool = True) -> AccessClaims | None:
    """The bearer's claims; without a valid bearer: 401 (with its ``WWW-Authenticate`` challenge) when
    required, else None."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        if required:
            raise web.HTTPUnauthorized(reason="missing bearer token", headers={"WWW-Authenticate": "Bearer"})
        return None
    try:
        return await request.app[ACCOUNTS].authenticate(token.strip())
    except TokenError as exc:
        if required:
            raise web.HTTPUnauthorized(
                reason=str(exc), headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
            ) from None
        return None


def client_ip(request: web.Request) -> str:
    return addresses.client_ip(request, request.app[SETTINGS].trust_proxy)
