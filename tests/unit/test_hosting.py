"""The generic virtual-actor host (actors/hosting.py): what every actor body relies on to open its stores
once, activate each room or session once, evict idle ones and keep its background tasks alive."""

import asyncio

import pytest

from actors.hosting import Activations, OpenOnce, TaskSet


async def test_concurrent_callers_open_once_and_a_failed_open_is_tried_again():
    calls, failing = 0, True

    async def opener():
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        if failing:
            raise RuntimeError("store down")

    open_once = OpenOnce(opener)
    first = await asyncio.gather(*(open_once() for _ in range(50)), return_exceptions=True)
    assert calls == 1 and all(isinstance(r, RuntimeError) for r in first)
    assert not open_once.opened
    failing = False
    await asyncio.gather(*(open_once() for _ in range(50)))
    assert calls == 2 and open_once.opened
    await open_once()
    assert calls == 2


async def test_a_cancelled_caller_does_not_cancel_the_opening():
    calls = 0

    async def opener():
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)

    open_once = OpenOnce(opener)
    caller = asyncio.ensure_future(open_once())
    await asyncio.sleep(0)
    caller.cancel()
    await open_once()
    assert open_once.opened and calls == 1


class Room:
    def __init__(self, key: int) -> None:
        self.sockets = {f"gw{key}/sid"}
        self.last_used = 0.0

    def idle_for(self, now: float) -> float:
        return now - self.last_used if not self.sockets else 0.0

    def socket_keys(self):
        return self.sockets

    def drop_gateway(self, gateway_id: str) -> bool:
        self.sockets = {s for s in self.sockets if not s.startswith(gateway_id + "/")}
        return True


async def test_a_key_is_activated_once_however_many_callers_and_a_failed_activation_is_not_kept():
    activations = 0

    async def activate(key: int) -> Room:
        nonlocal activations
        activations += 1
        await asyncio.sleep(0.01)
        if key < 0:
            raise KeyError(key)
        return Room(key)

    host = Activations(activate)
    rooms = await asyncio.gather(*(host(1) for _ in range(20)))
    assert activations == 1 and all(r is rooms[0] for r in rooms) and 1 in host
    failed = await asyncio.gather(*(host(-1) for _ in range(5)), return_exceptions=True)
    assert activations == 2 and all(isinstance(r, KeyError) for r in failed) and -1 not in host
    with pytest.raises(KeyError):
        await host(-1)  # tried again, not remembered as failed
    assert activations == 3
    assert host.stats()["active"] == 1 and host.stats()["online_sockets"] == 1


async def test_idle_activations_are_evicted_and_busy_ones_kept():
    async def activate(key: int) -> Room:
        return Room(key)

    host = Activations(activate)
    idle, busy = await host(1), await host(2)
    idle.sockets.clear()
    assert host.evict_idle(idle_s=60, now_monotonic=61) == [1]
    assert 1 not in host and host.get(2) is busy
    assert host.stats()["evictions"] == 1


async def test_spawned_tasks_stay_referenced_until_done():
    tasks = TaskSet()
    done = asyncio.Event()
    task = tasks.spawn(done.wait())
    assert len(tasks) == 1
    done.set()
    await task
    await asyncio.sleep(0)
    assert len(tasks) == 0
