"""Fixed-window rate limits in Redis, shared by every gateway process."""
from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from .errors import ApiError

# INCR and set the window's expiry on the first hit, atomically (a crash between the two would
# otherwise leave a counter that never expires). Returns {count, ttl}.
_HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
"""


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    count: int
    retry_after_s: int


class RateLimiter:
    def __init__(self, redis: aioredis.Redis, prefix: str = "clubhub:rl:") -> None:
        self.redis = redis
        self.prefix = prefix
        self._hit = redis.register_script(_HIT)

    async def hit(self, key: str, limit: int, window_s: int) -> Verdict:
        count, ttl = await self._hit(keys=[self.prefix + key], args=[window_s])
        return Verdict(int(count) <= limit, int(count), max(1, int(ttl)))

    async def enforce(self, keys: list[str], limit: int, window_s: int, what: str) -> None:
        """Count one attempt against each key; refuse with 429 and ``Retry-After`` if any is over."""
        verdicts = [await self.hit(key, limit, window_s) for key in keys]
        refused = [v for v in verdicts if not v.allowed]
        if refused:
            wait = max(v.retry_after_s for v in refused)
            raise ApiError("rate_limited", f"too many {what} attempts; retry in {wait}s",
                           headers={"Retry-After": str(wait)})
