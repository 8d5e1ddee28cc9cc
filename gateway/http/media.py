"""REST transport for media uploads: a presigned upload, its completion, and a media item."""

from __future__ import annotations

from aiohttp import web

from gateway.core.tokens import AccessClaims
from gateway.schemas.media import CompleteOut, MediaOut, UploadIn, UploadOut

from .api import Api
from .keys import MEDIA

api = Api()


@api.route(
    "POST",
    "/media/uploads",
    summary="Start an upload: a presigned PUT straight to object storage for one key, this Content-Type "
    "and this Content-Length, expiring (images up to 10 MB: JPEG, PNG, WebP, GIF; videos up to 100 MB: MP4, "
    "WebM, QuickTime); per-user pending, daily-bytes and hourly limits",
    body=UploadIn,
    response=UploadOut,
    status=201,
    tags=("media",),
    errors=("invalid", "rate_limited", "too_large", "unavailable"),
)
async def create_upload(request: web.Request, claims: AccessClaims, body: UploadIn) -> web.StreamResponse:
    out = await request.app[MEDIA].create_upload(claims.user_id, body.kind, body.content_type, body.size)
    return web.json_response(out, status=201)


@api.route(
    "POST",
    "/media/{media_id}/complete",
    summary="The upload is done (the uploader only): its real size and its type, sniffed from the bytes, are "
    "checked (anything else is refused as invalid and deleted), then it is processed off the request path",
    response=CompleteOut,
    status=202,
    tags=("media",),
    errors=("conflict", "invalid", "not_found", "unavailable"),
)
async def complete_upload(request: web.Request, claims: AccessClaims, media_id: str) -> web.StreamResponse:
    out = await request.app[MEDIA].complete(claims.user_id, media_id)
    return web.json_response(out, status=202)


@api.route(
    "GET",
    "/media/{media_id}",
    summary="A media item and its status; its URLs only once processed (ready)",
    response=MediaOut,
    tags=("media",),
    errors=("not_found", "unavailable"),
)
async def get_media(request: web.Request, claims: AccessClaims, media_id: str) -> dict:
    return await request.app[MEDIA].get(claims.user_id, media_id)
