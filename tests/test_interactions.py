"""The interaction pipeline: validated batches → Redis stream → consumer actor → MongoDB and signals,
with an exactly-once effect through redeliveries and a consumer restart."""
import asyncio
import uuid

import pytest
import ray

from conftest import wait_for
from gateway.rest_chat import CHAT
from ranking import signals
from storage import mongo
from test_clubs import Api


def ids(n):
    return [uuid.uuid4().hex for _ in range(n)]


async def popularity(redis, key):
    raw = await redis.hget(signals.POPULARITY_KEY, key)
    return float(raw) if raw else 0.0


async def stored(gateway, interaction_ids):
    coll = gateway.backends.stores.mongo[mongo.INTERACTIONS]
    return await coll.count_documents({"_id": {"$in": interaction_ids}})


@pytest.mark.parametrize("body", [
    [], {"item_type": "event"}, [{"item_type": "event", "item_id": 1, "kind": "like"}],
    [{"item_type": "event", "item_id": 1, "kind": "dwell"}],
    [{"item_type": "event", "item_id": "1", "kind": "click", "extra": True}],
    [{"item_type": "event", "item_id": 1, "kind": "click"}] * 201,
])
async def test_bad_interaction_batches_are_refused_and_store_nothing(gateway, member, http, body):
    redis = gateway.backends.stores.redis
    before = await redis.xlen("clubhub:interactions")
    resp = await http.post("/api/v1/interactions", json=body, headers={"Authorization": f"Bearer {member.token}"})
    assert resp.status == 422 and (await resp.json())["error"]["code"] == "invalid"
    assert await redis.xlen("clubhub:interactions") == before


async def test_interactions_are_stored_once_and_feed_signals(gateway, member, http):
    api = Api(http, member)
    _, club = await api.call("POST", "/clubs", {"name": "Signals", "description": "pipeline"}, expect=201)
    _, rooms = await api.call("GET", f"/clubs/{club['id']}/rooms", expect=200)
    room_id = rooms["rooms"][0]["id"]
    batch_ids = ids(3)
    batch = [{"item_type": "room", "item_id": room_id, "kind": "click", "interaction_id": batch_ids[0]},
             {"item_type": "room", "item_id": room_id, "kind": "dwell", "dwell_ms": 60_000,
              "interaction_id": batch_ids[1]},
             {"item_type": "club", "item_id": club["id"], "kind": "impression", "interaction_id": batch_ids[2]}]
    status, body = await api.call("POST", "/interactions", batch)
    assert status == 202 and body == {"accepted": 3}
    redis = gateway.backends.stores.redis

    async def landed():
        return await stored(gateway, batch_ids) == 3 and await popularity(redis, f"room:{room_id}") > 0

    await wait_for(landed)
    room_pop = await popularity(redis, f"room:{room_id}")
    # click (1) + 60 s dwell (2), anchored: decayed to now it is ~3.
    assert signals.decayed(room_pop, __import__("time").time()) == pytest.approx(3.0, rel=0.01)
    affinity = await redis.hgetall(signals.AFFINITY_KEY + str(member.user_id))
    assert f"club:{club['id']}".encode() in affinity and f"room:{room_id}".encode() in affinity

    # The same batch again (a client retry): nothing stored or counted twice.
    assert (await api.call("POST", "/interactions", batch))[0] == 202
    marker = ids(1)
    await api.call("POST", "/interactions", [{"item_type": "club", "item_id": club["id"], "kind": "click",
                                              "interaction_id": marker[0]}], expect=202)

    async def marker_landed():
        return await stored(gateway, marker) == 1

    await wait_for(marker_landed)  # the stream is ordered: the retried batch was handled before it
    assert await popularity(redis, f"room:{room_id}") == room_pop
    assert await stored(gateway, batch_ids) == 3


async def test_consumer_restart_loses_and_doubles_nothing(gateway, member, http):
    api = Api(http, member)
    _, club = await api.call("POST", "/clubs", {"name": "Restart", "description": "pipeline"}, expect=201)
    chat = gateway.app[CHAT]
    redis = gateway.backends.stores.redis
    key = f"club:{club['id']}"
    first = ids(20)
    await api.call("POST", "/interactions", [{"item_type": "club", "item_id": club["id"], "kind": "click",
                                              "interaction_id": i} for i in first], expect=202)
    ray.kill(chat.consumer, no_restart=False)  # mid-stream: some of these may be taken but not acknowledged
    second = ids(20)
    await api.call("POST", "/interactions", [{"item_type": "club", "item_id": club["id"], "kind": "click",
                                              "interaction_id": i} for i in second], expect=202)

    async def all_landed():
        return await stored(gateway, first + second) == 40

    await wait_for(all_landed, timeout=60)
    await asyncio.sleep(1.0)  # anything redelivered after the restart has been handled by now
    total = signals.decayed(await popularity(redis, key), __import__("time").time())
    assert total == pytest.approx(40 * 1.0, rel=0.01)  # 40 clicks, each counted exactly once
