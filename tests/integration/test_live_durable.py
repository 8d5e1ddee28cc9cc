"""A live session outlives the actor hosting it (issue 15, must-show 2): every change is stored before it is
broadcast or acknowledged, and a restarted room shard restores the session from the store on first use.

Both tests run a whole session over real sockets, gateways and shards; the first kills the shard hosting it
(Ray restarts it: a new process with empty memory), the second stops the MongoDB-wire server under it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import ray
from support.chat import ChatClient, LiveView
from support.members import Api, client_session, make_member
from support.wait import wait_for

from storage.janus import AudioRooms
from storage.services import janus_keys


def _actors(gateway):
    from gateway.http.keys import ACTORS

    return gateway.app[ACTORS]


async def _live_event(host: Api, others: list[Api]) -> int:
    _, club = await host.call("POST", "/clubs", {"name": "Durable club", "description": "stage"}, expect=201)
    for who in others:
        await who.call("POST", f"/clubs/{club['id']}/join", expect=200)
    start = datetime.now(UTC) + timedelta(minutes=5)
    _, event = await host.call(
        "POST",
        f"/clubs/{club['id']}/events",
        {"title": "AMA", "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat()},
        expect=201,
    )
    await host.call("POST", f"/events/{event['id']}/live/start", expect=200)
    return event["id"]


async def _join(sockets: dict, views: dict, name: str, eid: int) -> dict:
    ack = await sockets[name].call("live:join", {"event_id": eid})
    assert ack["ok"], ack
    views[name].reset(ack["state"])
    return ack["state"]


async def _ok(client: ChatClient, event: str, data: dict) -> dict:
    ack = await client.call(event, data)
    assert ack["ok"], (event, ack)
    return ack


async def test_live_session_survives_its_shard_actor_being_killed(gateway, smtp, settings, services):
    people = [await make_member(gateway.url, smtp, n) for n in ("Host", "Ann", "Ben", "Cat")]
    sockets: dict[str, ChatClient] = {}
    async with client_session(gateway.url) as http:
        host, ann, ben, cat = [Api(http, p) for p in people]
        eid = await _live_event(host, [ann, ben, cat])
        views = {name: LiveView() for name in ("host", "ann", "ben", "cat")}
        try:
            for name, who in zip(views, (host, ann, ben, cat), strict=True):
                sockets[name] = await ChatClient(gateway.url, who.member.token).connect()
                sockets[name].sio.on("live:update", views[name].apply)
                await _join(sockets, views, name, eid)
            h, a, b, c = (sockets[n] for n in ("host", "ann", "ben", "cat"))

            # Every kind of state: hands (in the order raised), a speaker, questions with upvotes and an
            # answer, a closed poll and an open one with votes, a pinned announcement.
            await _ok(c, "live:hand", {"event_id": eid, "raised": True})
            await _ok(a, "live:hand", {"event_id": eid, "raised": True})
            await _ok(b, "live:hand", {"event_id": eid, "raised": True})
            await _ok(h, "live:promote", {"event_id": eid, "user_id": ann.member.user_id, "role": "speaker"})
            q1 = (await _ok(b, "live:ask", {"event_id": eid, "text": "What's next?"}))["question_id"]
            q2 = (await _ok(c, "live:ask", {"event_id": eid, "text": "Any demos?"}))["question_id"]
            for voter in (a, c):
                await _ok(voter, "live:upvote", {"event_id": eid, "question_id": q2})
            await _ok(a, "live:upvote", {"event_id": eid, "question_id": q1})
            await _ok(h, "live:answer", {"event_id": eid, "question_id": q1})
            poll = {"event_id": eid, "question": "Tabs or spaces?", "options": ["tabs", "spaces"]}
            p1 = (await _ok(h, "live:poll", poll))["poll_id"]
            await _ok(a, "live:vote", {"event_id": eid, "poll_id": p1, "option": 1})
            await _ok(b, "live:vote", {"event_id": eid, "poll_id": p1, "option": "spaces"})
            await _ok(c, "live:vote", {"event_id": eid, "poll_id": p1, "option": 0})
            await _ok(h, "live:close_poll", {"event_id": eid, "poll_id": p1})
            p2 = (await _ok(h, "live:poll", {**poll, "question": "Again?", "options": ["yes", "no"]}))[
                "poll_id"
            ]
            await _ok(b, "live:vote", {"event_id": eid, "poll_id": p2, "option": 0})
            await _ok(h, "live:pin", {"event_id": eid, "text": "Slides at example.org"})

            # What everyone holds now: a re-join by the same socket changes nothing and answers the state.
            before = await _join(sockets, views, "host", eid)
            assert before["hands"] == [cat.member.user_id, ben.member.user_id]
            assert before["speakers"] == [ann.member.user_id]
            assert [(q["question_id"], q["votes"], q["answered"]) for q in before["questions"]] == [
                (q2, 2, False),
                (q1, 1, True),
            ]
            assert [(p["tallies"], p["closed"]) for p in before["polls"]] == [([1, 2], True), ([1, 0], False)]
            assert before["pinned"] == "Slides at example.org" and before["present"] == 4

            async def everyone_at(version):
                return all(v.state["version"] == version for v in views.values())

            await wait_for(lambda: everyone_at(before["version"]))

            # The actor hosting the session dies; Ray restarts it: a new process that remembers nothing.
            actors = _actors(gateway)
            room_id = before["room_id"]
            shard = actors.room_shard(room_id)
            counters = (await shard.stats.remote())["counters"]
            assert counters.get("live_journal_writes", 0) > 0
            ray.kill(shard, no_restart=False)

            async def restarted():
                try:
                    stats = await asyncio.wait_for(shard.stats.remote(), 5)
                except (ray.exceptions.RayError, TimeoutError):
                    return None
                return stats if "live_journal_writes" not in stats["counters"] else None

            await wait_for(restarted, timeout=60)

            # The state query (what ending a session reads its attendees from) restores the session; then
            # re-joining listeners get exactly the state they had.
            queried = await actors.live_state(room_id, eid)
            assert queried.pop("present_users") == sorted(p.member.user_id for p in (host, ann, ben, cat))
            assert queried == before
            for name in ("cat", "ann"):
                again = await _join(sockets, views, name, eid)
                assert again == before, name
            stats = await shard.stats.remote()
            assert stats["counters"]["live_restores"] == 1  # restored once, however many asked

            # Rules and order hold after the restore, and the version continues (no gap for anyone,
            # including the host and Ben, who never re-joined: their sockets are still in the session).
            assert (await b.call("live:vote", {"event_id": eid, "poll_id": p2, "option": 1}))["error"][
                "code"
            ] == "conflict"
            assert (await c.call("live:vote", {"event_id": eid, "poll_id": p1, "option": 1}))["error"][
                "code"
            ] == "conflict"
            await _ok(c, "live:vote", {"event_id": eid, "poll_id": p2, "option": 1})
            await _ok(b, "live:upvote", {"event_id": eid, "question_id": q2})
            q3 = (await _ok(b, "live:ask", {"event_id": eid, "text": "And after that?"}))["question_id"]
            assert q3 not in (q1, q2, p1, p2)
            await _ok(h, "live:promote", {"event_id": eid, "user_id": ben.member.user_id, "role": "speaker"})
            await _ok(h, "live:pin", {"event_id": eid, "text": "Recording later"})

            # The restarted host keeps Janus in line too: the stage admits exactly the host and the speakers.
            keys = janus_keys(settings, services.urls()["janus"])
            rooms = AudioRooms(keys)
            try:
                stage = (host, ann, ben)
                assert await rooms.allowed(eid) == {
                    keys.monitor_token(eid),
                    *(keys.stage_token(eid, p.member.user_id) for p in stage),
                }
            finally:
                await rooms.close()

            after = await _join(sockets, views, "ann", eid)
            assert after["version"] == before["version"] + 5
            assert after["hands"] == [cat.member.user_id] and after["speakers"] == sorted(
                [ann.member.user_id, ben.member.user_id]
            )
            assert [(q["question_id"], q["votes"]) for q in after["questions"]] == [(q2, 3), (q1, 1), (q3, 0)]
            assert after["polls"][1]["tallies"] == [1, 1] and after["pinned"] == "Recording later"

            await wait_for(lambda: everyone_at(after["version"]))
            for name, view in views.items():
                assert view.gaps == 0 and view.state == after, name

            _, ended = await host.call("POST", f"/events/{eid}/live/end", expect=200)
            summary = ended["summary"]
            assert summary["attendance"] == 4
            assert summary["questions"][0] == {"text": "Any demos?", "votes": 3, "answered": False}
            assert [p["tallies"] for p in summary["polls"]] == [[1, 2], [1, 1]]
            assert (await a.call("live:hand", {"event_id": eid, "raised": True}))["error"][
                "code"
            ] == "not_found"
        finally:
            for client in sockets.values():
                await client.close()


async def test_a_change_the_store_refuses_is_neither_acked_nor_published(gateway, smtp, services):
    people = [await make_member(gateway.url, smtp, n) for n in ("Host", "Ann")]
    sockets: dict[str, ChatClient] = {}
    mongo = services.embedded["mongo"]
    stopped = False
    async with client_session(gateway.url) as http:
        host, ann = (Api(http, p) for p in people)
        eid = await _live_event(host, [ann])
        views = {"host": LiveView(), "ann": LiveView()}
        try:
            for name, who in (("host", host), ("ann", ann)):
                sockets[name] = await ChatClient(gateway.url, who.member.token).connect()
                sockets[name].sio.on("live:update", views[name].apply)
                await _join(sockets, views, name, eid)
            h, a = sockets["host"], sockets["ann"]
            pid = (await _ok(h, "live:poll", {"event_id": eid, "question": "Q?", "options": ["x", "y"]}))[
                "poll_id"
            ]
            state = await _join(sockets, views, "host", eid)

            async def ann_at(version):
                return views["ann"].state["version"] == version

            await wait_for(lambda: ann_at(state["version"]))

            await asyncio.to_thread(mongo.stop)
            stopped = True
            refused = await a.call("live:vote", {"event_id": eid, "poll_id": pid, "option": 0})
            assert refused["error"]["code"] == "unavailable", refused
            await asyncio.to_thread(mongo.start)
            stopped = False

            async def pinned():  # the store answers again (after the host's back-off)
                ack = await h.call("live:pin", {"event_id": eid, "text": "marker"})
                return ack if ack["ok"] else None

            await wait_for(pinned, timeout=30, interval=0.2)

            # The marker arrives right after the last stored change: the refused vote was never published
            # (no gap, no tally), and Ann may vote now, once.
            await wait_for(lambda: ann_at(state["version"] + 1))
            assert views["ann"].gaps == 0
            assert views["ann"].state["pinned"] == "marker"
            assert views["ann"].state["polls"][0]["tallies"] == [0, 0]
            fresh = await _join(sockets, views, "host", eid)
            assert fresh["polls"][0]["tallies"] == [0, 0] and fresh["version"] == state["version"] + 1
            await _ok(a, "live:vote", {"event_id": eid, "poll_id": pid, "option": 0})
            assert (await a.call("live:vote", {"event_id": eid, "poll_id": pid, "option": 1}))["error"][
                "code"
            ] == "conflict"
        finally:
            if stopped:
                await asyncio.to_thread(mongo.start)
            for client in sockets.values():
                await client.close()


async def test_the_journal_snapshots_trims_expires_and_fences_a_second_writer(services, monkeypatch):
    """The store under two hosts of one session (an actor presumed dead that still runs), on the real
    MongoDB-wire server: snapshots every few entries, older entries trimmed, a restore replaying the records
    after the newest snapshot, the stale host refused, an ended session's final entry kept, expiry."""
    import uuid
    from collections import Counter

    from pymongo import AsyncMongoClient

    import actors.live_host as live_host
    from actors.domain.room import Member, Room
    from actors.fanout import Fanout
    from actors.hosting import TaskSet
    from storage.live_store import LIVE_JOURNAL
    from storage.redis import connect_redis

    monkeypatch.setattr(live_host, "SNAPSHOT_EVERY", 3)
    urls = services.urls()
    client = AsyncMongoClient(urls["mongo"], tz_aware=True, serverSelectionTimeoutMS=5000)
    db = client[f"live_store_{uuid.uuid4().hex[:8]}"]
    redis = connect_redis(urls["redis"])
    room = Room(room_id=1, club_id=1)
    for user in (10, 11, 12, 13):
        room.members[user] = Member(user, f"u{user}", role="owner" if user == 10 else "member")

    async def the_room(_room_id):
        return room

    async def member(_room_id, user_id):
        return room.member(user_id)

    tasks = TaskSet()

    def new_host() -> live_host.LiveHost:
        # A channel nobody listens to: this test is about the store.
        fanout = Fanout(redis, f"test-{uuid.uuid4().hex[:6]}", "test")
        return live_host.LiveHost(the_room, member, fanout, Counter(), tasks, lambda: db, 2.0)

    async def journal() -> list[tuple[int, bool, str]]:
        cursor = db[LIVE_JOURNAL].find({"event_id": 5}).sort("journal", 1)
        return [(d["journal"], d["state"] is not None, d["status"]) async for d in cursor]

    try:
        first = new_host()
        assert "state" in await first.start(5, 1, 10)
        for user in (10, 11, 12, 13):
            assert "state" in await first.join(5, user, f"gw/{user}")
        q = (await first.act(5, 12, "ask", {"text": "hi"}))["question_id"]
        acks = await asyncio.gather(
            *(first.act(5, u, "upvote", {"question_id": q}) for u in (10, 11, 12, 13))
        )
        assert acks == [{}] * 4
        p = (await first.act(5, 10, "poll", {"question": "q", "options": ["a", "b"]}))["poll_id"]
        for user in (11, 12, 13):
            assert await first.act(5, user, "vote", {"poll_id": p, "option": user % 2}) == {}
        assert await first.act(5, 11, "hand", {"raised": True}) == {}

        # One entry per flush, a snapshot every 3; entries older than the newest snapshot are trimmed (in
        # the background, after the snapshot's own write).
        async def trimmed_to_snapshot():
            stored = await journal()
            return (
                stored
                if [has_state for _, has_state, _ in stored].count(True) == 1 and stored[0][1]
                else None
            )

        stored = await wait_for(trimmed_to_snapshot)
        assert stored[0][0] > 1 and [j for j, _, _ in stored] == list(range(stored[0][0], stored[-1][0] + 1))
        assert first.counters["live_journal_writes"] == stored[-1][0]
        for text in (
            "one",
            "two",
            "three",
        ):  # until the newest entry is records only, which a restore replays
            assert await first.act(5, 10, "pin", {"text": text}) == {}
            if not (await journal())[-1][1]:
                break
        assert not (await journal())[-1][1]
        before = first.state(5)

        # A second host restores snapshot + tail and carries on.
        second = new_host()
        assert second.state(5) is None
        assert await second.restored_state(5) == before
        assert second.counters["live_restores"] == 1
        refused = await second.act(5, 13, "vote", {"poll_id": p, "option": 0})
        assert isinstance(refused, live_host.DomainError) and refused.code == "conflict"
        assert await second.act(5, 12, "hand", {"raised": True}) == {}

        # The first host still thinks it owns the session: its next write collides and is refused, and
        # nothing of it is published; its next use reloads what the second host stored.
        refused = await first.act(5, 13, "hand", {"raised": True})
        assert isinstance(refused, live_host.DomainError) and refused.code == "unavailable"
        assert first.counters["live_stale_writes"] == 1
        assert (await first.restored_state(5))["hands"] == [11, 12]

        # Ending stores a final snapshot with the ended status and trims the rest; a second end answers the
        # stored summary (the gateway may have died before recording it on the event); joins are refused.
        summary = (await first.act(5, 10, "end", {}))["summary"]
        assert summary["questions"] == [{"text": "hi", "votes": 4, "answered": False}]

        async def trimmed():
            return len(await journal()) == 1

        await wait_for(trimmed)
        final = await journal()
        assert final[0][1:] == (True, "ended")
        third = new_host()
        assert await third.act(5, 10, "end", {}) == {"summary": summary}
        refused = await third.join(5, 11, "gw/11")
        assert isinstance(refused, live_host.DomainError) and refused.code == "not_found"
        restarted = await third.start(5, 1, 10)  # a new session of the event continues the version
        assert restarted["state"]["version"] > before["version"] and restarted["state"]["questions"] == []

        # Expired entries go (the TTL index on MongoDB; purge() where the server has no TTL monitor).
        await db[LIVE_JOURNAL].update_many(
            {"event_id": 5}, {"$set": {"expire_at": datetime.now(UTC) - timedelta(1)}}
        )
        assert await third.store.purge() >= 1
        assert await journal() == []
    finally:
        await tasks.close()
        await client.drop_database(db.name)
        await client.close()
        await redis.aclose()


