"""Hosts' extras in a live session (issue 22, point 5): moderated Q&A, anonymous questions, the summary as CSV.

Over real sockets, gateways and shards. What must never happen is proven by its absence once a later marker
has arrived: every live change goes out in order, so when an audience member has seen the host's marker
pin, it has seen everything published before it.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from support.chat import ChatClient, LiveView
from support.members import Api, client_session, make_member
from support.wait import wait_for


class Listener:
    """A participant's socket that keeps every frame it receives, as text, besides its ``LiveView``."""

    def __init__(self, client: ChatClient) -> None:
        self.client = client
        self.view = LiveView()
        self.frames: list[str] = []
        client.sio.on("live:update", self._update)

    def _update(self, update: dict) -> None:
        self.frames.append(json.dumps(update))
        self.view.apply(update)

    async def join(self, eid: int) -> dict:
        ack = await self.client.call("live:join", {"event_id": eid})
        assert ack["ok"], ack
        self.frames.append(json.dumps(ack))
        self.view.reset(ack["state"])
        return ack

    async def call(self, event: str, data: dict) -> dict:
        ack = await self.client.call(event, data)
        self.frames.append(json.dumps(ack))
        return ack

    async def ok(self, event: str, data: dict) -> dict:
        ack = await self.call(event, data)
        assert ack["ok"], (event, ack)
        return ack

    def everything(self) -> str:
        others = [json.dumps(v) for values in self.client.events.values() for v in values]
        return "\n".join(self.frames + others)


