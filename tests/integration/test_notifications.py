"""Notifications (issue 19): mentions resolved by the server, created exactly once, the inbox and read
state, who is never notified, reminders and "live now".

To prove that a notification did *not* come, a marker is sent after the cause and waited for: the
notifier handles its stream in order, so once the marker's notification exists the earlier notice was
handled too.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import ray
from support.chat import ChatClient, make_club_room
from support.members import Api, client_session, make_member
from support.push import Browser, PushService
from support.wait import wait_for

from actors.fanout import notice_entry
from actors.notifier import Notifier
from actors.runtime import NAMESPACE
from storage import keys
from storage.models import ClubBan, Membership, Notification, Role, User, UserBlock


def actors_of(gateway):
    from gateway.http.keys import ACTORS

    return gateway.app[ACTORS]


async def causes_of(user_id: int) -> list[str]:
    return [n.cause for n in await Notification.filter(user_id=user_id).order_by("id")]


async def wait_notified(user_id: int, cause: str, timeout: float = 30) -> Notification:
    async def found():
        return await Notification.get_or_none(user_id=user_id, cause=cause)

    return await wait_for(found, timeout=timeout, interval=0.1)


async def test_a_mention_reaches_every_device_the_inbox_and_the_unread_counts(gateway, smtp):
    ada, bob = await make_member(gateway.url, smtp, "Ada Byron"), await make_member(gateway.url, smtp, "Bob")
    room = await make_club_room(bob.user_id, [ada.user_id])
    phone = await ChatClient(gateway.url, ada.token).connect()
    laptop = await ChatClient(gateway.url, ada.token).connect()
    b = await ChatClient(gateway.url, bob.token).connect()
    try:
        await b.join(room.id)
        ack = await b.send(room.id, "@Ada Byron, look at this")
        assert ack["ok"]
        await b.wait_seqs(room.id, 1)
        msg = b.messages[room.id][0]
        assert msg["mentions"] == [ada.user_id], "the server resolved the mention and stored it"

        async def both_devices():
            return phone.notifications and laptop.notifications

        await wait_for(both_devices, timeout=30)
        n = phone.notifications[0]
        assert n == laptop.notifications[0]
        assert n["kind"] == "mention" and n["room_id"] == room.id and n["seq"] == ack["seq"]
        assert n["actor"] == {"id": bob.user_id, "display_name": "Bob"} and n["read"] is False
        assert n["text"] == "@Ada Byron, look at this"
        # Nobody is notified of their own message (Bob's first message earned him an achievement, though).
        assert [x["kind"] for x in b.notifications] in ([], ["achievement"])

        async with client_session(gateway.url) as http:
            api = Api(http, ada)
            _, inbox = await api.call("GET", "/notifications", expect=200)
            assert [i["id"] for i in inbox["items"]] == [n["id"]] and inbox["next_cursor"] is None
            _, unread = await api.call("GET", "/me/unread", expect=200)
            assert unread["mentions"] == {str(room.id): 1} and unread["notifications"] == 1
            assert unread[str(room.id)] == 1

            # Read on the phone: the laptop is told, like a read marker.
            await api.call("POST", "/notifications/read", {"ids": [n["id"]]}, expect=204)

            async def laptop_told():
                return {"ids": [n["id"]]} in laptop.notifications_read

            await wait_for(laptop_told, timeout=20)
            _, unread = await api.call("GET", "/me/unread", expect=200)
            assert unread["mentions"] == {} and unread["notifications"] == 0
            _, inbox = await api.call("GET", "/notifications", params={"unread": "true"}, expect=200)
            assert inbox["items"] == []
            # Bad input: a clear refusal, nothing changed.
            for body in ({}, {"ids": [n["id"]], "all": True}, {"ids": []}, {"all": False}, {"ids": ["x"]}):
                status, err = await api.call("POST", "/notifications/read", body)
                assert status == 422 and err["error"]["code"] == "invalid", (body, err)
            status, err = await api.call("GET", "/notifications", params={"cursor": "-1"})
            assert status == 422 and err["error"]["code"] == "invalid"
            # Someone else's notification cannot be marked read.
            status, _ = await Api(http, bob).call("POST", "/notifications/read", {"ids": [n["id"]]})
            assert status == 204
            assert (await Notification.get(id=n["id"])).read_at is not None
    finally:
        for c in (phone, laptop, b):
            await c.close()


async def test_replies_everyone_and_those_never_notified(gateway, smtp):
    names = ("Mod", "Ann", "Ben", "Cat", "Dan", "Eve")
    mod, ann, ben, cat, dan, eve = [await make_member(gateway.url, smtp, n) for n in names]
    others = [ann, ben, cat, dan, eve]
    room = await make_club_room(mod.user_id, [p.user_id for p in others])
    sockets = {p.user_id: await ChatClient(gateway.url, p.token).connect() for p in (mod, ann, ben)}
    try:
        m, a, b = sockets[mod.user_id], sockets[ann.user_id], sockets[ben.user_id]
        for c in (m, a, b):
            await c.join(room.id)
        async with client_session(gateway.url) as http:
            # Cat mutes the room (mentions too); Dan blocks Ben; Eve leaves the club.
            await Api(http, cat).call(
                "PATCH", f"/rooms/{room.id}/notifications", {"level": "none"}, expect=200
            )
            _, level = await Api(http, cat).call("GET", f"/rooms/{room.id}/notifications", expect=200)
            assert level == {"level": "none"}
            status, err = await Api(http, cat).call(
                "PATCH", f"/rooms/{room.id}/notifications", {"level": "x"}
            )
            assert status == 422 and err["error"]["code"] == "invalid"
        await UserBlock.create(user_id=dan.user_id, blocked_id=ben.user_id)
        await Membership.filter(club_id=room.club_id, user_id=eve.user_id).delete()

        # A reply notifies the author of the message replied to.
        first = await a.send(room.id, "first post")
        reply = await b.send(room.id, "a reply", reply_to_seq=first["seq"])
        n = await wait_notified(ann.user_id, f"msg:{room.id}:{reply['seq']}")
        assert n.kind == "reply" and n.actor_id == ben.user_id

        # Ben mentions everyone he is refused to: Cat muted, Dan blocked him, Eve left, himself.
        mentioned = await b.send(room.id, "@Cat @Dan @Eve @Ben hello")
        # A member's @everyone is just text.
        plain = await b.send(room.id, "@everyone hi")
        # The moderator's @everyone reaches every member who allows it.
        everyone = await m.send(room.id, "@everyone meeting at five")
        cause = f"msg:{room.id}:{everyone['seq']}"
        for p in (ann, ben, dan):
            assert (await wait_notified(p.user_id, cause)).kind == "mention"
        for p in (mod, cat, eve):
            assert cause not in await causes_of(p.user_id)
        for p in (cat, dan, eve, ben):
            assert f"msg:{room.id}:{mentioned['seq']}" not in await causes_of(p.user_id)
        for p in (ann, cat, dan):
            assert f"msg:{room.id}:{plain['seq']}" not in await causes_of(p.user_id)
        # Not notified, but the mentions are still stored with the message.
        await b.wait_seqs(room.id, mentioned["seq"])
        stored = [x for x in b.messages[room.id] if x["seq"] == mentioned["seq"]]
        assert set(stored[0]["mentions"]) >= {cat.user_id, dan.user_id, ben.user_id}

        # A banned member is notified of nothing more.
        await Membership.filter(club_id=room.club_id, user_id=ann.user_id).delete()
        await ClubBan.create(club_id=room.club_id, user_id=ann.user_id, created_by_id=mod.user_id)
        after_ban = await m.send(room.id, "@Ann are you there? @Ben")
        await wait_notified(ben.user_id, f"msg:{room.id}:{after_ban['seq']}")
        assert f"msg:{room.id}:{after_ban['seq']}" not in await causes_of(ann.user_id)
    finally:
        for c in sockets.values():
            await c.close()


async def test_an_edit_adding_a_mention_notifies_once_and_removing_it_takes_nothing_back(gateway, smtp):
    ada, bob = await make_member(gateway.url, smtp, "Ada"), await make_member(gateway.url, smtp, "Bob")
    room = await make_club_room(bob.user_id, [ada.user_id])
    b = await ChatClient(gateway.url, bob.token).connect()
    try:
        await b.join(room.id)
        sent = await b.send(room.id, "hello", client_id="edit-me")
        cause = f"msg:{room.id}:{sent['seq']}"
        assert (await b.call("message:edit", {"room_id": room.id, "seq": sent["seq"], "text": "hello @Ada"}))[
            "ok"
        ]
        await wait_notified(ada.user_id, cause)
        assert (await b.call("message:edit", {"room_id": room.id, "seq": sent["seq"], "text": "hello"}))["ok"]
        assert (
            await b.call("message:edit", {"room_id": room.id, "seq": sent["seq"], "text": "hi again @Ada"})
        )["ok"]
        # The same send again (a retry with its client_id) stores nothing and notifies nobody twice.
        again = await b.send(room.id, "hello", client_id="edit-me")
        assert again["seq"] == sent["seq"]
        marker = await b.send(room.id, "@Ada marker")
        await wait_notified(ada.user_id, f"msg:{room.id}:{marker['seq']}")
        assert (await causes_of(ada.user_id)).count(cause) == 1
        assert (await Notification.get(user_id=ada.user_id, cause=cause)).read_at is None
    finally:
        await b.close()


async def test_a_replayed_notice_creates_nothing_twice(gateway, smtp, services):
    ada, bob = await make_member(gateway.url, smtp, "Ada"), await make_member(gateway.url, smtp, "Bob")
    room = await make_club_room(bob.user_id, [ada.user_id])
    b = await ChatClient(gateway.url, bob.token).connect()
    try:
        await b.join(room.id)
        sent = await b.send(room.id, "@Ada once")
        await wait_notified(ada.user_id, f"msg:{room.id}:{sent['seq']}")
        await b.wait_seqs(room.id, 1)
        msg = b.messages[room.id][0]
        redis = actors_of(gateway).redis
        await redis.xadd(keys.NOTIFY_STREAM, notice_entry(msg, room.club_id, None))
        marker = await b.send(room.id, "@Ada marker")
        await wait_notified(ada.user_id, f"msg:{room.id}:{marker['seq']}")
        assert (await causes_of(ada.user_id)).count(f"msg:{room.id}:{sent['seq']}") == 1
    finally:
        await b.close()


async def _crowd(club_id: int, n: int) -> list[int]:
    """``n`` members of the club made straight in PostgreSQL (a crowd for @everyone)."""
    tag = uuid.uuid4().hex[:8]
    users = [
        User(email=f"crowd-{tag}-{i}@example.org", password_hash="x", display_name=f"Crowd {i}")
        for i in range(n)
    ]
    await User.bulk_create(users)
    ids = [u.id for u in await User.filter(email__startswith=f"crowd-{tag}-")]
    await Membership.bulk_create([Membership(club_id=club_id, user_id=u, role=Role.member) for u in ids])
    return ids


async def test_a_notifier_killed_mid_batch_loses_and_doubles_nothing(gateway, smtp):
    """A notifier of its own (its own stream), pausing after each chunk of 25 so it can be killed midway:
    Ray restarts it, it reads the notice it never acknowledged again, and every member ends up with one
    notification."""
    mod = await make_member(gateway.url, smtp, "Mod")
    room = await make_club_room(mod.user_id)
    crowd = await _crowd(room.club_id, 300)
    config = actors_of(gateway).actor_config.replace(
        notify_stream=f"{keys.NOTIFY_STREAM}:test-{uuid.uuid4().hex[:8]}",
        notify_insert_chunk=25,
        notify_chunk_pause_s=0.3,
    )
    name = f"notifier-{uuid.uuid4().hex[:8]}"
    notifier = Notifier.options(name=name, namespace=NAMESPACE, num_cpus=0, max_restarts=-1).remote(config)
    message = {
        "room_id": room.id,
        "seq": 1,
        "author": {"id": mod.user_id, "display_name": "Mod"},
        "text": "@everyone big news",
        "mentions_everyone": True,
    }
    cause = f"msg:{room.id}:1"
    redis = actors_of(gateway).redis
    try:
        await redis.xadd(config.notify_stream, notice_entry(message, room.club_id, None))
        await notifier.start.remote()

        async def some():
            return await Notification.filter(cause=cause).count() >= 50

        await wait_for(some, timeout=60, interval=0.05)
        ray.kill(notifier, no_restart=False)
        at_kill = await Notification.filter(cause=cause).count()
        assert at_kill < len(crowd), "killed midway"

        # As every gateway's heartbeat does: start it again until it runs (Ray restarts it; a kill may even
        # reach the new incarnation too, which is one more restart).
        async def all_notified():
            try:
                await asyncio.wait_for(notifier.start.remote(), 10)
            except Exception:
                return False
            return await Notification.filter(cause=cause).count() >= len(crowd)

        await wait_for(all_notified, timeout=180, interval=0.5)
        users = await Notification.filter(cause=cause).values_list("user_id", flat=True)
        assert sorted(users) == sorted(crowd), "each member once, the author not at all"
    finally:
        ray.kill(notifier, no_restart=True)
        await redis.delete(config.notify_stream)


async def test_reminders_follow_the_event_and_come_once(gateway, smtp):
    host, ann, ben, cal = [await make_member(gateway.url, smtp, n) for n in ("Host", "Ann", "Ben", "Cal")]
    starts = (datetime.now(UTC) + timedelta(days=1, hours=1)).replace(microsecond=0)
    async with client_session(gateway.url) as http:
        h, a, b, c = Api(http, host), Api(http, ann), Api(http, ben), Api(http, cal)
        _, club = await h.call("POST", "/clubs", {"name": f"Rem {uuid.uuid4().hex[:6]}"}, expect=201)
        for who in (a, b, c):
            await who.call("POST", f"/clubs/{club['id']}/join", expect=200)
        body = {
            "title": "Jam",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(),
        }
        _, event = await h.call("POST", f"/clubs/{club['id']}/events", body, expect=201)
        eid = event["id"]
        await a.call("POST", f"/events/{eid}/rsvp", expect=200)
        await b.call("POST", f"/events/{eid}/rsvp", expect=200)
        await b.call("DELETE", f"/events/{eid}/rsvp")  # Ben changed his mind: no reminder

        # The session's notifier and a second one (a restarted or duplicated scheduler) tick at the same
        # moments: one reminder each time, for Ann only.
        config = actors_of(gateway).actor_config
        second = Notifier.options(name=f"n-{uuid.uuid4().hex[:8]}", namespace=NAMESPACE, num_cpus=0).remote(
            config
        )
        schedulers = [actors_of(gateway).notifier, second]
        try:

            async def tick(at: datetime) -> int:
                """Both schedulers at the same simulated moment; the reminders of this event created by
                it (other tests' events may come due at that moment too: not counted)."""
                before = await Notification.filter(event_id=eid, kind="event_reminder").count()
                await asyncio.gather(*(s.remind.remote(at) for s in schedulers))
                return await Notification.filter(event_id=eid, kind="event_reminder").count() - before

            assert await tick(starts - timedelta(days=2)) == 0  # nothing due yet
            assert await tick(starts - timedelta(hours=23)) == 1
            assert await tick(starts - timedelta(hours=22)) == 0  # the same window: done already
            # Cal RSVPs now, after that tick: the 15 min reminder is his too.
            await c.call("POST", f"/events/{eid}/rsvp", expect=200)
            day_cause = f"remind:{eid}:86400:{int(starts.timestamp())}"
            assert await causes_of(ann.user_id) == [day_cause]
            n = await Notification.get(user_id=ann.user_id, cause=day_cause)
            assert n.kind == "event_reminder" and n.event_id == eid and n.text == "Jam starts in 24 hours"

            # The host moves the event a day later: the 15 min reminder of the old time never comes, the
            # new time gets its own.
            moved = starts + timedelta(days=1)
            await h.call(
                "PATCH",
                f"/events/{eid}",
                {"starts_at": moved.isoformat(), "ends_at": (moved + timedelta(hours=2)).isoformat()},
                expect=200,
            )
            status, _ = await a.call("PATCH", f"/events/{eid}", {"title": "mine now"})
            assert status == 403
            assert await tick(starts - timedelta(minutes=10)) == 0
            assert await tick(moved - timedelta(minutes=10)) == 2  # Ann and Cal (15 min window)
            assert await causes_of(ann.user_id) == [day_cause, f"remind:{eid}:900:{int(moved.timestamp())}"]
            assert await causes_of(ben.user_id) == []

            # Cancelled: no reminder at all.
            await h.call("POST", f"/events/{eid}/cancel", expect=200)
            later = moved + timedelta(days=3)
            status, _ = await h.call("POST", f"/events/{eid}/cancel")
            assert status == 409  # already cancelled
            await h.call("PATCH", f"/events/{eid}", {"starts_at": later.isoformat()}, expect=409)
            assert await tick(moved - timedelta(minutes=5)) == 0
        finally:
            ray.kill(second, no_restart=True)


async def test_a_reminder_on_a_short_clock_reaches_the_socket(gateway, smtp):
    """A notifier of its own, ticking every 0.2 s with reminders 2 s before the start, in real time."""
    host, ann = await make_member(gateway.url, smtp, "Host"), await make_member(gateway.url, smtp, "Ann")
    starts = datetime.now(UTC) + timedelta(seconds=6)
    config = actors_of(gateway).actor_config.replace(
        notify_stream=f"{keys.NOTIFY_STREAM}:test-{uuid.uuid4().hex[:8]}",
        reminder_offsets_s=(2,),
        notifier_tick_s=0.2,
    )
    notifier = Notifier.options(name=f"n-{uuid.uuid4().hex[:8]}", namespace=NAMESPACE, num_cpus=0).remote(
        config
    )
    socket = await ChatClient(gateway.url, ann.token).connect()
    try:
        async with client_session(gateway.url) as http:
            h, a = Api(http, host), Api(http, ann)
            _, club = await h.call("POST", "/clubs", {"name": f"Soon {uuid.uuid4().hex[:6]}"}, expect=201)
            await a.call("POST", f"/clubs/{club['id']}/join", expect=200)
            body = {
                "title": "Soon",
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=1)).isoformat(),
            }
            _, event = await h.call("POST", f"/clubs/{club['id']}/events", body, expect=201)
            await a.call("POST", f"/events/{event['id']}/rsvp", expect=200)
        await notifier.start.remote()

        async def reminded():
            return [n for n in socket.notifications if n["kind"] == "event_reminder"]

        (n,) = await wait_for(reminded, timeout=30)
        assert n["event_id"] == event["id"] and n["text"] == "Soon starts in 2 seconds"
        assert datetime.now(UTC) >= starts - timedelta(seconds=2)
    finally:
        ray.kill(notifier, no_restart=True)
        await socket.close()


