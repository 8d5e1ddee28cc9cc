"""Browser-facing hardening: security headers on every response and the CORS allow-list.

One rule for which browser origins may talk to the gateway, used by REST (this module's middleware)
and by Socket.IO (``socket_origin_allowed``, given to python-socketio as ``cors_allowed_origins``):
the gateway's own origin, plus the origins of ``CLUBHUB_CORS_ORIGINS`` (default: the public URL's
origin). Never ``*``: credentials (the refresh cookie) travel with these requests.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import hdrs, web

from storage.settings import Settings

from .errors import error_response

# The built web client (web/dist) loads only same-origin scripts and styles, so no 'unsafe-inline'.
# connect-src names ws:/wss: of the same host explicitly: older browsers do not let 'self' cover them.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; font-src 'self' data:; connect-src {connect}; object-src 'none'; "
    "base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
)
STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    # Replaces aiohttp's default, which names its version.
    "Server": "ClubHoloHub",
}
# The object store's public origin, known once the services run: browsers PUT uploads straight to it
# (presigned URLs), so connect-src must name it.
UPLOAD_ORIGIN = web.AppKey("upload_origin", str)
# The media server's WebSocket API (Janus), which browsers reach directly for live sessions' audio.
AUDIO_ORIGIN = web.AppKey("audio_origin", str)
HSTS = "max-age=31536000; includeSubDomains"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PREFLIGHT_MAX_AGE_S = 600


def request_scheme(request: web.Request, settings: Settings) -> str:
    """``https`` when the client's connection is TLS: ours, or the proxy's when we trust it to say so."""
    if request.secure:
        return "https"
    if settings.trust_proxy:
        forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        if forwarded in ("http", "https"):
            return forwarded
    return "http"


def _host(headers, settings: Settings) -> str:
    if settings.trust_proxy and headers.get("X-Forwarded-Host"):
        return headers["X-Forwarded-Host"].split(",")[0].strip()
    return headers.get("Host", "")


def origin_allowed(settings: Settings, origin: str, own_origin: str) -> bool:
    """May a page of ``origin`` call us? Its own pages always may; others only when listed."""
    origin = origin.strip().lower()
    return origin == own_origin.lower() or origin in settings.allowed_origins


def own_origin(request: web.Request, settings: Settings) -> str:
    return f"{request_scheme(request, settings)}://{_host(request.headers, settings)}"


def socket_origin_allowed(settings: Settings):
    """The Socket.IO handshake's origin check (engine.io calls it with the WSGI-style environ)."""

    def allowed(origin: str | None, environ: dict) -> bool:
        if not origin:
            return True  # not a browser: nothing for CORS to protect (the token still is required)
        scheme = "http"
        if settings.trust_proxy:
            scheme = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[0].strip().lower() or scheme
        request = environ.get("aiohttp.request")
        if request is not None and request.secure:
            scheme = "https"
        host = environ.get("HTTP_HOST", "")
        if settings.trust_proxy and environ.get("HTTP_X_FORWARDED_HOST"):
            host = environ["HTTP_X_FORWARDED_HOST"].split(",")[0].strip()
        return origin_allowed(settings, origin, f"{scheme}://{host}")

    return allowed


def cors_middleware(settings: Settings):
    """Answers preflights, refuses unsafe requests from foreign origins, marks allowed ones."""

    @web.middleware
    async def cors(request: web.Request, handler):
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is None:
            return await handler(request)
        allowed = origin_allowed(settings, origin, own_origin(request, settings))
        preflight = request.method == "OPTIONS" and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers
        if preflight:
            if not allowed:
                return error_response("forbidden", "origin not allowed")
            return web.Response(
                status=204,
                headers={
                    hdrs.ACCESS_CONTROL_ALLOW_METHODS: "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
                    hdrs.ACCESS_CONTROL_ALLOW_HEADERS: "Authorization, Content-Type",
                    hdrs.ACCESS_CONTROL_MAX_AGE: str(PREFLIGHT_MAX_AGE_S),
                },
            )
        if not allowed and request.method not in SAFE_METHODS:
            # A form post or a text/plain fetch from another site is not preflighted: refuse it here.
            return error_response("forbidden", "origin not allowed")
        return await handler(request)

    return cors


def install(app: web.Application, settings: Settings) -> None:
    """Headers on every response the app prepares: API, web app, errors, 404s, Socket.IO polling."""

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        headers.update(STATIC_HEADERS)
        host = _host(request.headers, settings)
        connect = f"'self' ws://{host} wss://{host}" if host and _safe_host(host) else "'self'"
        upload = request.app.get(UPLOAD_ORIGIN)
        if upload:
            connect += f" {upload}"
        audio = request.app.get(AUDIO_ORIGIN)
        if audio:
            connect += f" {audio}"
        headers["Content-Security-Policy"] = CSP.format(connect=connect)
        if request_scheme(request, settings) == "https":
            headers["Strict-Transport-Security"] = HSTS
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is not None:
            if "origin" not in headers.get(hdrs.VARY, "").lower():
                headers.add(hdrs.VARY, "Origin")
            if origin_allowed(settings, origin, own_origin(request, settings)):
                headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
                headers[hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS] = "true"
            else:  # engine.io adds these on its own; a foreign origin gets none
                headers.popall(hdrs.ACCESS_CONTROL_ALLOW_ORIGIN, None)
                headers.popall(hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS, None)

    app.on_response_prepare.append(on_prepare)


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, or None when it has no host or could break the policy."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.netloc or not _safe_host(parts.netloc):
        return None
    return f"{parts.scheme}://{parts.netloc}"


def _safe_host(host: str) -> bool:
    """A Host header fit to be echoed into the policy (no spaces, quotes or separators)."""
    return all(c.isalnum() or c in ".-:[]" for c in host)
