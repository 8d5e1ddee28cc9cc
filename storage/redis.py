"""The shared redis.asyncio client (tokens, rate limits, fan-out)."""
from __future__ import annotations

import redis.asyncio as aioredis


def connect_redis(url: str) -> aioredis.Redis:
    # One pooled client per process; health_check_interval notices a restarted server before use.
    return aioredis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=10, health_check_interval=15)


async def ping_redis(client: aioredis.Redis) -> None:
    await client.ping()


# The activity stream (Redis Streams): what members did, appended by actions and shards, read by the
# achievements worker. Capped (approximately) so it cannot grow without bound.
ACTIVITY_STREAM = "clubhub:activity"
ACTIVITY_MAXLEN = 100_000
