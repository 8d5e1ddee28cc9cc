"""Chat under faults: a second gateway, a gateway killed with SIGKILL, a shard actor killed,
MongoDB stopped. Every acked message must arrive exactly once, in order, without seq gaps."""

import asyncio
import re
import time

import aiohttp
import pytest
import ray
from bson import ObjectId
from support.chat import ChatClient, GatewayProcess, make_club_room
from support.members import make_member
from support.wait import wait_for

from actors.hashing import jump_hash
from storage import mongo


@pytest.fixture
async def second_gateway(gateway, settings, services, ray_cluster, tmp_path):
    g = GatewayProcess(settings, services, ray_cluster, tmp_path)
    try:
        await g.ready()
        yield g
    finally:
        g.stop()


async def test_two_gateways_deliver_to_each_other_in_order(gateway, smtp, second_gateway):
    ada, bob = await make_member(gateway.url, smtp, "Ada"), await make_member(gateway.url, smtp, "Bob")
    room = await make_club_room(ada.user_id, [bob.user_id])
    a = await ChatClient(gateway.url, ada.token).connect()
    b = await ChatClient(second_gateway.url, bob.token).connect()
    try:
        await a.join(room.id)
        ack = await b.join(room.id)
        assert set(ack["online"]) == {ada.user_id, bob.user_id}
        for i in range(15):
            assert (await a.send(room.id, f"from 1: {i}"))["ok"]
            assert (await b.send(room.id, f"from 2: {i}"))["ok"]
        expected = list(range(1, 31))
        assert await a.wait_seqs(room.id, 30) == expected
        assert await b.wait_seqs(room.id, 30) == expected
        assert [m["text"] for m in a.messages[room.id]] == [m["text"] for m in b.messages[room.id]]
        assert (await b.call("typing", {"room_id": room.id}))["ok"]

        async def typing_crossed():
            return a.typing == [{"room_id": room.id, "user_id": bob.user_id}]

        await wait_for(typing_crossed)
    finally:
        await a.close()
        await b.close()


async def test_gateway_killed_mid_stream_loses_and_duplicates_nothing(gateway, smtp, second_gateway):
    ada, bob, cyd = [await make_member(gateway.url, smtp, n) for n in ("Ada", "Bob", "Cyd")]
    room = await make_club_room(ada.user_id, [bob.user_id, cyd.user_id])
    writer = await ChatClient(gateway.url, ada.token).connect()  # survives
    reader = await ChatClient(second_gateway.url, bob.token).connect()  # its gateway dies
    writer2 = await ChatClient(second_gateway.url, cyd.token).connect()  # its gateway dies
    await writer.join(room.id)
    await reader.join(room.id)
    await writer2.join(room.id)
    acked: dict[str, int] = {}
    stop = asyncio.Event()
    unacked2: list[tuple[str, str]] = []

    async def write(client, prefix, pending):
        i = 0
        while not stop.is_set():
            cid = f"{prefix}-{i}"
            try:
                ack = await client.send(room.id, f"{prefix} {i}", client_id=cid)
            except Exception:
                pending.append((cid, f"{prefix} {i}"))
                return
            if ack.get("ok"):
                acked[cid] = ack["seq"]
            elif ack["error"]["code"] != "rate_limited":
                pending.append((cid, f"{prefix} {i}"))
            else:
                await asyncio.sleep(0.05)
                continue
            i += 1
            await asyncio.sleep(0.01)

    tasks = [
        asyncio.create_task(write(writer, "w1", [])),
        asyncio.create_task(write(writer2, "w2", unacked2)),
    ]

    async def reader_has_some():
        return len(reader.messages[room.id]) >= 10

    await wait_for(reader_has_some)
    second_gateway.proc.kill()  # SIGKILL: no goodbye to anyone
    await wait_for(lambda: _true(reader.disconnected.is_set()), timeout=30)
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.gather(*tasks)

    # The second writer resends what it never saw acked, with the same client_id, via the survivor.
    writer2b = await ChatClient(gateway.url, cyd.token).connect()
    for cid, text in unacked2:
        ack = await writer2b.send(room.id, text, client_id=cid)
        assert ack["ok"], ack
        acked[cid] = ack["seq"]
    # The reader reconnects to the surviving gateway and asks for what it missed.
    got = reader.seqs(room.id)
    assert got == list(range(1, len(got) + 1))
    reader2 = await ChatClient(gateway.url, bob.token).connect()
    ack = await reader2.join(room.id, since_seq=got[-1])
    everything = got + [m["seq"] for m in ack["missed"]]
    assert everything == list(range(1, ack["last_seq"] + 1)), "gap or duplicate"
    assert set(acked.values()) <= set(everything)
    assert len(set(acked.values())) == len(acked), "a client_id was stored twice"
    texts = [m["text"] for m in reader.messages[room.id]] + [m["text"] for m in ack["missed"]]
    assert len(texts) == len(set(texts))

    # The dead gateway's sockets leave the room's presence once its heartbeat expires.
    async def dead_sockets_offline():
        return {"room_id": room.id, "user_id": cyd.user_id, "status": "offline"} in writer.presence

    await wait_for(dead_sockets_offline, timeout=30)
    for c in (writer, writer2b, reader2):
        await c.close()


