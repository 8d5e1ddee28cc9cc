"""Direct messages (issue 20, point 1): a DM is a room of kind dm with no club, through the same shards,
ordering, exactly-once, replay and unread machinery as a club room; ``POST /dms`` is idempotent for the same
people (concurrent calls make one room); ``dm_policy`` and blocks are checked on open and on every send; a
DM does not exist for anyone else."""

from __future__ import annotations

import asyncio

from support.chat import ChatClient, make_club_room
from support.members import Api, client_session, make_member
from support.wait import wait_for

from storage.models import DmMember, Notification, Room, User


async def test_a_dm_is_one_room_for_the_same_people_even_when_opened_at_once(gateway, smtp):
    ann, ben = await make_member(gateway.url, smtp, "Ann"), await make_member(gateway.url, smtp, "Ben")
    await make_club_room(ann.user_id, [ben.user_id])  # the default policy: people sharing a club
    async with client_session(gateway.url) as http:
        a, b = Api(http, ann), Api(http, ben)
        results = await asyncio.gather(
            *[a.call("POST", "/dms", {"user_ids": [ben.user_id]}) for _ in range(4)],
            *[b.call("POST", "/dms", {"user_ids": [ann.user_id, ben.user_id]}) for _ in range(4)],
        )
        rooms = {body["room_id"] for _, body in results}
        assert len(rooms) == 1, results
        statuses = sorted(status for status, _ in results)
        assert statuses == [200] * 7 + [201], "made once, found seven times"
        room_id = rooms.pop()
        room = await Room.get(id=room_id)
        assert str(room.kind.value) == "dm" and room.club_id is None
        assert sorted(await DmMember.filter(room_id=room_id).values_list("user_id", flat=True)) == sorted(
            [ann.user_id, ben.user_id]
        )
        # Another set of people is another room.
        cid = await make_member(gateway.url, smtp, "Cid")
        await make_club_room(cid.user_id, [ann.user_id, ben.user_id])
        _, group = await a.call("POST", "/dms", {"user_ids": [ben.user_id, cid.user_id]}, expect=201)
        assert group["room_id"] != room_id


async def test_dm_chat_goes_through_the_room_machinery_and_nobody_else_sees_it(gateway, smtp):
    ann, ben = await make_member(gateway.url, smtp, "Ann"), await make_member(gateway.url, smtp, "Ben")
    eve = await make_member(gateway.url, smtp, "Eve")
    club_room = await make_club_room(ann.user_id, [ben.user_id, eve.user_id])
    async with client_session(gateway.url) as http:
        a, b, e = Api(http, ann), Api(http, ben), Api(http, eve)
        _, dm = await a.call("POST", "/dms", {"user_ids": [ben.user_id]}, expect=201)
        room_id = dm["room_id"]
        ca, cb = (
            await ChatClient(gateway.url, ann.token).connect(),
            await ChatClient(gateway.url, ben.token).connect(),
        )
        ce = await ChatClient(gateway.url, eve.token).connect()
        try:
            await ca.join(room_id)
            await cb.join(room_id)
            acks = []
            for i in range(5):
                acks.append(await ca.send(room_id, f"hello {i}", client_id=f"c{i}"))
            again = await ca.send(room_id, "hello 0", client_id="c0")
            assert again["duplicate"] is True and again["seq"] == 1, "exactly once, like any room"
            assert [x["seq"] for x in acks] == [1, 2, 3, 4, 5]
            assert await cb.wait_seqs(room_id, 5) == [1, 2, 3, 4, 5]
            await cb.send(room_id, "hi Ann")
            await ca.wait_seqs(room_id, 6)

            # Ben is told of each new DM message (kind dm), Ann of Ben's.
            async def told():
                return await Notification.filter(user_id=ann.user_id, kind="dm").count() == 1

            await wait_for(told)
            assert await Notification.filter(user_id=ben.user_id, kind="dm").count() == 5

            # Replay: away, then back with since_seq.
            await cb.close()
            await ca.send(room_id, "while you were away")
            cb = await ChatClient(gateway.url, ben.token).connect()
            ack = await cb.join(room_id, since_seq=6)
            assert [m["text"] for m in ack["missed"]] == ["while you were away"]

            # Unread counts include DMs; the DM list has it with its people and last message.
            _, unread = await b.call("GET", "/me/unread", expect=200)
            assert unread[str(room_id)] >= 1
            _, listed = await b.call("GET", "/dms", expect=200)
            assert [r["room_id"] for r in listed["rooms"]] == [room_id]
            item = listed["rooms"][0]
            assert {p["id"] for p in item["members"]} == {ann.user_id, ben.user_id}
            assert item["last_message"]["text"] == "while you were away"

            # Eve, in the same club, does not see it anywhere: REST, socket join, send, pins, threads.
            await e.call("GET", f"/rooms/{room_id}/messages", expect=404)
            await e.call("GET", f"/rooms/{room_id}/pins", expect=404)
            await e.call("GET", f"/rooms/{room_id}/threads/1", expect=404)
            await e.call("GET", f"/rooms/{room_id}/notifications", expect=404)
            joined = await ce.call("room:join", {"room_id": room_id})
            assert joined["ok"] is False and joined["error"]["code"] == "not_found"
            sent = await ce.send(room_id, "let me in")
            assert sent["ok"] is False and sent["error"]["code"] == "not_found"
            _, eve_dms = await e.call("GET", "/dms", expect=200)
            assert eve_dms["rooms"] == []
            _, feed = await e.call("GET", "/feed", expect=200)
            assert room_id not in [i["id"] for i in feed["items"] if i["type"] == "room"]
            click = [{"item_type": "room", "item_id": room_id, "kind": "click"}]
            await e.call("POST", "/interactions", click, expect=404)
            _, eve_unread = await e.call("GET", "/me/unread", expect=200)
            assert str(room_id) not in eve_unread and str(club_room.id) in eve_unread
        finally:
            for c in (ca, cb, ce):
                await c.close()


