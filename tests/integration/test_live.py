"""A whole live session with a host and an audience, over real sockets and shards."""

from datetime import UTC, datetime, timedelta

from support.chat import ChatClient, LiveView
from support.members import Api, client_session, make_member
from support.wait import wait_for


async def test_full_live_session(gateway, smtp):
    people = [await make_member(gateway.url, smtp, n) for n in ("Host", "Ann", "Ben", "Cat", "Late")]
    async with client_session(gateway.url) as http:
        host, ann, ben, cat, late = [Api(http, p) for p in people]
        _, club = await host.call("POST", "/clubs", {"name": "Live club", "description": "stage"}, expect=201)
        for who in (ann, ben, cat, late):
            await who.call("POST", f"/clubs/{club['id']}/join", expect=200)
        start = datetime.now(UTC) + timedelta(minutes=5)
        _, event = await host.call(
            "POST",
            f"/clubs/{club['id']}/events",
            {
                "title": "AMA",
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=1)).isoformat(),
            },
            expect=201,
        )
        eid = event["id"]
        assert (await ann.call("POST", f"/events/{eid}/live/start"))[0] == 403
        _, started = await host.call("POST", f"/events/{eid}/live/start", expect=200)
        assert started["state"]["status"] == "live" and started["state"]["host_id"] == host.member.user_id

        sockets = {}
        views = {}
        for name, who in (("host", host), ("ann", ann), ("ben", ben), ("cat", cat)):
            c = sockets[name] = await ChatClient(gateway.url, who.member.token).connect()
            view = views[name] = LiveView()
            c.sio.on("live:update", view.apply)
            ack = await c.call("live:join", {"event_id": eid})
            assert ack["ok"] and ack["state"]["event_id"] == eid
            view.reset(ack["state"])
        h, a, b, c = sockets["host"], sockets["ann"], sockets["ben"], sockets["cat"]
        try:
            assert (await a.call("live:hand", {"event_id": eid, "raised": True}))["ok"]
            assert (await b.call("live:hand", {"event_id": eid, "raised": True}))["ok"]

            async def hands_seen():
                return views["host"].state["hands"] == [ann.member.user_id, ben.member.user_id]

            await wait_for(hands_seen)
            refused = await a.call(
                "live:promote", {"event_id": eid, "user_id": ben.member.user_id, "role": "speaker"}
            )
            assert refused["error"]["code"] == "forbidden"
            assert (
                await h.call(
                    "live:promote", {"event_id": eid, "user_id": ann.member.user_id, "role": "speaker"}
                )
            )["ok"]

            q1 = (await b.call("live:ask", {"event_id": eid, "text": "What's next?"}))["question_id"]
            q2 = (await c.call("live:ask", {"event_id": eid, "text": "Any demos?"}))["question_id"]
            for client in (a, c, c):  # Cat votes twice: counted once
                assert (await client.call("live:upvote", {"event_id": eid, "question_id": q2}))["ok"]
            assert (await b.call("live:upvote", {"event_id": eid, "question_id": q1}))["ok"]
            assert (await b.call("live:answer", {"event_id": eid, "question_id": q1}))["error"][
                "code"
            ] == "forbidden"
            assert (await h.call("live:answer", {"event_id": eid, "question_id": q1}))["ok"]

            poll = await h.call(
                "live:poll", {"event_id": eid, "question": "Tabs or spaces?", "options": ["tabs", "spaces"]}
            )
            assert poll["ok"]
            pid = poll["poll_id"]
            assert (await a.call("live:poll", {"event_id": eid, "question": "x", "options": ["1", "2"]}))[
                "error"
            ]["code"] == "forbidden"
            assert (await a.call("live:vote", {"event_id": eid, "poll_id": pid, "option": 1}))["ok"]
            assert (await b.call("live:vote", {"event_id": eid, "poll_id": pid, "option": "spaces"}))["ok"]
            assert (await c.call("live:vote", {"event_id": eid, "poll_id": pid, "option": 0}))["ok"]
            assert (await c.call("live:vote", {"event_id": eid, "poll_id": pid, "option": 1}))["error"][
                "code"
            ] == "conflict"
            assert (await h.call("live:pin", {"event_id": eid, "text": "Slides at example.org"}))["ok"]
            assert (await h.call("live:close_poll", {"event_id": eid, "poll_id": pid}))["ok"]
            assert (await a.call("live:vote", {"event_id": eid, "poll_id": pid, "option": 0}))["error"][
                "code"
            ] == "conflict"
            assert (await a.call("live:hand", {"event_id": eid}))["error"]["code"] == "invalid"  # malformed

            async def settled():
                s = views["cat"].state
                return s if s["pinned"] and s["polls"] and s["polls"][0]["closed"] else None

            s = await wait_for(settled)
            assert s["speakers"] == [ann.member.user_id] and s["hands"] == [ben.member.user_id]
            assert [(q["question_id"], q["votes"], q["answered"]) for q in s["questions"]] == [
                (q2, 2, False),
                (q1, 1, True),
            ]
            assert s["polls"][0]["tallies"] == [1, 2]
            assert s["audience_count"] == 2  # Ben and Cat; Ann is on stage

            # A late joiner gets the current state in the ack; what the others built from deltas is the same
            # (but for the late joiner's own presence, which reaches them as one more delta).
            d = await ChatClient(gateway.url, late.member.token).connect()
            try:
                ack = await d.call("live:join", {"event_id": eid})
                fresh = ack["state"]
                assert fresh["pinned"] == "Slides at example.org" and fresh["polls"][0]["tallies"] == [1, 2]

                async def caught_up():
                    return all(v.state["version"] == fresh["version"] for v in views.values())

                await wait_for(caught_up)
                for name, view in views.items():
                    assert view.gaps == 0 and view.state == fresh, name
            finally:
                await d.close()

            assert (await ann.call("POST", f"/events/{eid}/live/end"))[0] == 403
            _, ended = await host.call("POST", f"/events/{eid}/live/end", expect=200)
            summary = ended["summary"]
            assert summary["attendance"] == 5 and summary["peak_audience"] >= 2
            assert summary["questions"][0] == {"text": "Any demos?", "votes": 2, "answered": False}
            assert summary["polls"] == [
                {"question": "Tabs or spaces?", "options": ["tabs", "spaces"], "tallies": [1, 2]}
            ]

            async def ended_seen():
                return views["ann"].state["status"] == "ended"

            await wait_for(ended_seen)
            _, shown = await ben.call("GET", f"/events/{eid}", expect=200)
            assert shown["status"] == "ended" and shown["summary"] == summary
            assert (await a.call("live:hand", {"event_id": eid, "raised": True}))["error"][
                "code"
            ] == "not_found"

            async def host_awarded():
                _, body = await ann.call("GET", f"/users/{host.member.user_id}/achievements")
                return "hosted_live" in [x["code"] for x in body["achievements"]]

            await wait_for(host_awarded)
        finally:
            for client in sockets.values():
                await client.close()
