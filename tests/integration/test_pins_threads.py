"""Pins and threads (issue 20, point 4): a pin change is a room change (it raises rev, reaches members as
``room:pins`` and a rejoin with ``since_rev`` learns it); a thread reply updates its root's
``thread: {reply_count, last_reply_ts}`` the same way; pins are bounded."""

from __future__ import annotations

from support.chat import ChatClient, make_club_room, send_all
from support.members import Api, client_session, make_member
from support.wait import wait_for

from actors.domain.room import MAX_PINS


async def test_pins_are_room_changes_for_moderators_with_replay(gateway, smtp):
    mod, ann = await make_member(gateway.url, smtp, "Mod"), await make_member(gateway.url, smtp, "Ann")
    room = await make_club_room(mod.user_id, [ann.user_id])
    cm, ca = (
        await ChatClient(gateway.url, mod.token).connect(),
        await ChatClient(gateway.url, ann.token).connect(),
    )
    try:
        await cm.join(room.id)
        joined = await ca.join(room.id)
        await send_all(cm, room.id, ["rules: be kind", "welcome", "agenda"])
        await ca.wait_seqs(room.id, 3)
        async with client_session(gateway.url) as http:
            m, a = Api(http, mod), Api(http, ann)
            _, err = await a.call("POST", f"/rooms/{room.id}/pins", {"seq": 1}, expect=403)
            assert err["error"]["code"] == "forbidden", "members may not pin in a club room"
            await m.call("POST", f"/rooms/{room.id}/pins", {"seq": 1}, expect=204)
            await m.call("POST", f"/rooms/{room.id}/pins", {"seq": 1}, expect=204)  # again: no change

            async def pins_event():
                return ca.events["room:pins"]

            (event,) = await wait_for(pins_event)
            assert event["room_id"] == room.id and event["pins"] == [1]
            assert event["rev"] > joined["rev"]
            _, listed = await a.call("GET", f"/rooms/{room.id}/pins", expect=200)
            assert [p["seq"] for p in listed["pins"]] == [1]
            assert listed["pins"][0]["pinned"]["by"] == {"id": mod.user_id, "display_name": "Mod"}
            await m.call("POST", f"/rooms/{room.id}/pins", {"seq": 99}, expect=404)

            # Ann goes away; meanwhile seq 3 is pinned and seq 1 unpinned.
            last_rev = event["rev"]
            await ca.close()
            await m.call("POST", f"/rooms/{room.id}/pins", {"seq": 3}, expect=204)
            await m.call("DELETE", f"/rooms/{room.id}/pins/1", expect=204)
            ca = await ChatClient(gateway.url, ann.token).connect()
            back = await ca.join(room.id, since_seq=3, since_rev=last_rev)
            changed = {u["seq"]: u for u in back["updated"]}
            assert set(changed) == {1, 3}
            assert "pinned" not in changed[1] and changed[3]["pinned"]["by"]["id"] == mod.user_id
            _, listed = await a.call("GET", f"/rooms/{room.id}/pins", expect=200)
            assert [p["seq"] for p in listed["pins"]] == [3]

            # A deleted message is no longer pinned.
            await cm.call("message:delete", {"room_id": room.id, "seq": 3})
            _, listed = await a.call("GET", f"/rooms/{room.id}/pins", expect=200)
            assert listed["pins"] == []
    finally:
        await cm.close()
        await ca.close()