async def _true(value):
    return value


async def shard_started(gateway, index: int) -> float | None:
    """The room shard's start time as /metrics shows it (what ClubhubShardRestarted watches)."""
    async with aiohttp.ClientSession() as http, http.get(f"{gateway.url}/metrics") as resp:
        text = await resp.text()
    m = re.search(rf'^clubhub_shard_start_time_seconds\{{kind="room",shard="{index}"\}} (\S+)$', text, re.M)
    return float(m.group(1)) if m else None


async def test_room_shard_killed_restarts_and_seq_continues(gateway, smtp):
    ada, bob = await make_member(gateway.url, smtp, "Ada"), await make_member(gateway.url, smtp, "Bob")
    room = await make_club_room(ada.user_id, [bob.user_id])
    a = await ChatClient(gateway.url, ada.token).connect()
    b = await ChatClient(gateway.url, bob.token).connect()
    try:
        await a.join(room.id)
        await b.join(room.id)
        for i in range(5):
            assert (await a.send(room.id, f"before {i}"))["ok"]
        chat = gateway.app[__import__("gateway.http.keys", fromlist=["ACTORS"]).ACTORS]
        shard = chat.room_shard(room.id)
        started = await shard_started(gateway, jump_hash(room.id, len(chat.room_shards)))
        assert started is not None
        ray.kill(shard, no_restart=False)

        async def send_after(i: int) -> dict:
            # As a client does: an ``unavailable`` (the kill raced the call, or the restart outlasted the
            # gateway's deadline) is retried with the same client_id; on a busy 2-core machine a restart
            # can take longer than one call's deadline. A publish the kill lost makes the next delivery a
            # gap, and the gateway then disconnects the socket to resync: the client resumes with
            # ``since_seq`` and sends again.
            payload = {"room_id": room.id, "client_id": f"after-{i}", "text": f"after {i}"}
            deadline = time.monotonic() + 180
            while True:
                ack = await a.call_unless_dropped("message:send", payload)
                if ack is None:
                    await a.resume(room.id)
                    continue
                if ack["ok"] or time.monotonic() > deadline:
                    return ack
                assert ack["error"]["code"] == "unavailable", ack
                await asyncio.sleep(0.5)

        acks = [await send_after(i) for i in range(5)]
        assert [ack.get("seq") for ack in acks] == [6, 7, 8, 9, 10], acks
        # The restart shows in /metrics as a new start time of that shard (the alert's input).
        restarted = await shard_started(gateway, jump_hash(room.id, len(chat.room_shards)))
        assert restarted is not None and restarted > started, (started, restarted)
        # Sent again: the same acks (deduplicated by client_id), nothing stored twice.
        again = [await send_after(i) for i in range(5)]
        assert [ack.get("seq") for ack in again] == [6, 7, 8, 9, 10], again

        async def settled() -> bool:
            return len(b.messages[room.id]) >= 10 or b.disconnected.is_set()

        await wait_for(settled, timeout=20)
        if b.disconnected.is_set():  # resynced after a publish the kill lost, as above
            await b.resume(room.id)
        assert await b.wait_seqs(room.id, 10) == list(range(1, 11))
        ack = await b.join(room.id, since_seq=0)
        assert [m["seq"] for m in ack["missed"]] == list(range(1, 11))
    finally:
        await a.close()
        await b.close()


