"""Blocks (issue 20): block, unblock and the list, the bound; messages by a blocked author still arrive (seqs
gapless) marked ``author_blocked: true`` for the reader who blocked them only — live, in ``message:updated``,
in the join replay and in history; no notification from someone you blocked.

To prove something did *not* arrive, a marker is sent after it and waited for (delivery and the notifier keep
order).
"""

from __future__ import annotations

import uuid

from support.chat import ChatClient, make_club_room
from support.members import Api, client_session, make_member
from support.wait import wait_for

from storage.models import Notification, User, UserBlock
from storage.safety import BLOCKS_MAX


async def test_block_unblock_list_and_refusals(gateway, smtp):
    ann, bob = await make_member(gateway.url, smtp, "Ann"), await make_member(gateway.url, smtp, "Bob")
    tab = await ChatClient(gateway.url, ann.token).connect()
    try:
        async with client_session(gateway.url) as http:
            api = Api(http, ann)
            _, body = await api.call("POST", "/me/blocks", {"user_id": bob.user_id}, expect=201)
            assert body == {"user_id": bob.user_id, "blocked": True}
            await api.call("POST", "/me/blocks", {"user_id": bob.user_id}, expect=200)  # idempotent
            _, listed = await api.call("GET", "/me/blocks", expect=200)
            assert [(b["user_id"], b["display_name"]) for b in listed["blocks"]] == [(bob.user_id, "Bob")]
            assert listed["blocks"][0]["created_at"]
            # The other tab learns the new set.
            await wait_for(lambda: _async({"blocks": [bob.user_id]} in tab.blocks_changed))
            assert len(tab.blocks_changed) == 1, "blocking twice changes nothing, so tells nobody twice"

            for body, status, code in (
                ({"user_id": ann.user_id}, 422, "invalid"),
                ({"user_id": 10**15}, 404, "not_found"),
                ({"user_id": 0}, 422, "invalid"),
                ({"user_id": "x"}, 422, "invalid"),
                ({}, 422, "invalid"),
                ({"user_id": bob.user_id, "extra": 1}, 422, "invalid"),
            ):
                got, err = await api.call("POST", "/me/blocks", body)
                assert (got, err["error"]["code"]) == (status, code), (body, err)
            _, err = await api.call("POST", "/me/blocks", {"user_id": ann.user_id})
            assert "yourself" in err["error"]["message"]

            await api.call("DELETE", f"/me/blocks/{bob.user_id}", expect=204)
            await api.call("DELETE", f"/me/blocks/{bob.user_id}", expect=204)  # not blocked: nothing to do
            assert (await api.call("GET", "/me/blocks", expect=200))[1] == {"blocks": []}
            await wait_for(lambda: _async({"blocks": []} in tab.blocks_changed))
            # Bob's list is his own.
            assert (await Api(http, bob).call("GET", "/me/blocks", expect=200))[1] == {"blocks": []}
    finally:
        await tab.close()


async def _async(value):
    return value


async def test_at_most_a_thousand_blocks(gateway, smtp):
    cat = await make_member(gateway.url, smtp, "Cat")
    tag = uuid.uuid4().hex[:8]
    await User.bulk_create(
        [
            User(email=f"blocked-{tag}-{i}@example.org", password_hash="x", display_name=f"B{i}")
            for i in range(BLOCKS_MAX + 1)
        ]
    )
    people = (
        await User.filter(email__startswith=f"blocked-{tag}-").order_by("id").values_list("id", flat=True)
    )
    await UserBlock.bulk_create([UserBlock(user_id=cat.user_id, blocked_id=u) for u in people[:BLOCKS_MAX]])
    async with client_session(gateway.url) as http:
        api = Api(http, cat)
        status, err = await api.call("POST", "/me/blocks", {"user_id": people[BLOCKS_MAX]})
        assert status == 413 and err["error"]["code"] == "too_large", err
        assert "1000" in err["error"]["message"] and "unblock" in err["error"]["message"]
        # At the limit, blocking someone already blocked still answers as usual.
        await api.call("POST", "/me/blocks", {"user_id": people[0]}, expect=200)
        _, listed = await api.call("GET", "/me/blocks", expect=200)
        assert len(listed["blocks"]) == BLOCKS_MAX
        await api.call("DELETE", f"/me/blocks/{people[0]}", expect=204)
        await api.call("POST", "/me/blocks", {"user_id": people[BLOCKS_MAX]}, expect=201)


