"""The contract's error body ``{"error": {"code", "message"}}`` for every failure, REST and Socket.IO."""
from __future__ import annotations

import json
import logging

from aiohttp import web

log = logging.getLogger(__name__)

STATUS_BY_CODE = {
    "invalid": 422,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "rate_limited": 429,
    "too_large": 413,
    "unavailable": 503,
    "internal": 500,
}
CODE_BY_STATUS = {status: code for code, status in STATUS_BY_CODE.items()}
# Codes that refine a status (login of an unverified account is 403 email_unverified).
STATUS_BY_CODE["email_unverified"] = 403
CODE_BY_STATUS.update({400: "invalid", 405: "invalid", 411: "invalid", 415: "invalid"})


class ApiError(Exception):
    """Raised by handlers and actions; the transport turns it into the contract's error body."""

    def __init__(self, code: str, message: str, *, status: int | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or STATUS_BY_CODE.get(code, 400)
        self.headers = headers or {}

    def body(self) -> dict:
        return error_body(self.code, self.message)


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def error_response(code: str, message: str, status: int | None = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status or STATUS_BY_CODE.get(code, 400),
        text=json.dumps(error_body(code, message)),
        content_type="application/json",
        headers=headers,
    )


@web.middleware
async def error_middleware(request: web.Request, handler):
    """Every error leaves as the contract's JSON body; nothing leaks a traceback to the client."""
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.code, exc.message, exc.status, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = CODE_BY_STATUS.get(exc.status, "invalid" if exc.status < 500 else "internal")
        message = {
            404: f"no such resource: {request.path}",
            405: f"method {request.method} is not allowed on {request.path}",
            413: "request body too large",
        }.get(exc.status, exc.reason)
        headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
        return error_response(code, message, exc.status, headers)
    except Exception:
        log.exception("unhandled error", extra={"path": request.path, "method": request.method})
        return error_response("internal", "internal error", 500)