async def test_everyone_who_rsvped_hears_that_the_event_went_live(gateway, smtp):
    people = [await make_member(gateway.url, smtp, n) for n in ("Host", "Ann", "Ben", "Cat")]
    async with client_session(gateway.url) as http:
        host, ann, ben, cat = [Api(http, p) for p in people]
        _, club = await host.call("POST", "/clubs", {"name": f"Live {uuid.uuid4().hex[:6]}"}, expect=201)
        for who in (ann, ben, cat):
            await who.call("POST", f"/clubs/{club['id']}/join", expect=200)
        start = datetime.now(UTC) + timedelta(hours=3)
        body = {
            "title": "AMA",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(),
        }
        _, event = await host.call("POST", f"/clubs/{club['id']}/events", body, expect=201)
        for who in (ann, ben):
            await who.call("POST", f"/events/{event['id']}/rsvp", expect=200)
        await host.call("POST", f"/events/{event['id']}/live/start", expect=200)
        cause = f"live:{event['id']}"
        for who in (ann, ben):
            n = await wait_notified(who.member.user_id, cause)
            assert (
                n.kind == "live_started" and n.text == "AMA is live now" and n.actor_id == host.member.user_id
            )
        # Cat did not RSVP: a marker through the same stream shows nothing came for her.
        room = await make_club_room(host.member.user_id, [cat.member.user_id])
        h = await ChatClient(gateway.url, host.member.token).connect()
        try:
            await h.join(room.id)
            marker = await h.send(room.id, "@Cat marker")
            await wait_notified(cat.member.user_id, f"msg:{room.id}:{marker['seq']}")
            assert cause not in await causes_of(cat.member.user_id)
            assert cause not in await causes_of(host.member.user_id)
        finally:
            await h.close()