async def test_moderation_and_anonymity_survive_a_restore_from_the_store(services):
    """A second host restores a moderated session from the real store: the pending question stays pending
    (the host still reviews it, the audience still cannot see it), an anonymous question stays anonymous and
    still counts against its author's open questions."""
    import uuid
    from collections import Counter

    from pymongo import AsyncMongoClient

    import actors.live_host as live_host
    from actors.domain.room import Member, Room
    from actors.fanout import Fanout
    from actors.hosting import TaskSet
    from storage.redis import connect_redis

    urls = services.urls()
    client = AsyncMongoClient(urls["mongo"], tz_aware=True, serverSelectionTimeoutMS=5000)
    db = client[f"live_extras_{uuid.uuid4().hex[:8]}"]
    redis = connect_redis(urls["redis"])
    room = Room(room_id=1, club_id=1)
    for user in (10, 11, 12):
        room.members[user] = Member(user, f"u{user}", role="owner" if user == 10 else "member")

    async def the_room(_room_id):
        return room

    async def member(_room_id, user_id):
        return room.member(user_id)

    tasks = TaskSet()

    def new_host() -> live_host.LiveHost:
        fanout = Fanout(redis, f"test-{uuid.uuid4().hex[:6]}", "test")
        return live_host.LiveHost(the_room, member, fanout, Counter(), tasks, lambda: db, 2.0)

    try:
        first = new_host()
        assert "state" in await first.start(5, 1, 10)
        for user in (10, 11, 12):
            assert "state" in await first.join(5, user, f"gw/{user}")
        anon = (await first.act(5, 11, "ask", {"text": "who?", "anonymous": True}))["question_id"]
        assert await first.act(5, 10, "moderate", {"enabled": True}) == {}
        pending = (await first.act(5, 11, "ask", {"text": "pending one", "anonymous": True}))["question_id"]
        before = first.state(5)

        second = new_host()
        restored = await second.restored_state(5)
        assert restored == before and restored["moderated"] and restored["pending_count"] == 1
        assert [(q["question_id"], q["author_id"]) for q in restored["questions"]] == [(anon, None)]
        queue = (await second.act(5, 10, "pending", {}))["questions"]
        assert [(q["question_id"], q["author_id"], q["text"]) for q in queue] == [
            (pending, None, "pending one")
        ]
        assert (await second.act(5, 12, "pending", {}))["questions"] == []
        assert [q["question_id"] for q in (await second.act(5, 11, "pending", {}))["questions"]] == [pending]
        refused = await second.act(5, 12, "upvote", {"question_id": pending})
        assert isinstance(refused, live_host.DomainError) and refused.code == "not_found"
        for n in range(3):  # two of Ann's five were asked before the restore
            assert "question_id" in await second.act(5, 11, "ask", {"text": f"q{n}"})
        refused = await second.act(5, 11, "ask", {"text": "a sixth"})
        assert isinstance(refused, live_host.DomainError) and refused.code == "rate_limited"
        assert await second.act(5, 10, "approve", {"question_id": pending}) == {}
        summary = (await second.act(5, 10, "end", {}))["summary"]
        assert {"who?", "pending one"} <= {q["text"] for q in summary["questions"]}
        # the stored journal keeps the real author (a third host restores the ended session)
        third = new_host()
        ended = await third._get(5)
        assert ended is not None and ended.session.questions[anon].author_id == 11
    finally:
        await tasks.close()
        await client.drop_database(db.name)
        await client.close()
        await redis.aclose()
