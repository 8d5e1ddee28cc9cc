"""``ShardBatcher``: coalescing by arrival, and a call that never returns does not hold back later sends."""

import asyncio

from actors.client import ShardBatcher
from actors.domain.errors import DomainError


class Handle:
    """A shard handle whose ``apply.remote`` calls are answered (or not) by the test."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[dict], asyncio.Future]] = []

    @property
    def apply(self):
        return self

    def remote(self, ops, sent_at):
        fut = asyncio.get_running_loop().create_future()
        self.calls.append((ops, fut))
        return fut


def answer(handle: Handle, k: int) -> None:
    ops, fut = handle.calls[k]
    fut.set_result([{"n": op["n"]} for op in ops])


async def test_sends_of_one_loop_iteration_go_in_one_call_and_later_ones_wait_for_a_free_slot():
    handle = Handle()
    batcher = ShardBatcher(handle, 0, 256, max_in_flight=1, stalled_s=30)
    first = [asyncio.ensure_future(batcher.submit({"n": i})) for i in range(3)]
    await asyncio.sleep(0.01)
    assert [len(ops) for ops, _ in handle.calls] == [3]
    later = [asyncio.ensure_future(batcher.submit({"n": i})) for i in range(3, 5)]
    await asyncio.sleep(0.01)
    assert len(handle.calls) == 1  # one call out: the next ones gather
    answer(handle, 0)
    assert [r["n"] for r in await asyncio.gather(*first)] == [0, 1, 2]
    await asyncio.sleep(0.01)
    assert [len(ops) for ops, _ in handle.calls] == [3, 2]
    answer(handle, 1)
    assert [r["n"] for r in await asyncio.gather(*later)] == [3, 4]


async def test_calls_that_never_return_do_not_hold_back_the_shards_next_sends():
    handle = Handle()
    batcher = ShardBatcher(handle, 0, 256, max_in_flight=2, stalled_s=0.2)
    lost = []
    for i in range(2):  # two calls Ray never answers
        lost.append(asyncio.ensure_future(batcher.submit({"n": i})))
        await asyncio.sleep(0.01)
    assert len(handle.calls) == 2
    waiting = asyncio.ensure_future(batcher.submit({"n": 2}))
    await asyncio.sleep(0.05)
    assert len(handle.calls) == 2  # both slots taken, not yet stalled
    await asyncio.sleep(0.3)
    assert len(handle.calls) == 3  # sent once the two were out longer than stalled_s
    answer(handle, 2)
    assert (await asyncio.wait_for(waiting, 1))["n"] == 2
    # Later sends go at once: the lost calls no longer count.
    again = asyncio.ensure_future(batcher.submit({"n": 3}))
    await asyncio.sleep(0.01)
    assert len(handle.calls) == 4
    answer(handle, 3)
    assert (await asyncio.wait_for(again, 1))["n"] == 3
    for task in lost:
        task.cancel()


async def test_a_call_unanswered_past_the_deadline_is_refused_as_unavailable():
    from actors.client import call
    from actors.domain.errors import DomainError

    handle = Handle()
    batcher = ShardBatcher(handle, 0, 256, stalled_s=0.1, deadline_s=0.2)
    try:
        await batcher.submit({"n": 1})
    except DomainError as exc:
        assert exc.code == "unavailable"
    else:
        raise AssertionError("an unanswered send was not refused")
    answer(handle, 0)  # the late answer is dropped, nothing waits on it any more

    never = asyncio.get_running_loop().create_future()
    try:
        await call(never, "feed down", deadline_s=0.1)
    except DomainError as exc:
        assert (exc.code, exc.message) == ("unavailable", "feed down")
    else:
        raise AssertionError("an unanswered call was not refused")


class Ranker:
    """A ranker handle: ``feeds.remote`` answers each request, one of them refused."""

    def __init__(self) -> None:
        self.calls: list[list[dict]] = []

    @property
    def feeds(self):
        return self

    async def remote(self, requests, sent_at):
        self.calls.append(requests)
        return [
            DomainError("unavailable", "ranker down") if r["user_id"] == 13 else {"user": r["user_id"]}
            for r in requests
        ]


async def test_the_batcher_drives_any_actor_method_and_each_request_gets_its_own_answer():
    ranker = Ranker()
    batcher = ShardBatcher(ranker, 0, 16, method="feeds", unavailable="feed unavailable")
    results = await asyncio.gather(
        *(batcher.submit({"user_id": u, "limit": 20}) for u in (7, 13, 21)), return_exceptions=True
    )
    assert [len(c) for c in ranker.calls] == [3]
    assert results[0] == {"user": 7} and results[2] == {"user": 21}
    assert isinstance(results[1], DomainError) and results[1].code == "unavailable"


async def test_an_unanswered_batch_is_unavailable_with_the_batchers_own_message():
    handle = Handle()
    batcher = ShardBatcher(handle, 0, 16, deadline_s=0.1, method="apply", unavailable="feed unavailable")
    try:
        await batcher.submit({"n": 1})
    except DomainError as exc:
        assert exc.code == "unavailable" and exc.message == "feed unavailable"
    else:
        raise AssertionError("no answer must be unavailable")
