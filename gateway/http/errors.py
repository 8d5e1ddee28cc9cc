"""The contract's error body ``{"error": {"code", "message"}}`` for every failure, REST and Socket.IO."""
from __future__ import annotations

import json
import logging
import threading
import time

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


class ClientErrorLog:
    """One log line per kind of client-caused error and interval, never a traceback.

    Malformed input (a body nested a thousand deep, a garbage engine.io frame) is the client's fault,
    not the server's: it is answered ``invalid`` (or the socket is dropped) and logged as one WARNING
    line. An attacker repeating it must not be able to fill the log, so each ``kind`` logs at most one
    line per ``interval_s``; the next line says how many were left out in between.
    """

    def __init__(self, logger: logging.Logger, interval_s: float = 10.0) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, kind: str, message: str, **fields) -> bool:
        """Log ``message`` unless ``kind`` was logged within the interval; True when a line was written."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < self.interval_s:
                self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
                return False
            self._last[kind] = now
            suppressed = self._suppressed.pop(kind, 0)
        self.logger.warning("client error (%s): %s", kind, message[:300],
                            extra={"client_error": kind, "suppressed": suppressed, **fields})
        return True


client_error = ClientErrorLog(log)


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
    except ConnectionResetError:
        # The client went away while we read its request (a closed tab): its doing, and nobody is left to
        # answer. One line at most, never a traceback.
        client_error("connection_lost", "client closed the connection mid-request", path=request.path)
        return error_response("invalid", "connection lost", 400)
    except Exception:
        log.exception("unhandled error", extra={"path": request.path, "method": request.method})
        return error_response("internal", "internal error", 500)
