"""JSON-lines logging: one object per line on stderr, with any ``extra={...}`` fields merged in."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from datetime import UTC, datetime

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is logged as a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet_libraries(root.level)


def quiet_libraries(level: int) -> None:
    """Chatty libraries stay at WARNING unless asked otherwise (the access log would carry query strings)."""
    for name in ("aiohttp.access", "engineio", "socketio", "tortoise", "aerich", "pymongo", "asyncio"):
        logging.getLogger(name).setLevel(max(logging.WARNING, level))


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
        self.logger.warning(
            "client error (%s): %s",
            kind,
            message[:300],
            extra={"client_error": kind, "suppressed": suppressed, **fields},
        )
        return True


client_error = ClientErrorLog(logging.getLogger(__name__))