async def test_a_message_stored_but_never_published_reaches_a_quiet_room_after_a_restart(
    gateway, smtp, settings, services
):
    """A shard killed between storing a batch and publishing it: the members hear of it from the
    restarted shard, without waiting for the room's next message and without resuming."""
    ada, bob = await make_member(gateway.url, smtp, "Ada"), await make_member(gateway.url, smtp, "Bob")
    room = await make_club_room(ada.user_id, [bob.user_id])
    a = await ChatClient(gateway.url, ada.token).connect()
    b = await ChatClient(gateway.url, bob.token).connect()
    mongo_client = mongo.connect_mongo(services.urls()["mongo"])
    try:
        await a.join(room.id)
        await b.join(room.id)
        for i in range(3):
            assert (await a.send(room.id, f"published {i}"))["ok"]
        assert await b.wait_seqs(room.id, 3) == [1, 2, 3]
        # What the dead shard left: message 4 stored as its writer stores one, its publish never made.
        messages = mongo_client[settings.mongo_db][mongo.MESSAGES]
        doc = await messages.find_one({"room_id": room.id, "seq": 3})
        doc.update(_id=ObjectId(), seq=4, rev=doc["rev"] + 1, client_id="stored-unpublished")
        doc.update(text="stored, never published")
        await messages.insert_one(doc)
        chat = gateway.app[__import__("gateway.http.keys", fromlist=["ACTORS"]).ACTORS]
        index = jump_hash(room.id, len(chat.room_shards))
        started = await shard_started(gateway, index)
        ray.kill(chat.room_shard(room.id), no_restart=False)

        async def restarted() -> bool:
            return (await shard_started(gateway, index) or 0) > (started or 0)

        await wait_for(restarted, timeout=120, interval=0.5)

        # Anything that reaches the restarted shard activates the room again: here a history read.
        async def history_read() -> bool:
            ack = await a.call("message:history", {"room_id": room.id, "limit": 1})
            return bool(ack["ok"])

        await wait_for(history_read, timeout=60, interval=0.5)
        for client in (a, b):
            assert await client.wait_seqs(room.id, 4) == [1, 2, 3, 4]
            assert client.messages[room.id][-1]["text"] == "stored, never published"
            assert not client.disconnected.is_set(), "delivered live, not by a resync"
        # Published once: the shard's next batch follows it with no repeat.
        assert (await b.send(room.id, "next"))["ok"]
        assert await a.wait_seqs(room.id, 5) == [1, 2, 3, 4, 5]
    finally:
        await mongo_client.close()
        await a.close()
        await b.close()


async def test_mongodb_unavailable_refuses_then_recovers(gateway, smtp, services):
    ada, bob = await make_member(gateway.url, smtp, "Ada"), await make_member(gateway.url, smtp, "Bob")
    room = await make_club_room(ada.user_id, [bob.user_id])
    a = await ChatClient(gateway.url, ada.token).connect()
    b = await ChatClient(gateway.url, bob.token).connect()
    mongo = services.embedded["mongo"]
    try:
        await a.join(room.id)
        await b.join(room.id)
        for i in range(3):
            assert (await a.send(room.id, f"ok {i}"))["ok"]
        await b.wait_seqs(room.id, 3)
        await asyncio.to_thread(mongo.stop)
        down = await a.send(room.id, "while down", client_id="during-outage")
        assert down["ok"] is False and down["error"]["code"] == "unavailable"
        # Nothing of the refused send reaches anyone: the barrier is below, where the retried message gets
        # seq 4 and the one after it seq 5, and the reader sees exactly [1..5].
    finally:
        await asyncio.to_thread(mongo.start)

    async def accepted():
        ack = await a.send(room.id, "while down", client_id="during-outage")
        return ack if ack["ok"] else None

    try:
        ack = await wait_for(accepted, timeout=60, interval=0.5)
        assert ack["seq"] == 4
        assert (await a.send(room.id, "after"))["seq"] == 5
        assert await b.wait_seqs(room.id, 5) == [1, 2, 3, 4, 5]
    finally:
        await a.close()
        await b.close()
