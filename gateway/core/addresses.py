"""Which address a client connects from: the peer, or behind a trusted proxy the first ``X-Forwarded-For``."""

from __future__ import annotations


def client_ip(request, trust_proxy: bool) -> str:
    """``request``: anything with ``headers`` and ``remote`` (an aiohttp request, REST or the Socket.IO
    handshake's)."""
    if trust_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.remote or "unknown"
