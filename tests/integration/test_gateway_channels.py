"""Gateways hear only their rooms (issue 15, must-show 3).

Three gateways share the session's Ray and services: the in-process one (gw1) and two ``clubhub run``
processes (gw2, gw3). A room shard publishes a room's batches only on the channels of the gateways that
hold sockets in that room, so gw3, with no member in room A, receives none of A's traffic: its
``clubhub_gateway_room_batches_total`` moves by exactly the one batch of room B it does hold (a marker
sent after A's traffic and waited for, so "not received" is proven, not assumed). A member moving from
gw1 to gw3 starts receiving there (and what was published before gw3 held the room comes with the
join), a room shard restarted by Ray goes on publishing to the same gateways (it reads the room's
sockets back from Redis), and a gateway killed with SIGKILL stops being published to once the shard's
sweep drops it.
"""

from __future__ import annotations

import asyncio
import re

import aiohttp
import ray
import redis.asyncio as aioredis
from support.chat import ChatClient, GatewayProcess, make_club_room
from support.members import make_member
from support.wait import wait_for

from storage import keys

COUNTER = re.compile(r"^clubhub_gateway_room_batches_total (\S+)$", re.M)


async def room_batches(url: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as resp:
        assert resp.status == 200
        found = COUNTER.search(await resp.text())
    assert found, "the gateway exports clubhub_gateway_room_batches_total"
    return int(float(found.group(1)))


def actors_of(gateway):
    from gateway.http.keys import ACTORS

    return gateway.app[ACTORS]


async def audience(gateway, room_id: int) -> set[str]:
    """The gateways the room's shard publishes the room's batches to now."""
    return set(await actors_of(gateway).room_shard(room_id).audience.remote(room_id))


async def test_a_gateway_hears_only_the_rooms_it_holds_sockets_in(
    gateway, smtp, settings, services, ray_cluster, tmp_path
):
    gw2 = GatewayProcess(settings, services, ray_cluster, tmp_path)
    gw3 = GatewayProcess(settings, services, ray_cluster, tmp_path)
    clients: list[ChatClient] = []
    redis = aioredis.from_url(services.urls()["redis"])
    try:
        await asyncio.gather(gw2.ready(), gw3.ready())
        ada, bob, cyd = [await make_member(gateway.url, smtp, n) for n in ("Ada", "Bob", "Cyd")]
        room_a = await make_club_room(ada.user_id, [bob.user_id])
        room_b = await make_club_room(cyd.user_id)

        async def connect(url: str, token: str) -> ChatClient:
            client = await ChatClient(url, token).connect()
            clients.append(client)
            return client

        ada1 = await connect(gateway.url, ada.token)
        bob2 = await connect(gw2.url, bob.token)
        cyd3 = await connect(gw3.url, cyd.token)
        await ada1.join(room_a.id)
        await bob2.join(room_a.id)
        gw1_id = actors_of(gateway).gateway_id
        held_a = await audience(gateway, room_a.id)
        assert gw1_id in held_a and len(held_a) == 2
        (gw2_id,) = held_a - {gw1_id}

        before = {url: await room_batches(url) for url in (gateway.url, gw2.url, gw3.url)}
        for i in range(10):
            sender = ada1 if i % 2 == 0 else bob2
            assert (await sender.send(room_a.id, f"a {i}"))["ok"]
        assert await ada1.wait_seqs(room_a.id, 10) == list(range(1, 11))
        assert await bob2.wait_seqs(room_a.id, 10) == list(range(1, 11))
        # The marker: a room gw3 does hold. Once its batch is in, anything of room A published before
        # it would have been in too (one shard, one ordered connection per gateway).
        await cyd3.join(room_b.id)
        assert (await cyd3.send(room_b.id, "marker"))["ok"]
        assert await cyd3.wait_seqs(room_b.id, 1) == [1]
        after = {url: await room_batches(url) for url in (gateway.url, gw2.url, gw3.url)}
        moved = {url: after[url] - before[url] for url in after}
        print("\nroom batches received per gateway during room A's traffic and B's marker:", moved)
        assert moved[gw3.url] == 1, "gw3 received room B's marker batch and nothing of room A"
        assert moved[gateway.url] >= 1 and moved[gw2.url] >= 1, "gw1 and gw2 received room A's batches"
        (gw3_id,) = await audience(gateway, room_b.id)
        assert gw3_id not in (gw1_id, gw2_id)

        # Ada moves from gw1 to gw3: she joins there with since_seq (what was published before gw3 held
        # the room comes with the ack), then leaves on gw1; room A's batches now reach gw3.
        ada3 = await connect(gw3.url, ada.token)
        ack = await ada3.join(room_a.id, since_seq=0)
        assert [m["seq"] for m in ack["missed"]] == list(range(1, 11)) and ack["last_seq"] == 10
        assert (await ada1.call("room:leave", {"room_id": room_a.id}))["ok"]
        assert await audience(gateway, room_a.id) == {gw2_id, gw3_id}
        gw3_before = await room_batches(gw3.url)
        assert (await bob2.send(room_a.id, "to the new gateway"))["ok"]
        assert await ada3.wait_seqs(room_a.id, 1) == [11]
        assert await room_batches(gw3.url) == gw3_before + 1
        assert ada1.seqs(room_a.id) == list(range(1, 11)), "the socket that left got nothing more"

        # Ray restarts room A's shard: the new one reads the room's sockets back from Redis and goes on
        # publishing to gw2 and gw3, with no socket rejoining.
        ray.kill(actors_of(gateway).room_shard(room_a.id), no_restart=False)

        async def sent_again():
            ack = await bob2.send(room_a.id, "after the restart", client_id="after-restart")
            if not ack["ok"]:  # the kill raced the call: sent again with the same client_id
                assert ack["error"]["code"] == "unavailable", ack
            return ack if ack["ok"] else None

        ack = await wait_for(sent_again, timeout=30, interval=0.2)
        assert ack["ok"] and ack["seq"] == 12, ack
        assert await ada3.wait_seqs(room_a.id, 2) == [11, 12]
        assert await bob2.wait_seqs(room_a.id, 12) == list(range(1, 13))
        assert await audience(gateway, room_a.id) == {gw2_id, gw3_id}

        # gw2 dies without a word: once the shard's sweep finds its heartbeat gone, room A's batches go
        # to gw3 alone, and gw2's sockets are gone from the room's stored sockets too.
        gw2.proc.kill()
        gw2.proc.wait(10)

        async def gw2_dropped():
            return await audience(gateway, room_a.id) == {gw3_id}

        await wait_for(gw2_dropped, timeout=30)
        stored = [k.decode() for k in await redis.hkeys(keys.room_sockets(room_a.id))]
        assert len(stored) == 1 and stored[0].startswith(f"{gw3_id}/"), stored
        assert (await ada3.send(room_a.id, "after gw2 died"))["ok"]
        assert await ada3.wait_seqs(room_a.id, 3) == [11, 12, 13]
    finally:
        for client in clients:
            await client.close()
        await redis.aclose()
        gw2.stop()
        gw3.stop()
