"""The shared redis.asyncio client (tokens, rate limits, fan-out)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import cast

import redis.asyncio as aioredis

from .timing import StoreTimings, TimedRedis


def connect_redis(url: str, timings: StoreTimings | None = None) -> aioredis.Redis:
    """One pooled client per process; health_check_interval notices a restarted server before use.
    With ``timings`` each command's round trip is reported there (storage.timing)."""
    cls = aioredis.Redis if timings is None else TimedRedis
    client = cls.from_url(url, socket_connect_timeout=5, socket_timeout=10, health_check_interval=15)
    if timings is not None:
        cast(TimedRedis, client).timings = timings
    return client


async def ping_redis(client: aioredis.Redis) -> None:
    # redis-py types ping() for both clients (a bool or an awaitable); this client's returns an awaitable.
    await cast(Awaitable[bool], client.ping())
