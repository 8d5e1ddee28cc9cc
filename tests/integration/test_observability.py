"""The figures the dashboards and alerts of deploy/observability need, from a real gateway on real services:
store latency per operation, consumer lag of the interaction and activity streams, backend readiness,
shard start times (restarts) and activations; and the pieces behind them (storage.timing, group_lag)."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from support.chat import ChatClient, make_club_room
from support.members import make_member
from support.wait import wait_for

from storage.redis import connect_redis
from storage.streams import ensure_group, group_lag
from storage.timing import StoreTimings

SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$", re.M)


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample of ``name`` in exposition text, as (labels, value)."""
    found = []
    for m in SAMPLE.finditer(text):
        if m.group("name") == name:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group("labels") or ""))
            found.append((labels, float(m.group("value"))))
    return found


@pytest.fixture
async def chatting(gateway, smtp):
    """Two members of a club room, connected and joined, one message sent and delivered."""
    ada, bob = [await make_member(gateway.url, smtp, name) for name in ("Ada", "Bob")]
    room = await make_club_room(ada.user_id, [bob.user_id])
    clients = [await ChatClient(gateway.url, m.token).connect() for m in (ada, bob)]
    for client in clients:
        await client.join(room.id)
    assert (await clients[0].send(room.id, "observed"))["ok"]
    await clients[1].wait_seqs(room.id, 1)
    yield room.id, clients
    for client in clients:
        await client.close()


async def test_every_store_call_is_timed_by_store_and_operation(gateway, http, chatting):
    """Signing up and logging in (PostgreSQL), tokens, rate limits and presence (Redis), and the readiness
    check each scrape runs (MongoDB's ping): each store shows operations with real, non-zero durations."""

    async def timed():
        text = await (await http.get("/metrics")).text()
        counts = samples(text, "clubhub_store_operation_seconds_count")
        sums = {
            (lb["store"], lb["operation"]): v
            for lb, v in samples(text, "clubhub_store_operation_seconds_sum")
        }
        by_store: dict[str, dict[str, float]] = {}
        for labels, n in counts:
            if n > 0:
                by_store.setdefault(labels["store"], {})[labels["operation"]] = n
        return (by_store, sums) if {"postgres", "mongo", "redis"} <= set(by_store) else None

    by_store, sums = await wait_for(timed, timeout=20)
    assert by_store["postgres"].get("select", 0) > 0 and by_store["postgres"].get("insert", 0) > 0, by_store
    assert by_store["mongo"].get("ping", 0) > 0, by_store
    assert by_store["redis"], by_store
    for store, ops in by_store.items():
        for op in ops:
            assert sums[(store, op)] > 0, (store, op)  # real time was measured, not a count alone
    # Bounded: a few operations per store, never the text of a query or a key.
    assert all(len(ops) <= 32 for ops in by_store.values())
    assert all(re.fullmatch(r"[a-zA-Z_]+", op) for ops in by_store.values() for op in ops), by_store


async def test_timed_redis_reports_commands_and_pipelines_but_not_blocking_reads(services):
    seen: list[tuple[str, str, float]] = []
    redis = connect_redis(services.urls()["redis"], StoreTimings(lambda *a: seen.append(a)))
    stream, key = f"test-timing-{uuid.uuid4().hex[:8]}", f"test-timing-key-{uuid.uuid4().hex[:8]}"
    try:
        await redis.set(key, "1")
        assert await redis.get(key) == b"1"
        async with redis.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.incr(key)
            assert await pipe.execute() == [2, 3]
        await ensure_group(redis, stream, "g", "$")
        del seen[:]
        # A blocking read waits for entries: that is not the store's latency and must not count.
        assert not await redis.xreadgroup("g", "c", {stream: ">"}, count=1, block=50)
        assert seen == []
        await redis.xreadgroup("g", "c", {stream: ">"}, count=1)
        assert [op for _, op, _ in seen] == ["xreadgroup"]
    finally:
        await redis.delete(key, stream)
        await redis.aclose()
    assert all(store == "redis" and 0 < seconds < 5 for store, _, seconds in seen)


