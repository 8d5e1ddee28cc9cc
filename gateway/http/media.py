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


# -- the media themselves: GET /media/{id}/{file|thumbnail|poster} --------------------------------------
# Not JSON and not under /api/v1: browsers fetch these from <img>/<video> tags, which send no bearer
# token, so the login also sets this cookie (HttpOnly, only sent to /media) holding the access token.
MEDIA_COOKIE = "clubhub_media"
MEDIA_COOKIE_PATH = "/media"
# Each URL names immutable bytes (processing writes a media item's objects once), but only its permitted
# viewers may have them: long-lived in the browser's own cache, never in a shared one.
CACHE_CONTROL = "private, max-age=31536000, immutable"
CHUNK = 256 * 1024


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """The one byte range a ``Range`` header asks for as (first, last); None: the whole object (no
    header, or one we may ignore: several ranges, another unit, a malformed one); False: unsatisfiable."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first_s, dash, last_s = spec.strip().partition("-")
    if not dash or not (first_s.isdigit() or last_s.isdigit()) or len(spec) > 40:
        return None
    if not first_s:  # the last N bytes
        if not last_s.isdigit():
            return None
        n = int(last_s)
        return (max(0, size - n), size - 1) if n > 0 and size > 0 else False
    if not first_s.isdigit() or (last_s and not last_s.isdigit()):
        return None
    first = int(first_s)
    last = min(int(last_s), size - 1) if last_s else size - 1
    if first >= size:
        return False
    return None if last < first else (first, last)


async def _viewer(request: web.Request) -> AccessClaims:
    from gateway.core.tokens import TokenError

    from .auth import authenticate
    from .keys import ACCOUNTS

    if request.headers.get("Authorization"):
        claims = await authenticate(request)
        assert claims is not None  # nosec B101: required=True raises instead
        return claims
    token = request.cookies.get(MEDIA_COOKIE)
    if not token:
        raise web.HTTPUnauthorized(reason="log in to see media")
    try:
        return await request.app[ACCOUNTS].authenticate(token)
    except TokenError as exc:
        raise web.HTTPUnauthorized(reason=str(exc)) from None


async def serve_media(request: web.Request) -> web.StreamResponse:
    """A media object to a viewer allowed to see it, with ``ETag``, ``Range`` and long private caching;
    everyone else gets ``not_found`` (existence is not revealed)."""
    from actors.domain.errors import DomainError
    from storage.objects import ObjectMissing

    claims = await _viewer(request)
    actions = request.app[MEDIA]
    served = await actions.open_variant(
        claims.user_id, request.match_info["media_id"][:100], request.match_info["variant"][:20]
    )
    etag = f'"{served.info.etag}"'
    headers = {
        "ETag": etag,
        "Cache-Control": CACHE_CONTROL,
        "Accept-Ranges": "bytes",
        "Content-Type": served.content_type,
        "X-Content-Type-Options": "nosniff",
        "Vary": "Authorization, Cookie",
    }
    cdn = actions.cdn_url(served)
    if cdn is not None:  # production: the CDN serves the bytes; this answer only says where, to this viewer
        raise web.HTTPFound(
            cdn, headers={"Cache-Control": "private, max-age=60", "Vary": "Authorization, Cookie"}
        )
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        return web.Response(status=304, headers=headers)
    size = served.info.size
    wanted = parse_range(request.headers.get("Range"), size)
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range.strip() != etag:
        wanted = None  # the client's part is of other bytes: send them all
    if wanted is False:
        headers.pop("Content-Type")
        return web.Response(status=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    first, last = wanted if isinstance(wanted, tuple) else (0, size - 1)
    status = 206 if isinstance(wanted, tuple) else 200
    if status == 206:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = max(0, last - first + 1)
    if request.method == "HEAD" or size == 0:
        await response.prepare(request)
        await response.write_eof()
        return response
    try:
        async with actions.store().reader(served.key, first if status == 206 else None, last) as body:
            await response.prepare(request)
            while chunk := await body.read(CHUNK):
                await response.write(chunk)
    except DomainError:
        raise
    except ObjectMissing:
        if response.prepared:
            raise
        raise DomainError("not_found", "no such media") from None
    except ConnectionResetError:  # the viewer went away (seeking a video does that)
        return response
    except Exception:
        if response.prepared:  # headers are sent: cut the body short rather than lie about it
            raise
        raise DomainError("unavailable", "media storage does not answer; retry later") from None
    await response.write_eof()
    return response


def register_files(app: web.Application) -> None:
    # Named "media-…": bytes for <img>/<video>, documented in docs/api.md rather than as a JSON operation
    # of the OpenAPI document (whose coverage test skips these names). aiohttp adds HEAD for a GET.
    app.router.add_get("/media/{media_id}/{variant}", serve_media, name="media-files")
