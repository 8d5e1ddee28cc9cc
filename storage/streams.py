"""Consuming a Redis stream in a consumer group, at least once, without stranding entries.

A consumer first re-reads what it took earlier and never acknowledged (after its own restart, or after a
failed batch), then new entries; an entry is acknowledged only after ``handle`` returned. Optionally it
also claims entries that another consumer (a dead gateway) left unacknowledged for too long. Handlers
must therefore be idempotent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from redis.exceptions import ResponseError

log = logging.getLogger(__name__)

Entries = list[tuple[bytes, dict]]


async def ensure_group(redis, stream: str, group: str, start_id: str) -> None:
    try:
        await redis.xgroup_create(stream, group, id=start_id, mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def _claim_stale(redis, stream, group, consumer, handle, idle_ms: int, count: int) -> None:
    """Handle (then acknowledge) what another consumer left unacknowledged for longer than ``idle_ms``."""
    claimed = await redis.xautoclaim(
        stream, group, consumer, min_idle_time=idle_ms, start_id="0-0", count=count
    )
    stale = [e for e in claimed[1] if e[1]]
    if stale:
        await handle(stale)
        await redis.xack(stream, group, *[entry_id for entry_id, _ in stale])


async def consume(
    redis,
    stream: str,
    group: str,
    consumer: str,
    handle: Callable[[Entries], Awaitable[None]],
    *,
    count: int = 200,
    block_ms: int = 1000,
    claim_idle_ms: int | None = None,
    claim_every_s: float = 30.0,
    until_idle: bool = False,
    linger_s: float = 0.0,
    in_flight: int = 1,
) -> int:
    """Run forever (until cancelled), or with ``until_idle`` until no new entry is left; returns the
    number of entries handled.

    ``linger_s``: after a read that found fewer than ``count`` entries, wait this long before the next, so
    a trickle is handled in batches (one read, one handle, one ack per batch) instead of one round of them
    per entry. A side effect that may come a fraction of a second later costs far less CPU this way.

    ``in_flight``: how many batches of new entries may be handled at once (each acknowledged when its own
    handle returns): a handler that waits on a store for part of its work overlaps that wait with the next
    batch. The handler must then be safe to run concurrently with itself. Re-read entries (after a restart
    or a failure) are handled one batch at a time."""
    handled = 0
    start = "0"
    last_claim = time.monotonic()
    running: deque[tuple[asyncio.Task, list]] = deque()

    async def finish_oldest() -> int:
        task, ids = running[0]
        try:
            await task
        finally:
            running.popleft()
        await redis.xack(stream, group, *ids)
        return len(ids)

    while True:
        try:
            if claim_idle_ms is not None and time.monotonic() - last_claim > claim_every_s:
                last_claim = time.monotonic()
                await _claim_stale(redis, stream, group, consumer, handle, claim_idle_ms, count)
            reply = await redis.xreadgroup(group, consumer, {stream: start}, count=count, block=block_ms)
            entries = reply[0][1] if reply else []
            if start == "0" and not entries:
                start = ">"
                continue
            if entries:
                ids = [entry_id for entry_id, _ in entries]
                if start == "0" or in_flight <= 1:
                    await handle(entries)
                    await redis.xack(stream, group, *ids)
                    handled += len(entries)
                else:
                    running.append((asyncio.ensure_future(handle(entries)), ids))
                    while len(running) >= in_flight:
                        handled += await finish_oldest()
                if linger_s and len(entries) < count and start == ">":
                    await asyncio.sleep(linger_s)
            else:
                while running:
                    handled += await finish_oldest()
                if until_idle:
                    return handled
        except asyncio.CancelledError:
            for task, _ in running:
                task.cancel()
            raise
        except Exception:
            log.exception("stream consumer failed; retrying", extra={"stream": stream, "group": group})
            # What failed, and any batch still out, stays pending: read it again before anything new.
            for task, _ in running:
                task.cancel()
            await asyncio.gather(*(task for task, _ in running), return_exceptions=True)
            running.clear()
            start = "0"
            await asyncio.sleep(1)


async def group_lag(redis, stream: str, group: str, now_ms: int | None = None) -> dict | None:
    """How far ``group`` is behind on ``stream``; ``None`` when the stream or the group does not exist.

    ``pending``: entries delivered to a consumer and not acknowledged yet. ``lag_s``: the age of the oldest
    entry the group has not finished (the oldest pending one, or else the first not delivered yet), by the
    time in its id; 0 when it is all done. ``lag``: entries not delivered yet, as Redis 7 reports it (Redis
    6.2 has no such count: ``None``; so has Redis 7 when it cannot tell, after deletions). Three O(log n)
    commands in two round trips, whatever the backlog.
    """
    try:
        groups = await redis.xinfo_groups(stream)
    except ResponseError:
        return None  # no such key: nothing was ever added, and no group made it
    info = next((g for g in groups if _text(g.get("name")) == group), None)
    if info is None:
        return None
    last = _text(info.get("last-delivered-id")) or "0-0"
    async with redis.pipeline(transaction=False) as pipe:
        pipe.xpending(stream, group)
        pipe.xrange(stream, min="(" + last, max="+", count=1)
        pending, undelivered = await pipe.execute()
    oldest = []
    if pending and pending.get("pending") and pending.get("min"):
        oldest.append(_id_ms(pending["min"]))
    if undelivered:
        oldest.append(_id_ms(undelivered[0][0]))
    now = time.time() * 1000 if now_ms is None else now_ms
    lag_s = max(0.0, (now - min(oldest)) / 1000) if oldest else 0.0
    lag = info.get("lag")
    return {
        "pending": int(info.get("pending") or 0),
        "lag_s": lag_s,
        "lag": None if lag is None else int(lag),
    }


def _text(value) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _id_ms(entry_id) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
    return int(text.split("-", 1)[0])
