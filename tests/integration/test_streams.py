"""``storage.streams.consume`` with batches in flight: handled concurrently, every entry acknowledged
once after its own handler returned, and a failed batch (with the one out beside it) read again."""

from __future__ import annotations

import asyncio
import uuid

from storage.redis import connect_redis
from storage.streams import consume, ensure_group


async def test_batches_in_flight_are_each_acknowledged_after_their_handler(services):
    redis = connect_redis(services.urls()["redis"])
    stream, group = f"test-stream-{uuid.uuid4().hex[:8]}", "g"
    try:
        await ensure_group(redis, stream, group, "0")
        for i in range(50):
            await redis.xadd(stream, {"n": str(i)})
        seen: list[int] = []
        running = peak = 0
        failed = False

        async def handle(entries):
            nonlocal running, peak, failed
            running += 1
            peak = max(peak, running)
            try:
                # Pending while handled: nothing of this batch is acknowledged before the handler returns.
                pending = await redis.xpending(stream, group)
                assert pending["pending"] >= len(entries)
                await asyncio.sleep(0.05)  # a store's round trip: the next batch starts meanwhile
                numbers = [int(f[b"n"]) for _, f in entries]
                if 20 in numbers and not failed:
                    failed = True
                    raise RuntimeError("the store failed once")
                seen.extend(numbers)
            finally:
                running -= 1

        handled = await asyncio.wait_for(
            consume(redis, stream, group, "c", handle, count=10, block_ms=1, until_idle=True, in_flight=2), 60
        )
        assert peak == 2  # two batches at once
        assert sorted(set(seen)) == list(range(50))  # everything handled; the failed batch again
        assert (await redis.xpending(stream, group))["pending"] == 0
        assert handled >= 50
    finally:
        await redis.delete(stream)
        await redis.aclose()
