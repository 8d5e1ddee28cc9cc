"""Waiting on a condition with a deadline (never a bare sleep before an assertion)."""

from __future__ import annotations

import asyncio
import time


async def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    """Poll an async predicate until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await predicate()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")
