"""The generic virtual-actor host every actor body is built from (Orleans-style activations).

- ``OpenOnce``: an actor opens its stores once. The first caller starts the opening and every caller,
  concurrent or later, awaits that same task; the task is created before anything is awaited, so two
  openings at once cannot happen (the race fixed by hand for the ranker in 417ccee). A failed opening
  is forgotten, so the next call tries again.
- ``Activations``: objects hosted per key (rooms, user sessions), activated on first use — one activation
  per key however many callers wait for it — deactivated on demand, swept when idle, and told when a
  gateway died so they forget its sockets.
- ``TaskSet``: background tasks referenced until done (the event loop keeps only weak references, and a
  collected task would leave whoever waits on it waiting for ever).
- ``every`` and ``dead_gateways``: the periodic sweep and the gateway heartbeat check.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from storage import keys

log = logging.getLogger(__name__)

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
A = TypeVar("A", bound="Activation")


class Activation(Protocol):
    """What a hosted object tells its host: how long it has been idle and which sockets it holds."""

    def idle_for(self, now_monotonic: float) -> float: ...

    def socket_keys(self) -> Iterable[str]: ...

    def drop_gateway(self, gateway_id: str) -> Any: ...


class OpenOnce:
    """Run ``opener`` once for every caller; after a failure the next caller runs it again."""

    def __init__(self, opener: Callable[[], Awaitable[None]]) -> None:
        self._opener = opener
        self._task: asyncio.Future[None] | None = None

    @property
    def opened(self) -> bool:
        t = self._task
        return t is not None and t.done() and not t.cancelled() and t.exception() is None

    async def __call__(self) -> None:
        task = self._task
        if task is None:
            task = self._task = asyncio.ensure_future(self._opener())
        try:
            # Shielded: a caller that gives up does not cancel the opening the others wait for.
            await asyncio.shield(task)
        except BaseException:
            if task.done() and (task.cancelled() or task.exception() is not None) and self._task is task:
                self._task = None
            raise


class TaskSet:
    """Background tasks, each referenced until it is done."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    async def close(self) -> None:
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@dataclass
class Sweep(Generic[K, A]):
    """What one sweep did: gateways found dead, what each hosted object answered when told (per gateway),
    and the keys evicted as idle."""

    dead_gateways: list[str] = field(default_factory=list)
    dropped: list[tuple[str, K, A, Any]] = field(default_factory=list)
    evicted: list[K] = field(default_factory=list)


class Activations(Generic[K, A]):
    """Objects hosted per key; ``activate(key)`` builds one (e.g. from the stores)."""

    def __init__(self, activate: Callable[[K], Awaitable[A]]) -> None:
        self._activate = activate
        self._active: dict[K, A] = {}
        self._activating: dict[K, asyncio.Task[A]] = {}
        self.activations = 0
        self.evictions = 0

    def get(self, key: K) -> A | None:
        return self._active.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._active

    def __len__(self) -> int:
        return len(self._active)

    def __iter__(self) -> Iterator[K]:
        return iter(self._active)

    def values(self) -> Iterable[A]:
        return self._active.values()

    def items(self) -> Iterable[tuple[K, A]]:
        return self._active.items()

    async def __call__(self, key: K) -> A:
        """The active object for ``key``, activating it once however many callers ask at the same time."""
        obj = self._active.get(key)
        if obj is not None:
            return obj
        task = self._activating.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._run_activation(key))
            self._activating[key] = task
            task.add_done_callback(functools.partial(self._activated, key))
        return await asyncio.shield(task)

    def _activated(self, key: K, _task: asyncio.Task[A]) -> None:
        self._activating.pop(key, None)

    async def _run_activation(self, key: K) -> A:
        obj = await self._activate(key)
        self._active[key] = obj
        self.activations += 1
        return obj

    def deactivate(self, key: K) -> A | None:
        return self._active.pop(key, None)

    def socket_keys(self) -> Iterator[str]:
        for obj in self._active.values():
            yield from obj.socket_keys()

    def evict_idle(self, idle_s: float, now_monotonic: float | None = None) -> list[K]:
        now = time.monotonic() if now_monotonic is None else now_monotonic
        evicted = [k for k, obj in self._active.items() if obj.idle_for(now) > idle_s]
        for k in evicted:
            del self._active[k]
        self.evictions += len(evicted)
        return evicted

    async def sweep(self, redis: Any, idle_s: float) -> Sweep[K, A]:
        """Forget the sockets of gateways that died silently, then evict what has been idle too long."""
        result: Sweep[K, A] = Sweep()
        result.dead_gateways = await dead_gateways(redis, self.socket_keys())
        for gw in result.dead_gateways:
            for key, obj in list(self._active.items()):
                result.dropped.append((gw, key, obj, obj.drop_gateway(gw)))
        result.evicted = self.evict_idle(idle_s)
        return result

    def stats(self) -> dict[str, int]:
        return {
            "active": len(self._active),
            "online_sockets": sum(1 for _ in self.socket_keys()),
            "activations": self.activations,
            "evictions": self.evictions,
        }


async def every(seconds: float, sweep: Callable[[], Awaitable[object]], what: str) -> None:
    """Run ``sweep`` every ``seconds`` until cancelled; a failed sweep is logged, not fatal."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await sweep()
        except Exception:
            log.exception("%s housekeeping failed", what)


async def dead_gateways(redis: Any, socket_keys: Iterable[str]) -> list[str]:
    """Gateways (from ``<gateway_id>/<sid>`` socket keys) whose heartbeat key has expired."""
    gateways = {key.split("/", 1)[0] for key in socket_keys}
    # Each live gateway refreshes its heartbeat key (a TTL of a few housekeeping periods).
    return [gw for gw in gateways if not await redis.exists(keys.gateway_heartbeat(gw))]
