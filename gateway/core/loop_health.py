"""How responsive the gateway's event loop is: its lag, and the garbage collector's pauses.

Every socket, ack and delivery of a gateway runs on one event loop, so anything that holds it (a long
callback, a full collection of a heap holding thousands of sockets) delays all of them at once: the tail of
the chat latency. ``clubhub_event_loop_lag_seconds`` is how late a timer of ``INTERVAL_S`` fires;
``clubhub_gc_pause_seconds{generation}`` how long each collection held the process.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

INTERVAL_S = 0.05


def freeze_startup_heap() -> None:
    """Move everything alive now (imported modules, Ray, pydantic models, the ORM) out of the collector's
    reach. Those objects live as long as the process, yet every full collection walked them all: one held the
    gateway's loop for 300 ms under load (``clubhub_gc_pause_seconds``). Frozen, a full collection walks only
    what came after (the same fix as Instagram's ``gc.freeze`` at fork)."""
    gc.collect()
    gc.freeze()


class LoopHealth:
    def __init__(self, metrics: Any) -> None:
        self.metrics = metrics
        self._task: asyncio.Task | None = None
        self._gc_started = 0.0

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch())
        gc.callbacks.append(self._on_gc)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            await asyncio.sleep(INTERVAL_S)
            self.metrics.loop_lag.observe(max(0.0, loop.time() - began - INTERVAL_S))

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.metrics.gc_pause.labels(str(info.get("generation", "?"))).observe(
                time.perf_counter() - self._gc_started
            )
