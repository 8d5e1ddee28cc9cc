"""The interaction pipeline: validated batches → Redis stream → consumer actor → MongoDB and signals,
with an exactly-once effect through redeliveries and a consumer restart."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import ray
from support.chat import ChatClient
from support.members import Api, client_session, make_member
from support.wait import wait_for

from gateway.http.keys import ACTORS
from ranking import signals
from storage import keys, mongo


def ids(n):
    return [uuid.uuid4().hex for _ in range(n)]


async def popularity(redis, key):
    raw = await redis.hget(keys.POPULARITY, key)
    return float(raw) if raw else 0.0


async def stored(gateway, user_id, interaction_ids):
    """How many of a user's client ids are stored (they are stored as ``u<user_id>:<id>``, issue 11 L4)."""
    coll = gateway.backends.stores.mongo[mongo.INTERACTIONS]
    return await coll.count_documents({"_id": {"$in": [f"u{user_id}:{i}" for i in interaction_ids]}})


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"item_type": "event"},
        [{"item_type": "event", "item_id": 1, "kind": "like"}],
        [{"item_type": "event", "item_id": 1, "kind": "dwell"}],
        [{"item_type": "event", "item_id": "1", "kind": "click", "extra": True}],
        [{"item_type": "event", "item_id": 1, "kind": "click"}] * 201,
    ],
)
async def test_bad_interaction_batches_are_refused_and_store_nothing(gateway, member, http, body):
    redis = gateway.backends.stores.redis
    before = await redis.xlen("clubhub:interactions")
    resp = await http.post(
        "/api/v1/interactions", json=body, headers={"Authorization": f"Bearer {member.token}"}
    )
    assert resp.status == 422 and (await resp.json())["error"]["code"] == "invalid"
    assert await redis.xlen("clubhub:interactions") == before


async def test_interactions_are_stored_once_and_feed_signals(gateway, member, http):
    api = Api(http, member)
    _, club = await api.call("POST", "/clubs", {"name": "Signals", "description": "pipeline"}, expect=201)
    _, rooms = await api.call("GET", f"/clubs/{club['id']}/rooms", expect=200)
    room_id = rooms["rooms"][0]["id"]
    batch_ids = ids(3)
    batch = [
        {"item_type": "room", "item_id": room_id, "kind": "click", "interaction_id": batch_ids[0]},
        {
            "item_type": "room",
            "item_id": room_id,
            "kind": "dwell",
            "dwell_ms": 60_000,
            "interaction_id": batch_ids[1],
        },
        {"item_type": "club", "item_id": club["id"], "kind": "impression", "interaction_id": batch_ids[2]},
    ]
    status, body = await api.call("POST", "/interactions", batch)
    assert status == 202 and body == {"accepted": 3}
    redis = gateway.backends.stores.redis

    async def landed():
        return (
            await stored(gateway, member.user_id, batch_ids) == 3
            and await popularity(redis, f"room:{room_id}") > 0
        )

    await wait_for(landed)
    room_pop = await popularity(redis, f"room:{room_id}")
    # click (1) + 60 s dwell (2), anchored: decayed to now it is ~3.
    assert signals.decayed(room_pop, __import__("time").time()) == pytest.approx(3.0, rel=0.01)
    affinity = await redis.hgetall(keys.affinity(member.user_id))
    assert f"club:{club['id']}".encode() in affinity and f"room:{room_id}".encode() in affinity

    # The same batch again (a client retry): nothing stored or counted twice.
    assert (await api.call("POST", "/interactions", batch))[0] == 202
    marker = ids(1)
    await api.call(
        "POST",
        "/interactions",
        [{"item_type": "club", "item_id": club["id"], "kind": "click", "interaction_id": marker[0]}],
        expect=202,
    )

    async def marker_landed():
        return await stored(gateway, member.user_id, marker) == 1

    await wait_for(marker_landed)  # the stream is ordered: the retried batch was handled before it
    assert await popularity(redis, f"room:{room_id}") == room_pop
    assert await stored(gateway, member.user_id, batch_ids) == 3


