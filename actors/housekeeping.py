"""What every shard does periodically: sweep on a timer, and find gateways that died silently."""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, Iterable

log = logging.getLogger(__name__)

GATEWAY_KEY = "clubhub:gw:"  # + gateway id; each live gateway refreshes it (a heartbeat with a TTL)


async def every(seconds: float, sweep: Callable[[], Awaitable[object]], what: str) -> None:
    """Run ``sweep`` every ``seconds`` until cancelled; a failed sweep is logged, not fatal."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await sweep()
        except Exception:
            log.exception("%s housekeeping failed", what)


async def dead_gateways(redis, socket_keys: Iterable[str]) -> list[str]:
    """Gateways (from ``<gateway_id>/<sid>`` socket keys) whose heartbeat key has expired."""
    gateways = {key.split("/", 1)[0] for key in socket_keys}
    return [gw for gw in gateways if not await redis.exists(GATEWAY_KEY + gw)]
