"""Realtime chat against real services, real Ray shards and real Socket.IO clients."""

import asyncio
import re
import time

import pytest
from support.chat import ChatClient, make_club_room
from support.members import make_member
from support.wait import wait_for

from storage import mongo


@pytest.fixture
async def trio(gateway, smtp):
    """Three members of one club with a room, each connected."""
    ada, bob, cyd = [await make_member(gateway.url, smtp, name) for name in ("Ada", "Bob", "Cyd")]
    room = await make_club_room(ada.user_id, [bob.user_id, cyd.user_id])
    clients = [await ChatClient(gateway.url, m.token).connect() for m in (ada, bob, cyd)]
    yield room.id, (ada, bob, cyd), clients
    for c in clients:
        await c.close()


async def test_send_is_acked_stored_and_delivered_in_order(gateway, trio):
    room_id, (ada, bob, cyd), (a, b, c) = trio
    for client in (a, b, c):
        ack = await client.join(room_id)
        assert ack["last_seq"] == 0 and ack["missed"] == [] and ack["truncated"] is False
    acks = await asyncio.gather(*(a.send(room_id, f"hello {i}") for i in range(20)))
    assert all(ack["ok"] for ack in acks), acks
    assert sorted(ack["seq"] for ack in acks) == list(range(1, 21))
    assert {"seq", "rev", "message_id", "ts"} <= set(acks[0])
    for client in (a, b, c):
        assert await client.wait_seqs(room_id, 20) == list(range(1, 21))
    msg = b.messages[room_id][0]
    assert msg["author"] == {"id": ada.user_id, "display_name": "Ada"} and msg["reactions"] == {}
    stored = await gateway.backends.stores.mongo[mongo.MESSAGES].count_documents({"room_id": room_id})
    assert stored == 20


async def test_resent_client_id_returns_the_first_ack_and_is_stored_once(gateway, trio):
    room_id, _, (a, b, _c) = trio
    await a.join(room_id)
    await b.join(room_id)
    first = await a.send(room_id, "once", client_id="fixed-id")
    again = await a.send(room_id, "once", client_id="fixed-id")
    both = await asyncio.gather(
        a.send(room_id, "twice", client_id="pair"), a.send(room_id, "twice", client_id="pair")
    )
    assert (
        first["ok"]
        and again["ok"]
        and again["seq"] == first["seq"]
        and again["message_id"] == first["message_id"]
    )
    assert both[0]["seq"] == both[1]["seq"]
    await b.wait_seqs(room_id, 2)
    # The barrier: a later send arrives after any duplicate would have, so [1, 2, 3] proves there was none.
    await a.send(room_id, "after")
    assert await b.wait_seqs(room_id, 3) == [1, 2, 3]
    assert await gateway.backends.stores.mongo[mongo.MESSAGES].count_documents({"room_id": room_id}) == 3


async def test_rejoin_with_since_seq_and_since_rev_gets_exactly_what_was_missed(trio):
    room_id, _, (a, b, _c) = trio
    await a.join(room_id)
    await b.join(room_id)
    for i in range(5):
        assert (await a.send(room_id, f"m{i}"))["ok"]
    await b.wait_seqs(room_id, 5)
    seen_rev = b.messages[room_id][-1]["rev"]
    await b.call("room:leave", {"room_id": room_id})
    for i in range(5, 8):
        assert (await a.send(room_id, f"m{i}"))["ok"]
    assert (await a.call("message:edit", {"room_id": room_id, "seq": 2, "text": "m1 edited"}))["ok"]
    assert (await a.call("message:delete", {"room_id": room_id, "seq": 3}))["ok"]
    ack = await b.join(room_id, since_seq=5, since_rev=seen_rev)
    assert [m["seq"] for m in ack["missed"]] == [6, 7, 8]
    updated = {m["seq"]: m for m in ack["updated"]}
    assert set(updated) == {2, 3}
    assert updated[2]["text"] == "m1 edited" and updated[2]["edited_at"]
    assert updated[3]["deleted"] is True and updated[3]["text"] == ""
    assert ack["rev"] > seen_rev and ack["last_seq"] == 8


async def test_replay_from_storage_is_truncated_past_500(gateway, trio):
    room_id, (ada, _, _), (a, b, _c) = trio
    docs = [
        {
            "room_id": room_id,
            "seq": s,
            "rev": s,
            "client_id": f"bulk-{s}",
            "text": f"t{s}",
            "ts": 0,
            "author": {"id": ada.user_id, "display_name": "Ada"},
            "reactions": {},
        }
        for s in range(1, 701)
    ]
    await gateway.backends.stores.mongo[mongo.MESSAGES].insert_many(docs)
    ack = await b.join(room_id, since_seq=0)
    assert ack["truncated"] is True and len(ack["missed"]) == 500
    assert [m["seq"] for m in ack["missed"]] == list(range(201, 701))
    ack = await a.join(room_id, since_seq=650)
    assert ack["truncated"] is False and [m["seq"] for m in ack["missed"]] == list(range(651, 701))
    assert (await a.send(room_id, "next"))["seq"] == 701