async def test_blocked_authors_messages_arrive_marked_for_the_blocker_only(gateway, smtp):
    ann, bob, cal, dee = [await make_member(gateway.url, smtp, n) for n in ("Ann", "Bob", "Cal", "Dee")]
    room = await make_club_room(cal.user_id, [ann.user_id, bob.user_id, dee.user_id])
    a = await ChatClient(gateway.url, ann.token).connect()
    b = await ChatClient(gateway.url, bob.token).connect()
    c = await ChatClient(gateway.url, cal.token).connect()
    d = await ChatClient(gateway.url, dee.token).connect()
    try:
        for client in (a, b, c, d):
            await client.join(room.id)
        async with client_session(gateway.url) as http:
            await Api(http, ann).call("POST", "/me/blocks", {"user_id": bob.user_id}, expect=201)
        await wait_for(lambda: _async(bool(a.blocks_changed)))

        # One at a time (each its own frame) and several at once (a batch), mixed authors.
        assert (await b.send(room.id, "bob one"))["ok"]
        assert (await c.send(room.id, "cal one"))["ok"]
        assert (await b.send(room.id, "bob two"))["ok"]
        assert (await c.send(room.id, "marker"))["ok"]
        for client in (a, d):
            assert await client.wait_seqs(room.id, 4) == [1, 2, 3, 4], "gapless, in order, nothing hidden"
        seen_by_ann = [(m["text"], m.get("author_blocked")) for m in a.messages[room.id]]
        assert seen_by_ann == [("bob one", True), ("cal one", None), ("bob two", True), ("marker", None)]
        assert not any("author_blocked" in m for m in d.messages[room.id]), (
            "only the blocker's copy is marked"
        )
        assert not any("author_blocked" in m for m in b.messages[room.id] + c.messages[room.id])

        # An edit reaches Ann marked, Dee unmarked.
        assert (await b.call("message:edit", {"room_id": room.id, "seq": 1, "text": "bob one, edited"}))["ok"]
        await wait_for(lambda: _async(a.updated and d.updated))
        assert a.updated[-1]["text"] == "bob one, edited" and a.updated[-1]["author_blocked"] is True
        assert "author_blocked" not in d.updated[-1]

        # History, over the socket and REST.
        ack = await a.call("message:history", {"room_id": room.id})
        assert [m.get("author_blocked") for m in ack["messages"]] == [True, None, True, None]
        async with client_session(gateway.url) as http:
            _, page = await Api(http, ann).call("GET", f"/rooms/{room.id}/messages", expect=200)
            assert [m.get("author_blocked") for m in page["messages"]] == [True, None, True, None]
            _, page = await Api(http, dee).call("GET", f"/rooms/{room.id}/messages", expect=200)
            assert not any("author_blocked" in m for m in page["messages"])

        # A second device joining with since_seq/since_rev gets the replay marked.
        a2 = await ChatClient(gateway.url, ann.token).connect()
        try:
            ack = await a2.call("room:join", {"room_id": room.id, "since_seq": 1, "since_rev": 1})
            assert ack["ok"], ack
            assert [(m["seq"], m.get("author_blocked")) for m in ack["missed"]] == [
                (2, None),
                (3, True),
                (4, None),
            ]
            assert [(m["seq"], m.get("author_blocked")) for m in ack["updated"]] == [(1, True)]
        finally:
            await a2.close()

        # Unblocked: Bob's next message arrives unmarked.
        async with client_session(gateway.url) as http:
            await Api(http, ann).call("DELETE", f"/me/blocks/{bob.user_id}", expect=204)
        await wait_for(lambda: _async({"blocks": []} in a.blocks_changed))
        assert (await b.send(room.id, "bob three"))["ok"]
        await a.wait_seqs(room.id, 5)
        assert "author_blocked" not in a.messages[room.id][4]
    finally:
        for client in (a, b, c, d):
            await client.close()


async def test_no_notification_from_someone_you_blocked(gateway, smtp):
    ann, bob, cal = [await make_member(gateway.url, smtp, n) for n in ("Ann Block", "Bob", "Cal")]
    room = await make_club_room(cal.user_id, [ann.user_id, bob.user_id])
    b = await ChatClient(gateway.url, bob.token).connect()
    c = await ChatClient(gateway.url, cal.token).connect()
    try:
        async with client_session(gateway.url) as http:
            await Api(http, ann).call("POST", "/me/blocks", {"user_id": bob.user_id}, expect=201)
        for client in (b, c):
            await client.join(room.id)
        blocked = await b.send(room.id, "@Ann Block hello from Bob")
        assert blocked["ok"]
        marker = await c.send(room.id, "@Ann Block marker from Cal")
        assert marker["ok"]

        async def marker_notified():
            return await Notification.get_or_none(user_id=ann.user_id, cause=f"msg:{room.id}:{marker['seq']}")

        await wait_for(marker_notified, timeout=30)
        causes = await Notification.filter(user_id=ann.user_id).values_list("cause", flat=True)
        assert f"msg:{room.id}:{blocked['seq']}" not in causes, "the blocked author's mention notified no one"
        assert f"msg:{room.id}:{marker['seq']}" in causes
    finally:
        for client in (b, c):
            await client.close()
