"""The shared redis.asyncio client (tokens, rate limits, fan-out)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import cast

import redis.asyncio as aioredis


def connect_redis(url: str) -> aioredis.Redis:
    # One pooled client per process; health_check_interval notices a restarted server before use.
    return aioredis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=10, health_check_interval=15)


async def ping_redis(client: aioredis.Redis) -> None:
    # redis-py types ping() for both clients (a bool or an awaitable); this client's returns an awaitable.
    await cast(Awaitable[bool], client.ping())