async def test_consumer_restart_loses_and_doubles_nothing(gateway, member, http):
    api = Api(http, member)
    _, club = await api.call("POST", "/clubs", {"name": "Restart", "description": "pipeline"}, expect=201)
    chat = gateway.app[ACTORS]
    redis = gateway.backends.stores.redis
    key = f"club:{club['id']}"
    first = ids(20)
    await api.call(
        "POST",
        "/interactions",
        [{"item_type": "club", "item_id": club["id"], "kind": "click", "interaction_id": i} for i in first],
        expect=202,
    )
    ray.kill(chat.consumer, no_restart=False)  # mid-stream: some of these may be taken but not acknowledged
    second = ids(20)
    await api.call(
        "POST",
        "/interactions",
        [{"item_type": "club", "item_id": club["id"], "kind": "click", "interaction_id": i} for i in second],
        expect=202,
    )

    async def all_landed():
        return await stored(gateway, member.user_id, first + second) == 40

    await wait_for(all_landed, timeout=60)
    # A restarted consumer re-reads its pending entries before new ones: once a marker sent now has
    # landed, every redelivery has been handled.
    marker = ids(1)
    await api.call(
        "POST",
        "/interactions",
        [{"item_type": "club", "item_id": club["id"], "kind": "impression", "interaction_id": marker[0]}],
        expect=202,
    )

    async def marker_landed():
        return await stored(gateway, member.user_id, marker) == 1

    await wait_for(marker_landed, timeout=60)
    total = signals.decayed(await popularity(redis, key), __import__("time").time())
    assert total == pytest.approx(40 * 1.0 + 0.05, rel=0.01)  # 40 clicks and the marker, each counted once


async def test_server_side_signals_messages_rsvps_joins_and_live_attendance(gateway, smtp):
    people = [await make_member(gateway.url, smtp, n) for n in ("Host", "Guest")]
    async with client_session(gateway.url) as http:
        host, guest = Api(http, people[0]), Api(http, people[1])
        _, club = await host.call(
            "POST", "/clubs", {"name": "Signals live", "description": "server"}, expect=201
        )
        await guest.call("POST", f"/clubs/{club['id']}/join", expect=200)
        _, rooms = await guest.call("GET", f"/clubs/{club['id']}/rooms", expect=200)
        room_id = rooms["rooms"][0]["id"]
        start = datetime.now(UTC) + timedelta(minutes=5)
        _, event = await host.call(
            "POST",
            f"/clubs/{club['id']}/events",
            {
                "title": "Signals",
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=1)).isoformat(),
            },
            expect=201,
        )
        await guest.call("POST", f"/events/{event['id']}/rsvp", expect=200)
        await host.call("POST", f"/events/{event['id']}/live/start", expect=200)
        sock = await ChatClient(gateway.url, guest.member.token).connect()
        try:
            assert (await sock.call("room:join", {"room_id": room_id}))["ok"]
            for i in range(3):
                assert (await sock.send(room_id, f"hello {i}"))["ok"]
            assert (await sock.call("live:join", {"event_id": event["id"]}))["ok"]
            assert (await sock.call("live:join", {"event_id": event["id"]}))["ok"]  # a rejoin attends once
        finally:
            await sock.close()
    coll = gateway.backends.stores.mongo[mongo.INTERACTIONS]
    me = guest.member.user_id
    want = {
        ("club", club["id"], "join"),
        ("event", event["id"], "rsvp"),
        ("room", room_id, "join"),
        ("room", room_id, "message"),
        ("event", event["id"], "attend"),
    }

    async def all_signals():
        docs = await coll.find({"user_id": me, "source": "server"}).to_list(None)
        return docs if want <= {(d["item_type"], d["item_id"], d["kind"]) for d in docs} else None

    docs = await wait_for(all_signals)
    assert sum(1 for d in docs if d["kind"] == "attend") == 1
    # Messages are one signal per author and room per shard batch: never more than the messages sent.
    assert 1 <= sum(1 for d in docs if d["kind"] == "message") <= 3