async def test_a_room_holds_a_bounded_number_of_pins_and_in_a_dm_anyone_pins(gateway, smtp):
    ann, ben = await make_member(gateway.url, smtp, "Ann"), await make_member(gateway.url, smtp, "Ben")
    await make_club_room(ann.user_id, [ben.user_id])
    async with client_session(gateway.url) as http:
        a, b = Api(http, ann), Api(http, ben)
        _, dm = await a.call("POST", "/dms", {"user_ids": [ben.user_id]}, expect=201)
        room_id = dm["room_id"]
        ca = await ChatClient(gateway.url, ann.token).connect()
        try:
            await send_all(ca, room_id, [f"note {i}" for i in range(MAX_PINS + 1)])
        finally:
            await ca.close()
        for seq in range(1, MAX_PINS + 1):
            await b.call("POST", f"/rooms/{room_id}/pins", {"seq": seq}, expect=204)
        _, err = await b.call("POST", f"/rooms/{room_id}/pins", {"seq": MAX_PINS + 1}, expect=413)
        assert err["error"]["code"] == "too_large" and str(MAX_PINS) in err["error"]["message"]
        await a.call("DELETE", f"/rooms/{room_id}/pins/1", expect=204)
        await a.call("POST", f"/rooms/{room_id}/pins", {"seq": MAX_PINS + 1}, expect=204)
        _, listed = await a.call("GET", f"/rooms/{room_id}/pins", expect=200)
        assert len(listed["pins"]) == MAX_PINS and listed["pins"][0]["seq"] == MAX_PINS + 1


async def test_thread_replies_update_their_root_and_replay(gateway, smtp):
    ann, ben = await make_member(gateway.url, smtp, "Ann"), await make_member(gateway.url, smtp, "Ben")
    room = await make_club_room(ann.user_id, [ben.user_id])
    ca, cb = (
        await ChatClient(gateway.url, ann.token).connect(),
        await ChatClient(gateway.url, ben.token).connect(),
    )
    try:
        await ca.join(room.id)
        joined = await cb.join(room.id)
        root = await ca.send(room.id, "what shall we read next?")
        replies = [await cb.send(room.id, f"idea {i}", thread_root_seq=root["seq"]) for i in range(3)]
        assert all(r["ok"] for r in replies), replies
        await ca.wait_seqs(room.id, 4)
        assert all(m.get("thread_root_seq") == root["seq"] for m in ca.messages[room.id][1:])

        async def counted():
            roots = [u for u in ca.updated if u["seq"] == root["seq"]]
            return roots and roots[-1]["thread"]["reply_count"] == 3 and roots[-1]

        latest = await wait_for(counted)
        assert latest["thread"]["last_reply_ts"] == replies[-1]["ts"]

        async with client_session(gateway.url) as http:
            b = Api(http, ben)
            _, thread = await b.call("GET", f"/rooms/{room.id}/threads/{root['seq']}", expect=200)
            assert thread["root"]["thread"]["reply_count"] == 3
            assert [m["text"] for m in thread["messages"]] == ["idea 0", "idea 1", "idea 2"]
            _, page = await b.call(
                "GET",
                f"/rooms/{room.id}/threads/{root['seq']}",
                params={"after_seq": 2, "limit": 1},
                expect=200,
            )
            assert [m["seq"] for m in page["messages"]] == [3]
            await b.call("GET", f"/rooms/{room.id}/threads/999", expect=404)

        # A reply to a reply's thread, a root in the future, a deleted root: refused, nothing stored.
        bad = await cb.send(room.id, "nested", thread_root_seq=2)
        assert bad["error"]["code"] == "invalid"
        bad = await cb.send(room.id, "future", thread_root_seq=50)
        assert bad["error"]["code"] == "invalid"
        gone = await ca.send(room.id, "short-lived")
        await ca.call("message:delete", {"room_id": room.id, "seq": gone["seq"]})
        bad = await cb.send(room.id, "too late", thread_root_seq=gone["seq"])
        assert bad["error"]["code"] == "not_found"

        # Ben was away for the last reply: his rejoin with since_rev learns the new count.
        rev = max(u["rev"] for u in ca.updated if u["seq"] == root["seq"])
        await cb.close()
        await ca.send(room.id, "one more", thread_root_seq=root["seq"])
        cb = await ChatClient(gateway.url, ben.token).connect()
        back = await cb.join(room.id, since_seq=gone["seq"], since_rev=rev)
        (changed,) = [u for u in back["updated"] if u["seq"] == root["seq"]]
        assert changed["thread"]["reply_count"] == 4
        assert back["missed"][-1]["thread_root_seq"] == root["seq"]
        assert joined["rev"] < back["rev"]
    finally:
        await ca.close()
        await cb.close()