async def test_dm_policy_and_blocks_are_checked_on_open_and_on_every_send(gateway, smtp):
    ann, ben = await make_member(gateway.url, smtp, "Ann"), await make_member(gateway.url, smtp, "Ben")
    stranger = await make_member(gateway.url, smtp, "Stranger")
    await make_club_room(ann.user_id, [ben.user_id])
    async with client_session(gateway.url) as http:
        a, b, s = Api(http, ann), Api(http, ben), Api(http, stranger)
        # club_members (the default): a stranger sharing no club may not open one.
        _, me = await a.call("GET", "/me", expect=200)
        assert me["dm_policy"] == "club_members"
        _, err = await s.call("POST", "/dms", {"user_ids": [ann.user_id]}, expect=403)
        assert err["error"]["code"] == "forbidden"
        await a.call("PATCH", "/me", {"dm_policy": "everyone"}, expect=200)
        _, opened = await s.call("POST", "/dms", {"user_ids": [ann.user_id]}, expect=201)
        stranger_room = opened["room_id"]

        _, dm = await b.call("POST", "/dms", {"user_ids": [ann.user_id]}, expect=201)
        room_id = dm["room_id"]
        cb = await ChatClient(gateway.url, ben.token).connect()
        cs = await ChatClient(gateway.url, stranger.token).connect()
        try:
            assert (await cb.send(room_id, "one"))["ok"]
            assert (await cs.send(stranger_room, "hello there"))["ok"]

            # Ann turns DMs off: the existing DMs refuse the next send at once.
            await a.call("PATCH", "/me", {"dm_policy": "nobody"}, expect=200)
            refused = await cb.send(room_id, "two")
            assert refused["ok"] is False and refused["error"]["code"] == "forbidden", refused
            await b.call("POST", "/dms", {"user_ids": [ann.user_id]}, expect=403)
            await a.call("PATCH", "/me", {"dm_policy": "club_members"}, expect=200)
            assert (await cb.send(room_id, "three"))["ok"]
            refused = await cs.send(stranger_room, "still there?")
            assert refused["error"]["code"] == "forbidden", "no shared club any more"

            # A block: Ann blocks Ben; he can neither open nor send, and she cannot write to him either.
            await a.call("POST", "/me/blocks", {"user_id": ben.user_id}, expect=201)
            refused = await cb.send(room_id, "four")
            assert (
                refused["error"]["code"] == "forbidden" and "does not accept" in refused["error"]["message"]
            )
            await b.call("POST", "/dms", {"user_ids": [ann.user_id]}, expect=403)
            ca = await ChatClient(gateway.url, ann.token).connect()
            try:
                mine = await ca.send(room_id, "bye")
                assert mine["error"]["code"] == "forbidden" and "unblock" in mine["error"]["message"]
                await a.call("DELETE", f"/me/blocks/{ben.user_id}", expect=204)
                assert (await cb.send(room_id, "five"))["ok"]
            finally:
                await ca.close()
            _, history = await b.call("GET", f"/rooms/{room_id}/messages", expect=200)
            assert [m["text"] for m in history["messages"]] == ["one", "three", "five"]
            assert [m["seq"] for m in history["messages"]] == [1, 2, 3], "refusals take no seq"
        finally:
            await cb.close()
            await cs.close()


async def test_opening_a_dm_validates_its_people(gateway, smtp):
    ann = await make_member(gateway.url, smtp, "Ann")
    async with client_session(gateway.url) as http:
        a = Api(http, ann)
        for body in ({}, {"user_ids": []}, {"user_ids": [ann.user_id]}, {"user_ids": ["x"]}, {"user_ids": 3}):
            _, err = await a.call("POST", "/dms", body, expect=422)
            assert err["error"]["code"] == "invalid", body
        top = await User.all().order_by("-id").first()
        assert top is not None
        _, err = await a.call("POST", "/dms", {"user_ids": [top.id + 1000]}, expect=404)
        assert err["error"]["code"] == "not_found"
        many = [top.id + i for i in range(1, 11)]
        _, err = await a.call("POST", "/dms", {"user_ids": many}, expect=422)
        await a.call("PATCH", "/me", {"dm_policy": "sometimes"}, expect=422)
