"""The contract's error body ``{"error": {"code", "message"}}`` for every failure over HTTP.

Below the transport a refusal is one type, ``DomainError``; this middleware maps its code to the status
(``actors.domain.errors.CODES``) and the body, and ``retry_after`` to the ``Retry-After`` header. aiohttp's
own HTTP errors (404 without a route, 405, 413) get the same body; nothing leaks a traceback.
"""

from __future__ import annotations

import json
import logging
import math

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from actors.domain.errors import CODES, DomainError
from gateway.core.logs import client_error

log = logging.getLogger(__name__)

CODE_BY_STATUS = {status: code for code, status in CODES.items() if code != "email_unverified"}
CODE_BY_STATUS.update({400: "invalid", 405: "invalid", 411: "invalid", 415: "invalid"})
# Headers of aiohttp's HTTP errors a client needs (the allowed methods, when to retry, how to authenticate).
PASSED_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


class MalformedRequestFilter(logging.Filter):
    """aiohttp logs a request it cannot parse (a request line with raw control bytes, an oversize header)
    at ERROR with a traceback whose message repeats the raw request line, query string and all: a token
    of an unsubscribe link, say. It answered 400 already and it is the client's fault, so the record is
    replaced by one rate-limited WARNING line naming the kind of error, never the URL."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            client_error("malformed_http", f"malformed HTTP request refused ({type(exc).__name__})")
            return False
        return True


def quiet_malformed_requests() -> None:
    """Install ``MalformedRequestFilter`` on aiohttp's server logger (once per process)."""
    logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, MalformedRequestFilter) for f in logger.filters):
        logger.addFilter(MalformedRequestFilter())


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def error_response(
    code: str, message: str, status: int | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status or CODES.get(code, 400),
        text=json.dumps(error_body(code, message)),
        content_type="application/json",
        headers=headers,
    )


def refusal_response(exc: DomainError) -> web.Response:
    headers = (
        {"Retry-After": str(max(1, math.ceil(exc.retry_after)))} if exc.retry_after is not None else None
    )
    return error_response(exc.code, exc.message, CODES[exc.code], headers)


@web.middleware
async def error_middleware(request: web.Request, handler):
    """Every error leaves as the contract's JSON body; nothing leaks a traceback to the client."""
    try:
        return await handler(request)
    except DomainError as exc:
        return refusal_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = CODE_BY_STATUS.get(exc.status, "invalid" if exc.status < 500 else "internal")
        message = {
            404: f"no such resource: {request.path}",
            405: f"method {request.method} is not allowed on {request.path}",
            413: "request body too large",
        }.get(exc.status, exc.reason)
        headers = {k: v for k, v in exc.headers.items() if k in PASSED_HEADERS}
        return error_response(code, message, exc.status, headers)
    except ConnectionResetError:
        # The client went away while we read its request (a closed tab): its doing, and nobody is left to
        # answer. One line at most, never a traceback.
        client_error("connection_lost", "client closed the connection mid-request", path=request.path)
        return error_response("invalid", "connection lost", 400)
    except Exception:
        log.exception("unhandled error", extra={"path": request.path, "method": request.method})
        return error_response("internal", "internal error", 500)
