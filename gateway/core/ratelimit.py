"""Rate limits in Redis, shared by every gateway process: fixed windows, and failure backoff."""
from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from .errors import ApiError

# POST /interactions batches per user and minute (the web client sends one every 5 s).
INTERACTIONS_PER_MINUTE = 60

# INCR and set the window's expiry on the first hit, atomically (a crash between the two would
# otherwise leave a counter that never expires). Returns {count, ttl}.
_HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
"""

# One failure: count it (the counter lives ARGV[1] s after the last failure), and past ARGV[2] free failures
# lock for ARGV[3] * 2^(failures - free - 1) s, at most ARGV[4] s. KEYS: counter, lock. Returns the lock (s).
_FAIL = """
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
local free = tonumber(ARGV[2])
if n <= free then return 0 end
local lock = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ math.min(n - free - 1, 30))
redis.call('SET', KEYS[2], n, 'EX', math.floor(lock))
return math.floor(lock)
"""


def refuse(what: str, wait: int) -> ApiError:
    """The contract's 429 with ``Retry-After``."""
    return ApiError("rate_limited", f"too many {what}; retry in {wait}s", headers={"Retry-After": str(wait)})


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
        """Count one attempt against each key; refuse with 429 and ``Retry-After`` if any is over.
        ``what`` names what is counted, in the plural ("login attempts")."""
        verdicts = [await self.hit(key, limit, window_s) for key in keys]
        refused = [v for v in verdicts if not v.allowed]
        if refused:
            raise refuse(what, max(v.retry_after_s for v in refused))


@dataclass(frozen=True)
class Backoff:
    """Failures allowed for free, then a lock that doubles with each further failure."""
    free: int          # failures before the first lock
    first_lock_s: int  # the first lock; each further failure doubles it
    max_lock_s: int    # the cap
    forget_s: int      # the count starts over this long after the last failure


class FailureBackoff:
    """Exponential backoff on failures (wrong passwords) per key: unlike a window on attempts, it costs
    nothing to whoever does not fail, so an attacker's failures under one key never lock out another key.
    While a key is locked every attempt under it is refused (a right guess too: that is the point)."""

    def __init__(self, redis: aioredis.Redis, prefix: str = "clubhub:fail:") -> None:
        self.redis = redis
        self.prefix = prefix
        self._fail = redis.register_script(_FAIL)

    async def check(self, keys: list[str], what: str) -> None:
        """Refuse (429, ``Retry-After``) while any of ``keys`` is locked."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.ttl(self.prefix + "lock:" + key)
            ttls = await pipe.execute()
        wait = max((int(t) for t in ttls), default=-2)
        if wait > 0:
            raise refuse(what, wait)

    async def failed(self, key: str, policy: Backoff) -> int:
        """Count one failure under ``key``; the lock it set, in seconds (0: none yet)."""
        return int(await self._fail(keys=[self.prefix + key, self.prefix + "lock:" + key],
                                    args=[policy.forget_s, policy.free, policy.first_lock_s, policy.max_lock_s]))

    async def succeeded(self, key: str) -> None:
        await self.redis.delete(self.prefix + key)