async def test_history_over_socket_and_rest(gateway, trio, http):
    room_id, (ada, bob, _), (a, _b, _c) = trio
    await a.join(room_id)
    for i in range(30):
        assert (await a.send(room_id, f"h{i}"))["ok"]
    page = await a.call("message:history", {"room_id": room_id, "before_seq": 21, "limit": 10})
    assert [m["seq"] for m in page["messages"]] == list(range(11, 21))
    latest = await a.call("message:history", {"room_id": room_id})
    assert [m["seq"] for m in latest["messages"]] == list(range(1, 31))
    auth = {"Authorization": f"Bearer {bob.token}"}
    resp = await http.get(
        f"/api/v1/rooms/{room_id}/messages", params={"after_seq": "25", "limit": "3"}, headers=auth
    )
    assert resp.status == 200
    assert [m["seq"] for m in (await resp.json())["messages"]] == [26, 27, 28]
    resp = await http.get(f"/api/v1/rooms/{room_id}/messages", params={"before_seq": "3"}, headers=auth)
    assert [m["text"] for m in (await resp.json())["messages"]] == ["h0", "h1"]
    resp = await http.get(f"/api/v1/rooms/{room_id}/messages", params={"limit": "101"}, headers=auth)
    assert resp.status == 422


async def test_edit_delete_and_reaction_rules(gateway, smtp, trio):
    room_id, (ada, bob, cyd), (a, b, c) = trio
    mod = await make_member(gateway.url, smtp, "Mod")
    from storage.models import Membership, Role, Room

    room = await Room.get(id=room_id)
    await Membership.create(club_id=room.club_id, user_id=mod.user_id, role=Role.moderator)
    m = await ChatClient(gateway.url, mod.token).connect()
    try:
        for client in (a, b, m):
            await client.join(room_id)
        s1 = (await a.send(room_id, "ada's"))["seq"]
        s2 = (await b.send(room_id, "bob's"))["seq"]
        assert (await b.call("message:edit", {"room_id": room_id, "seq": s1, "text": "hijack"}))["error"][
            "code"
        ] == "forbidden"
        assert (await b.call("message:delete", {"room_id": room_id, "seq": s1}))["error"][
            "code"
        ] == "forbidden"
        assert (await a.call("message:edit", {"room_id": room_id, "seq": s1, "text": "ada's, edited"}))["ok"]
        assert (await a.call("message:edit", {"room_id": room_id, "seq": s1, "text": ""}))["error"][
            "code"
        ] == "invalid"
        assert (await m.call("message:delete", {"room_id": room_id, "seq": s2}))["ok"]  # a moderator may
        assert (await b.call("message:edit", {"room_id": room_id, "seq": s2, "text": "x"}))["error"][
            "code"
        ] == "not_found"
        assert (await b.call("reaction:add", {"room_id": room_id, "seq": s1, "emoji": "👍"}))["ok"]
        assert (await c.call("reaction:add", {"room_id": room_id, "seq": s1, "emoji": "👍"}))["ok"]
        assert (await b.call("reaction:add", {"room_id": room_id, "seq": s1, "emoji": "👍"}))[
            "ok"
        ]  # no double count
        assert (await c.call("reaction:remove", {"room_id": room_id, "seq": s1, "emoji": "👍"}))["ok"]
        assert (await b.call("reaction:add", {"room_id": room_id, "seq": 999, "emoji": "👍"}))["error"][
            "code"
        ] == "not_found"
        assert (await b.call("reaction:add", {"room_id": room_id, "seq": s1, "emoji": "two words"}))["error"][
            "code"
        ] == "invalid"

        async def final_state():
            mine = [u for u in a.updated if u["seq"] == s1]
            return (
                mine
                and mine[-1]["reactions"] == {"👍": [bob.user_id]}
                and mine[-1]["text"] == "ada's, edited"
            )

        await wait_for(final_state)
        assert any(u["seq"] == s2 and u["deleted"] for u in b.updated)
        revs = [u["rev"] for u in a.updated]
        assert revs == sorted(revs) and len(set(revs)) == len(revs)
        doc = await gateway.backends.stores.mongo[mongo.MESSAGES].find_one({"room_id": room_id, "seq": s1})
        assert doc["text"] == "ada's, edited" and doc["reactions"] == {"👍": [bob.user_id]}
    finally:
        await m.close()


