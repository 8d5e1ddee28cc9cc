"""Rate limits: in Redis, shared by every gateway process (fixed windows, failure backoff), and per
gateway in memory (token buckets per user or client address).

A token bucket per user that was never dropped grows with every user the gateway has ever seen; past
``max_users`` the least recently used bucket goes (it restarts full, which only helps a user who was idle
longer than every other one of the ``max_users``).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

import redis.asyncio as aioredis

from actors.domain.errors import DomainError
from actors.domain.session import TokenBucket
from storage import keys

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


def refuse(what: str, wait: int) -> DomainError:
    """The contract's ``rate_limited``; over HTTP ``retry_after`` becomes the ``Retry-After`` header."""
    return DomainError("rate_limited", f"too many {what}; retry in {wait}s", retry_after=wait)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    count: int
    retry_after_s: int


class RateLimiter:
    def __init__(self, redis: aioredis.Redis, prefix: str = keys.RATE_LIMIT_PREFIX) -> None:
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

    free: int  # failures before the first lock
    first_lock_s: int  # the first lock; each further failure doubles it
    max_lock_s: int  # the cap
    forget_s: int  # the count starts over this long after the last failure


class FailureBackoff:
    """Exponential backoff on failures (wrong passwords) per key: unlike a window on attempts, it costs
    nothing to whoever does not fail, so an attacker's failures under one key never lock out another key.
    While a key is locked every attempt under it is refused (a right guess too: that is the point)."""

    def __init__(self, redis: aioredis.Redis, prefix: str = keys.FAILURE_PREFIX) -> None:
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
        return int(
            await self._fail(
                keys=[self.prefix + key, self.prefix + "lock:" + key],
                args=[policy.forget_s, policy.free, policy.first_lock_s, policy.max_lock_s],
            )
        )

    async def succeeded(self, key: str) -> None:
        await self.redis.delete(self.prefix + key)


class UserBuckets:
    """Token buckets by key: a user id, or a client address."""

    def __init__(self, rate: float, burst: float, max_users: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_users = max_users
        self._buckets: OrderedDict[int | str, TokenBucket] = OrderedDict()

    def wait(self, user_id: int | str, now: float | None = None) -> float:
        """0.0 when the user may act now (a token is taken), else the seconds until they may."""
        bucket = self._buckets.get(user_id)
        if bucket is None:
            bucket = self._buckets[user_id] = TokenBucket(self.rate, self.burst)
            if len(self._buckets) > self.max_users:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(user_id)
        return bucket.take(time.monotonic() if now is None else now)

    def take(self, user_id: int | str, what: str) -> None:
        """Take a token, or refuse with ``rate_limited`` naming ``what`` ("messages") and the wait."""
        wait = self.wait(user_id)
        if wait > 0:
            raise DomainError(
                "rate_limited", f"too many {what}: wait {max(wait, 0.1):.1f}s", retry_after=wait
            )

    def __len__(self) -> int:
        return len(self._buckets)