async def test_group_lag_is_the_age_of_the_oldest_entry_not_finished(services):
    redis = connect_redis(services.urls()["redis"])
    stream, group = f"test-lag-{uuid.uuid4().hex[:8]}", "g"
    now_ms = int(time.time() * 1000)
    try:
        assert await group_lag(redis, stream, group) is None  # no stream
        for age_s in (60, 30, 10):
            await redis.xadd(stream, {"n": str(age_s)}, id=f"{now_ms - age_s * 1000}-0")
        assert await group_lag(redis, stream, group) is None  # no group
        await ensure_group(redis, stream, group, "0")
        lag = await group_lag(redis, stream, group, now_ms=now_ms)
        assert lag is not None and lag["pending"] == 0 and lag["lag_s"] == 60.0
        # Redis 7 counts the entries not delivered; the embedded Redis 6.2 cannot (None).
        assert lag["lag"] in (None, 3)
        # Read, not acknowledged: still the oldest not finished.
        (entry_id, _), *_ = (await redis.xreadgroup(group, "c", {stream: ">"}, count=1))[0][1]
        lag = await group_lag(redis, stream, group, now_ms=now_ms)
        assert lag["pending"] == 1 and lag["lag_s"] == 60.0
        await redis.xack(stream, group, entry_id)
        lag = await group_lag(redis, stream, group, now_ms=now_ms)
        assert lag["pending"] == 0 and lag["lag_s"] == 30.0
        rest = (await redis.xreadgroup(group, "c", {stream: ">"}))[0][1]
        await redis.xack(stream, group, *[i for i, _ in rest])
        lag = await group_lag(redis, stream, group, now_ms=now_ms)
        assert lag == {"pending": 0, "lag_s": 0.0, "lag": lag["lag"]} and lag["lag"] in (None, 0)
    finally:
        await redis.delete(stream)
        await redis.aclose()


async def test_metrics_show_stream_lag_readiness_and_the_shards_start_times(gateway, http, chatting):
    session_start = time.time() - 24 * 3600

    async def scraped():
        text = await (await http.get("/metrics")).text()
        lag = {lb["stream"]: (lb["group"], v) for lb, v in samples(text, "clubhub_stream_lag_seconds")}
        return text if {"interactions", "activity", "notify", "search"} <= set(lag) else None

    text = await wait_for(scraped, timeout=20)
    lag = {lb["stream"]: (lb["group"], v) for lb, v in samples(text, "clubhub_stream_lag_seconds")}
    assert lag["interactions"][0] == "interaction-consumer" and lag["activity"][0] == "achievements"
    assert lag["notify"][0] == "notifier" and lag["search"][0] == "indexer"
    # Both consumers keep up with this little traffic: well under the alert's two minutes.
    assert all(0 <= v < 120 for _, v in lag.values()), lag
    pending = {lb["stream"] for lb, v in samples(text, "clubhub_stream_pending_entries") if v >= 0}
    assert pending == {"interactions", "activity", "notify", "search"}
    assert "# TYPE clubhub_stream_lag_entries gauge" in text

    ready = {lb["backend"]: v for lb, v in samples(text, "clubhub_backend_ready")}
    assert ready == {"postgres": 1.0, "mongo": 1.0, "redis": 1.0, "s3": 1.0, "janus": 1.0, "ray": 1.0}

    started = samples(text, "clubhub_shard_start_time_seconds")
    kinds = {lb["kind"] for lb, _ in started}
    assert kinds == {"room", "session"}, started
    assert all(session_start < v <= time.time() for _, v in started), started
    activations = sum(
        v for lb, v in samples(text, "clubhub_shard_events_total") if lb["event"] == "activations"
    )
    assert activations >= 1  # the room joined above was activated on its shard