async def test_typing_presence_read_and_unread(gateway, trio, http):
    room_id, (ada, bob, cyd), (a, b, c) = trio
    await a.join(room_id)
    b2 = await ChatClient(gateway.url, bob.token).connect()  # Bob's second tab
    try:
        ack = await b.join(room_id)
        assert set(ack["online"]) == {ada.user_id, bob.user_id}

        async def bob_online():
            return {"room_id": room_id, "user_id": bob.user_id, "status": "online"} in a.presence

        await wait_for(bob_online)
        await b2.join(room_id)
        assert (await a.call("typing", {"room_id": room_id}))["ok"]
        assert (await a.call("typing", {"room_id": room_id}))["ok"]  # throttled: not re-broadcast

        async def typing_seen():
            return b.typing and b2.typing

        await wait_for(typing_seen)
        # The barrier: Cyd's typing leaves the same gateway by the same path after Ada's throttled one
        # would have, so once it is seen, a second notice from Ada would be seen too.
        await c.join(room_id)
        assert (await c.call("typing", {"room_id": room_id}))["ok"]

        async def marker_seen():
            return {"room_id": room_id, "user_id": cyd.user_id} in b.typing

        await wait_for(marker_seen)
        assert b.typing == [
            {"room_id": room_id, "user_id": ada.user_id},
            {"room_id": room_id, "user_id": cyd.user_id},
        ]
        assert {"room_id": room_id, "user_id": ada.user_id} not in a.typing

        for i in range(4):
            assert (await a.send(room_id, f"r{i}"))["ok"]
        auth = {"Authorization": f"Bearer {bob.token}"}
        unread = await (await http.get("/api/v1/me/unread", headers=auth)).json()
        assert unread[str(room_id)] == 4
        assert (await b.call("read", {"room_id": room_id, "seq": 3}))["ok"]

        async def other_tab_told():
            return {"room_id": room_id, "seq": 3} in b2.reads

        await wait_for(other_tab_told)
        assert b.reads == []
        unread = await (await http.get("/api/v1/me/unread", headers=auth)).json()
        assert unread[str(room_id)] == 1
        assert (await b.call("read", {"room_id": room_id, "seq": 2}))["ok"]  # never moves back
        assert (await (await http.get("/api/v1/me/unread", headers=auth)).json())[str(room_id)] == 1

        # Bob closes one tab: still online. Closes the other: offline for the room.
        from gateway.app import REALTIME

        b_sid = b.sio.get_sid()
        await b.close()

        async def gateway_saw_it():
            return b_sid not in gateway.app[REALTIME].users

        # The barrier: once the gateway has dropped the socket it has asked the room's shard to forget it
        # (a presence change, if any, is published then); a message Bob's other tab sends afterwards goes to
        # the same shard after that and reaches Ada after any presence it caused.
        await wait_for(gateway_saw_it)
        assert (await b2.send(room_id, "still here"))["ok"]

        async def marker_arrived():
            return "still here" in [m["text"] for m in a.messages[room_id]]

        await wait_for(marker_arrived)
        assert {"room_id": room_id, "user_id": bob.user_id, "status": "offline"} not in a.presence
        await b2.close()

        async def bob_offline():
            return {"room_id": room_id, "user_id": bob.user_id, "status": "offline"} in a.presence

        await wait_for(bob_offline)
    finally:
        await b2.close()


async def test_refusals_reach_nobody_and_store_nothing(gateway, smtp, trio):
    room_id, (ada, bob, cyd), (a, b, c) = trio
    outsider = await make_member(gateway.url, smtp, "Out")
    o = await ChatClient(gateway.url, outsider.token).connect()
    try:
        await a.join(room_id)
        await b.join(room_id)
        assert (await o.call("room:join", {"room_id": room_id}))["error"]["code"] == "forbidden"
        assert (await o.send(room_id, "let me in"))["error"]["code"] == "forbidden"
        assert (await o.call("room:join", {"room_id": 987654321}))["error"]["code"] == "not_found"
        assert (await a.send(987654321, "nowhere"))["error"]["code"] == "not_found"
        assert (await a.send(room_id, "   "))["error"]["code"] == "invalid"
        too_long = await a.send(room_id, "x" * 4001)
        assert too_long["error"]["code"] == "too_large" and "4000" in too_long["error"]["message"]
        assert (await a.send(room_id, "x" * 4000))["ok"]
        for bad in (
            {"room_id": "1", "client_id": "c", "text": "t"},
            {"room_id": room_id, "text": "t"},
            {"room_id": room_id, "client_id": "c", "text": 5},
            {"room_id": room_id, "client_id": "c", "text": "t", "extra": 1},
            {"room_id": -1, "client_id": "c", "text": "t"},
        ):
            assert (await a.call("message:send", bad))["error"]["code"] == "invalid", bad
        assert (await a.call("message:send", ["not", "an", "object"]))["error"]["code"] == "invalid"
        assert (await a.call("message:send", None))["error"]["code"] == "invalid"
        # The barrier: a message sent after the refusals gets seq 2 and arrives in order, so none of them
        # took a seq or reached anyone.
        assert (await a.send(room_id, "marker"))["seq"] == 2
        assert await b.wait_seqs(room_id, 2) == [1, 2]
        assert await gateway.backends.stores.mongo[mongo.MESSAGES].count_documents({"room_id": room_id}) == 2
    finally:
        await o.close()