async def _private_club_with_event(
    host: Api, members: list[Api], moderators: list[Api] = ()
) -> tuple[int, int]:
    _, club = await host.call(
        "POST", "/clubs", {"name": "Extras club", "description": "stage", "visibility": "private"}, expect=201
    )
    cid = club["id"]
    for who in members:
        _, invite = await host.call("POST", f"/clubs/{cid}/invites", {}, expect=201)
        await who.call("POST", f"/clubs/{cid}/join", {"invite_code": invite["code"]}, expect=200)
    for who in moderators:
        await host.call(
            "PATCH", f"/clubs/{cid}/members/{who.member.user_id}", {"role": "moderator"}, expect=200
        )
    start = datetime.now(UTC) + timedelta(minutes=5)
    _, event = await host.call(
        "POST",
        f"/clubs/{cid}/events",
        {"title": "AMA", "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat()},
        expect=201,
    )
    await host.call("POST", f"/events/{event['id']}/live/start", expect=200)
    return cid, event["id"]


async def _marker(host: Listener, audience: list[Listener], eid: int, text: str) -> None:
    """The host pins ``text``; returns once every listener has seen it (and so all that came before)."""
    await host.ok("live:pin", {"event_id": eid, "text": text})

    async def seen():
        return all(x.view.state["pinned"] == text for x in audience)

    await wait_for(seen)


async def test_the_audience_never_receives_a_pending_question(gateway, smtp):
    people = [await make_member(gateway.url, smtp, n) for n in ("Host", "Ann", "Ben")]
    listeners: dict[str, Listener] = {}
    async with client_session(gateway.url) as http:
        host, ann, ben = (Api(http, p) for p in people)
        _, eid = await _private_club_with_event(host, [ann, ben])
        try:
            for name, who in (("host", host), ("ann", ann), ("ben", ben)):
                listeners[name] = Listener(await ChatClient(gateway.url, who.member.token).connect())
                await listeners[name].join(eid)
            h, a, b = listeners["host"], listeners["ann"], listeners["ben"]
            assert h.view.state["moderated"] is False and h.view.state["pending_count"] == 0

            assert (await a.call("live:moderate", {"event_id": eid, "enabled": True}))["error"]["code"] == (
                "forbidden"
            )
            await h.ok("live:moderate", {"event_id": eid, "enabled": True})
            secret = "SECRET-pending-7f3a: is the roadmap public?"
            q1 = (await a.ok("live:ask", {"event_id": eid, "text": secret}))["question_id"]

            async def host_sees_one_pending():
                return h.view.state["pending_count"] == 1

            await wait_for(host_sees_one_pending)
            # The host and the author read it through live:pending; the audience gets nothing.
            queue = (await h.ok("live:pending", {"event_id": eid}))["questions"]
            assert [(q["question_id"], q["text"], q["author_id"]) for q in queue] == [
                (q1, secret, ann.member.user_id)
            ]
            assert [q["text"] for q in (await a.ok("live:pending", {"event_id": eid}))["questions"]] == [
                secret
            ]
            assert (await b.ok("live:pending", {"event_id": eid}))["questions"] == []
            assert (await b.call("live:upvote", {"event_id": eid, "question_id": q1}))["error"]["code"] == (
                "not_found"
            )
            rejoined = await b.join(eid)  # a join answers the joiner's own review queue: empty for Ben
            assert rejoined["pending"] == [] and rejoined["state"]["questions"] == []
            assert rejoined["state"]["pending_count"] == 1
            assert [q["text"] for q in (await h.join(eid))["pending"]] == [secret]

            await _marker(h, [a, b], eid, "marker one")
            assert "SECRET-pending" not in b.everything()
            assert b.view.state["pending_count"] == 1 and b.view.state["questions"] == []

            # Approved: now everyone has it, as any question.
            await h.ok("live:approve", {"event_id": eid, "question_id": q1})

            async def ben_has_it():
                return [q["text"] for q in b.view.state["questions"]] == [secret]

            await wait_for(ben_has_it)
            assert b.view.state["pending_count"] == 0
            await b.ok("live:upvote", {"event_id": eid, "question_id": q1})

            # Dismissed: gone, and never seen by the audience.
            other = "SECRET-dismissed-91c2: a rude one"
            q2 = (await a.ok("live:ask", {"event_id": eid, "text": other}))["question_id"]
            left = "SECRET-left-pending-55e0"
            await a.ok("live:ask", {"event_id": eid, "text": left})
            await h.ok("live:dismiss", {"event_id": eid, "question_id": q2})
            assert (await h.call("live:dismiss", {"event_id": eid, "question_id": q1}))["error"]["code"] == (
                "conflict"
            )
            assert [q["text"] for q in (await a.ok("live:pending", {"event_id": eid}))["questions"]] == [left]
            await _marker(h, [a, b], eid, "marker two")
            seen = b.everything()
            assert "SECRET-dismissed" not in seen and "SECRET-left-pending" not in seen
            assert b.view.state["pending_count"] == 1

            # Everyone's view, built from the deltas, is what a fresh join answers.
            fresh = (await b.join(eid))["state"]

            async def caught_up():
                return all(x.view.state["version"] == fresh["version"] for x in (h, a))

            await wait_for(caught_up)
            for name, x in listeners.items():
                assert x.view.gaps == 0 and x.view.state == fresh, name

            # The summary publishes approved questions only.
            _, ended = await host.call("POST", f"/events/{eid}/live/end", expect=200)
            assert [q["text"] for q in ended["summary"]["questions"]] == [secret]
            _, shown = await ben.call("GET", f"/events/{eid}", expect=200)
            assert "SECRET-dismissed" not in json.dumps(shown) and "SECRET-left-pending" not in json.dumps(
                shown
            )
        finally:
            for x in listeners.values():
                await x.client.close()


async def test_an_anonymous_question_hides_its_author_from_everyone_but_the_audit_log(gateway, smtp):
    people = [await make_member(gateway.url, smtp, n) for n in ("Host", "Ann", "Ben", "Mod")]
    listeners: dict[str, Listener] = {}
    async with client_session(gateway.url) as http:
        host, ann, ben, mod = (Api(http, p) for p in people)
        cid, eid = await _private_club_with_event(host, [ann, ben, mod], moderators=[mod])
        try:
            for name, who in (("host", host), ("ann", ann), ("ben", ben)):
                listeners[name] = Listener(await ChatClient(gateway.url, who.member.token).connect())
                await listeners[name].join(eid)
            h, a, b = listeners["host"], listeners["ann"], listeners["ben"]
            text = "Who decides the budget?"
            q1 = (await a.ok("live:ask", {"event_id": eid, "text": text, "anonymous": True}))["question_id"]
            await b.ok("live:upvote", {"event_id": eid, "question_id": q1})
            # and one pending while moderated: the host reviews it without learning who asked
            await h.ok("live:moderate", {"event_id": eid, "enabled": True})
            q2 = (
                await a.ok("live:ask", {"event_id": eid, "text": "Anonymous and pending", "anonymous": True})
            )["question_id"]
            queue = (await h.ok("live:pending", {"event_id": eid}))["questions"]
            assert [(q["question_id"], q["author_id"], q["anonymous"]) for q in queue] == [(q2, None, True)]
            mine = (await a.ok("live:pending", {"event_id": eid}))["questions"]
            assert [(q["question_id"], q["mine"]) for q in mine] == [(q2, True)]
            await h.ok("live:approve", {"event_id": eid, "question_id": q2})
            await _marker(h, [a, b], eid, "marker")

            for name, x in listeners.items():
                shown = {q["question_id"]: q for q in x.view.state["questions"]}
                assert shown[q1]["author_id"] is None and shown[q1]["anonymous"] is True, name
                assert shown[q2]["author_id"] is None, name
                # no frame this listener received ties either question to Ann
                for frame in x.frames:
                    for change in json.loads(frame).get("changes", []):
                        if change.get("kind") == "question" and change["question"]["question_id"] in (q1, q2):
                            assert change["question"]["author_id"] is None, (name, change)
            fresh = (await b.join(eid))["state"]
            assert all(q["author_id"] is None for q in fresh["questions"])

            # The open-question limit still counts them: three more make Ann's five.
            await h.ok("live:moderate", {"event_id": eid, "enabled": False})
            for n in range(3):
                await a.ok("live:ask", {"event_id": eid, "text": f"more {n}", "anonymous": n == 0})
            refused = await a.call("live:ask", {"event_id": eid, "text": "a sixth", "anonymous": True})
            assert refused["error"]["code"] == "rate_limited"

            _, ended = await host.call("POST", f"/events/{eid}/live/end", expect=200)
            assert {q["text"] for q in ended["summary"]["questions"]} >= {text, "Anonymous and pending"}
            assert "author" not in json.dumps(ended["summary"])

            # The club's moderators can still tell who asked: the audit log names the real author.
            _, audit = await mod.call("GET", f"/clubs/{cid}/audit", expect=200)
            entries = [e for e in audit["entries"] if e["action"] == "live_anonymous_question"]
            assert sorted((e["actor_id"], e["details"]["question_id"]) for e in entries)[:2] == [
                (ann.member.user_id, q1),
                (ann.member.user_id, q2),
            ]
            assert {e["details"]["event_id"] for e in entries} == {eid} and len(entries) == 3
            assert (await ben.call("GET", f"/clubs/{cid}/audit"))[0] == 403
        finally:
            for x in listeners.values():
                await x.client.close()


async def _csv(http, path: str, member) -> tuple[int, str, object]:
    resp = await http.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {member.token}"})
    return resp.status, await resp.read(), resp.headers


async def test_the_summary_exports_as_csv_for_the_host_and_moderators(gateway, smtp):
    people = [await make_member(gateway.url, smtp, n) for n in ("Host", "Ann", "Mod", "Out")]
    async with client_session(gateway.url) as http:
        host, ann, mod, out = (Api(http, p) for p in people)
        _, eid = await _private_club_with_event(host, [ann, mod], moderators=[mod])
        h = await ChatClient(gateway.url, host.member.token).connect()
        a = await ChatClient(gateway.url, ann.member.token).connect()
        try:
            for c in (h, a):
                assert (await c.call("live:join", {"event_id": eid}))["ok"]
            # Not ended yet: nothing to export.
            status, body, _ = await _csv(http, f"/events/{eid}/summary.csv", host.member)
            assert status == 409, body
            questions = [
                '=HYPERLINK("http://evil.example","click")',
                'Plain, with a comma and "quotes"',
                "-2+3",
            ]
            ids = []
            for text in questions:
                ids.append((await a.call("live:ask", {"event_id": eid, "text": text}))["question_id"])
            assert (await a.call("live:upvote", {"event_id": eid, "question_id": ids[1]}))["ok"]
            assert (await h.call("live:answer", {"event_id": eid, "question_id": ids[1]}))["ok"]
            poll = await h.call(
                "live:poll", {"event_id": eid, "question": "@SUM(A1)?", "options": ["+1", "ok"]}
            )
            assert (await a.call("live:vote", {"event_id": eid, "poll_id": poll["poll_id"], "option": 0}))[
                "ok"
            ]
            _, ended = await host.call("POST", f"/events/{eid}/live/end", expect=200)
        finally:
            await h.close()
            await a.close()

        status, body, headers = await _csv(http, f"/events/{eid}/summary.csv", host.member)
        assert status == 200, body
        assert headers["Content-Type"].startswith("text/csv")
        assert headers["Content-Disposition"] == f'attachment; filename="event-{eid}-summary.csv"'
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
        assert body.startswith("\ufeff".encode()) and b"\r\n" in body
        summary = ended["summary"]
        assert rows[0] == ["section", "text", "option", "count", "answered"]
        assert rows[1:4] == [
            ["session", "attendance", "", str(summary["attendance"]), ""],
            ["session", "peak_audience", "", str(summary["peak_audience"]), ""],
            ["session", "duration_s", "", str(summary["duration_s"]), ""],
        ]
        assert rows[4:7] == [
            ["question", 'Plain, with a comma and "quotes"', "", "1", "yes"],
            ["question", '\'=HYPERLINK("http://evil.example","click")', "", "0", "no"],
            ["question", "'-2+3", "", "0", "no"],
        ]
        assert rows[7:] == [["poll", "'@SUM(A1)?", "'+1", "1", ""], ["poll", "'@SUM(A1)?", "ok", "0", ""]]
        for row in rows:  # no cell a spreadsheet would run
            assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row), row

        # The club's moderators may export it too; a member may not; an outsider of the private club
        # cannot even tell the event exists.
        assert (await _csv(http, f"/events/{eid}/summary.csv", mod.member))[0] == 200
        status, body, _ = await _csv(http, f"/events/{eid}/summary.csv", ann.member)
        assert status == 403 and json.loads(body)["error"]["code"] == "forbidden"
        status, body, _ = await _csv(http, f"/events/{eid}/summary.csv", out.member)
        assert status == 404 and json.loads(body)["error"]["code"] == "not_found"
        assert (await _csv(http, f"/events/{eid + 10**9}/summary.csv", host.member))[0] == 404