async def test_a_push_goes_only_to_a_user_with_no_socket_connected(gateway, smtp):
    ada, bob = await make_member(gateway.url, smtp, "Ada"), await make_member(gateway.url, smtp, "Bob")
    room = await make_club_room(bob.user_id, [ada.user_id])
    service = PushService()
    await service.start()
    phone = Browser(f"{service.url}/ok/phone")
    b = await ChatClient(gateway.url, bob.token).connect()
    try:
        async with client_session(gateway.url) as http:
            await Api(http, ada).call("POST", "/me/push-subscriptions", phone.subscription, expect=201)
        await b.join(room.id)

        async def pushes() -> list[dict]:
            return [phone.decrypt(body) for _, body in service.to("/ok/phone")]

        away = await b.send(room.id, "@Ada while you are away")
        (pushed,) = await wait_for(pushes, timeout=30)
        assert pushed["kind"] == "mention" and pushed["room_id"] == room.id and pushed["seq"] == away["seq"]
        assert pushed["text"] == "@Ada while you are away" and pushed["actor"]["id"] == bob.user_id

        # With the app open (a socket connected), the notification goes to the socket, not to the phone.
        a = await ChatClient(gateway.url, ada.token).connect()
        here = await b.send(room.id, "@Ada now that you are here")

        async def on_socket():
            return [n for n in a.notifications if n["seq"] == here["seq"]]

        await wait_for(on_socket, timeout=30)
        await a.close()

        # The marker: gone again, the next one is pushed; the one in between never was.
        async def gone():
            return (
                bool(await actors_of(gateway).session_shard(ada.user_id).online.remote([ada.user_id]))
                is False
            )

        await wait_for(gone, timeout=30)
        later = await b.send(room.id, "@Ada gone again")

        async def two():
            got = await pushes()
            return got if len(got) >= 2 else None

        got = await wait_for(two, timeout=30)
        assert [p["seq"] for p in got] == [away["seq"], later["seq"]]
    finally:
        await b.close()
        service.release.set()
        await service.runner.cleanup()
