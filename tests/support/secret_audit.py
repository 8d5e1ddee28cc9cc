"""Pytest plugin: no password or token the tests use may reach a log of the run (Must-show 6, M2).

Every record logged in the test process (the in-process gateway, the stores, Ray's driver) is kept as
the gateway's JSON line, ``extra`` fields included. ``remember`` registers each password and token the
helpers of conftest issue; ``findings`` looks for them, and for anything shaped like a credential (a JWT,
a ``token=`` query parameter, a ``password``/``*_token`` JSON field with a value), in those lines and in
the log files of the run: gateway subprocesses, embedded services and the session's Ray workers.
``test_no_secret_in_any_log`` (tests/integration/test_hardening.py) is moved to the end of the run to see it all.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

AUDIT_TEST = "test_no_secret_in_any_log"
LOG_SUFFIXES = (".log", ".out", ".err")
MAX_FILE_BYTES = 64 * 1024 * 1024
PATTERNS = {
    "a JWT": re.compile(r"eyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]{10,}"),
    "a token in a URL": re.compile(r"[?&](?:token|access_token|refresh_token)=[\w.~%-]{12,}"),
    "a credential field": re.compile(
        r"""["'](?:password|access_token|refresh_token|verification_token)["']\s*:\s*["'][^"'*]"""
    ),
}

_secrets: set[str] = set()
_lines: list[str] = []


def remember(*values: str | None) -> None:
    """Register passwords and tokens that must never be logged."""
    _secrets.update(v for v in values if isinstance(v, str) and len(v) >= 8)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        from gateway.core.logs import JsonFormatter

        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            _lines.append(self.format(record))
        except Exception:  # a record that cannot be formatted is not a secret we could find
            pass


def pytest_configure(config) -> None:
    from gateway.core.logs import quiet_libraries

    root = logging.getLogger()
    root.addHandler(_Capture())
    # INFO, as `clubhub run` logs by default: what production writes is what is audited.
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    quiet_libraries(root.level)


def pytest_collection_modifyitems(session, config, items) -> None:
    last = [item for item in items if item.name == AUDIT_TEST]
    items[:] = [item for item in items if item.name != AUDIT_TEST] + last


def _log_files(roots: list[Path]):
    for root in roots:
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            if path.suffix in LOG_SUFFIXES and path.is_file() and not path.is_symlink():
                yield path


def findings(roots: list[Path]) -> list[str]:
    """``where: what`` for each leak found; empty when the logs hold no secret."""
    found: list[str] = []
    sources = [("the test process's log", "\n".join(_lines))]
    for path in _log_files(roots):
        try:
            with open(path, "rb") as f:
                sources.append((str(path), f.read(MAX_FILE_BYTES).decode(errors="replace")))
        except OSError:
            continue
    for where, text in sources:
        for secret in _secrets:
            if secret in text:
                found.append(f"{where}: a password or token issued by the tests ({secret[:4]}…)")
        for what, pattern in PATTERNS.items():
            match = pattern.search(text)
            if match:
                found.append(f"{where}: {what} ({match.group(0)[:24]}…)")
    return found


def audited_lines() -> int:
    return len(_lines)


def registered() -> int:
    return len(_secrets)