async def test_flooding_is_rate_limited_without_delaying_other_rooms(gateway, smtp, trio):
    room_id, (ada, bob, cyd), (a, b, c) = trio
    other_room = await make_club_room(cyd.user_id, [bob.user_id])
    await a.join(room_id)
    await b.join(room_id)
    await b.join(other_room.id)
    await c.join(other_room.id)
    flood = [a.send(room_id, f"flood {i}") for i in range(80)]
    calm = [c.send(other_room.id, f"calm {i}") for i in range(5)]
    results = await asyncio.gather(*flood, *calm)
    flood_results, calm_results = results[:80], results[80:]
    limited = [r for r in flood_results if not r["ok"]]
    assert limited and all(
        r["error"]["code"] == "rate_limited" and "wait" in r["error"]["message"] for r in limited
    )
    accepted = [r for r in flood_results if r["ok"]]
    assert gateway.backends.settings.user_msg_burst <= len(accepted) < 80
    assert all(r["ok"] for r in calm_results)
    assert await b.wait_seqs(other_room.id, 5) == [1, 2, 3, 4, 5]
    assert await b.wait_seqs(room_id, len(accepted)) == list(range(1, len(accepted) + 1))


async def test_slow_mode_refuses_with_the_wait_and_spares_moderators(gateway, smtp):
    owner, member = await make_member(gateway.url, smtp, "Own"), await make_member(gateway.url, smtp, "Mem")
    room = await make_club_room(owner.user_id, [member.user_id], slow_mode_s=30)
    o, m = (
        await ChatClient(gateway.url, owner.token).connect(),
        await ChatClient(gateway.url, member.token).connect(),
    )
    try:
        assert (await m.send(room.id, "first"))["ok"]
        second = await m.send(room.id, "second")
        assert second["error"]["code"] == "rate_limited" and "slow mode" in second["error"]["message"]
        assert "wait" in second["error"]["message"]
        assert (await o.send(room.id, "owner 1"))["ok"] and (await o.send(room.id, "owner 2"))["ok"]
    finally:
        await o.close()
        await m.close()


async def test_metrics_show_chat_and_shard_figures(gateway, trio, http):
    room_id, _, (a, _b, _c) = trio
    await a.join(room_id)
    assert (await a.send(room_id, "metrics"))["ok"]
    text = await (await http.get("/metrics")).text()
    assert 'clubhub_chat_ops_total{event="message:send",outcome="ok"}' in text
    assert "clubhub_ack_latency_seconds_bucket" in text and "clubhub_gateway_batch_size_bucket" in text
    assert 'clubhub_shard_active{kind="room"' in text and "clubhub_shard_ops_total{shard=" in text
    assert "clubhub_fanout_latency_seconds_count" in text


async def test_each_delivered_message_is_measured_stage_by_stage(gateway, trio, http):
    """``clubhub_message_stage_seconds``: every stage of a delivered message once (the benchmark reads its
    breakdown from there); the client's leg only for a text that starts with the sender's clock."""
    room_id, _, (a, b, _c) = trio

    async def counts() -> dict[str, float]:
        text = await (await http.get("/metrics")).text()
        found = re.findall(r'^clubhub_message_stage_seconds_count\{stage="(\w+)"\} (\S+)$', text, re.M)
        return {stage: float(n) for stage, n in found}

    await a.join(room_id)
    await b.join(room_id)
    before = await counts()
    assert (await a.send(room_id, "no clock here"))["ok"]
    assert (await a.send(room_id, f"{int(time.time() * 1e6)}|with the sender's clock"))["ok"]
    await b.wait_seqs(room_id, 2)
    server_stages = (
        "gateway_batcher",
        "ray_to_shard",
        "mongo_store",
        "commit_publish",
        "redis_to_gateway",
        "fanout_write",
        "server_total",
    )

    async def measured():
        now = await counts()
        delta = {s: now.get(s, 0) - before.get(s, 0) for s in (*server_stages, "client_to_gateway")}
        return delta if all(delta[s] >= 2 for s in server_stages) else None

    delta = await wait_for(measured, timeout=10)
    assert {s: delta[s] for s in server_stages} == dict.fromkeys(server_stages, 2)
    assert delta["client_to_gateway"] == 1
