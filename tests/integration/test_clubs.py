"""Clubs, roles, moderation and events against the real services, REST and live sockets."""

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from support.chat import ChatClient
from support.members import Api, client_session, make_member
from support.wait import wait_for

from actors.domain.roles import ACTIONS, can, can_act_on


@pytest.fixture
async def people(gateway, smtp):
    async with client_session(gateway.url) as http:
        members = [await make_member(gateway.url, smtp, n) for n in ("Owner", "Mod", "Mem", "Out")]
        yield [Api(http, m) for m in members]


def test_role_matrix():
    expected = {
        "member": {"read", "send", "rsvp", "leave", "post_reel"},
        "moderator": {
            "read",
            "send",
            "rsvp",
            "leave",
            "post_reel",
            "delete_any_reel",
            "create_invite",
            "revoke_invite",
            "create_room",
            "set_slow_mode",
            "delete_any_message",
            "timeout",
            "ban",
            "view_audit",
            "create_event",
            "export_live_summary",
            "view_reports",
            "resolve_report",
            "view_automod",
            "set_automod",
        },
        "owner": set(ACTIONS),
        None: set(),
    }
    for role, allowed in expected.items():
        for action in ACTIONS:
            assert can(role, action) == (action in allowed), (role, action)
    assert (
        can_act_on("owner", "moderator")
        and can_act_on("moderator", "member")
        and can_act_on("moderator", None)
    )
    assert not can_act_on("moderator", "moderator") and not can_act_on("moderator", "owner")


async def test_create_search_join_and_leave(people):
    owner, mod, mem, out = people
    tag = uuid.uuid4().hex[:8]
    _, chess = await owner.call(
        "POST", "/clubs", {"name": f"Chess {tag}", "description": f"openings endgames {tag}"}, expect=201
    )
    assert chess["my_role"] == "owner" and chess["member_count"] == 1
    _, rooms = await owner.call("GET", f"/clubs/{chess['id']}/rooms", expect=200)
    assert [r["name"] for r in rooms["rooms"]] == ["general"]
    for i in range(3):
        await owner.call(
            "POST", "/clubs", {"name": f"Go club {i} {tag}", "description": f"weiqi {tag}"}, expect=201
        )
    _, secret = await owner.call(
        "POST", "/clubs", {"name": f"Secret {tag}", "description": tag, "visibility": "private"}, expect=201
    )

    # Ranked search, paged with a cursor; a private club is invisible to outsiders.
    _, page1 = await out.call("GET", "/clubs", params={"q": f"endgames {tag}", "limit": "10"}, expect=200)
    assert [c["id"] for c in page1["items"]] == [chess["id"]]
    _, page = await out.call("GET", "/clubs", params={"q": tag, "limit": "2"}, expect=200)
    seen = [c["id"] for c in page["items"]]
    while page["next_cursor"]:
        _, page = await out.call(
            "GET", "/clubs", params={"q": tag, "limit": "2", "cursor": page["next_cursor"]}, expect=200
        )
        seen += [c["id"] for c in page["items"]]
    assert len(seen) == len(set(seen)) == 4 and secret["id"] not in seen
    scores = [c["score"] for c in page1["items"]]
    assert scores == sorted(scores, reverse=True)
    _, mine = await owner.call("GET", "/clubs", params={"q": f"Secret {tag}"}, expect=200)
    assert [c["id"] for c in mine["items"]] == [secret["id"]]
    assert (await out.call("GET", f"/clubs/{secret['id']}"))[0] == 404
    assert (await out.call("GET", "/clubs", params={"cursor": "garbage!"}))[0] == 422

    # Public join; private join needs a valid invite; expired and revoked ones fail. Without a valid invite
    # a private club answers like a missing one: 404 (issue 11, L3).
    _, joined = await mem.call("POST", f"/clubs/{chess['id']}/join", expect=200)
    assert joined["my_role"] == "member" and joined["member_count"] == 2
    assert (await out.call("POST", f"/clubs/{secret['id']}/join"))[0] == 404
    _, invite = await owner.call("POST", f"/clubs/{secret['id']}/invites", {"expires_in_s": 3600}, expect=201)
    assert (await out.call("POST", f"/clubs/{secret['id']}/join", {"invite_code": "wrong"}))[0] == 404
    await out.call("POST", f"/clubs/{secret['id']}/join", {"invite_code": invite["code"]}, expect=200)
    _, revoked = await owner.call("POST", f"/clubs/{secret['id']}/invites", {}, expect=201)
    await owner.call("POST", f"/clubs/{secret['id']}/invites/revoke", {"code": revoked["code"]}, expect=204)
    assert (await mod.call("POST", f"/clubs/{secret['id']}/join", {"invite_code": revoked["code"]}))[0] == 404
    from storage.models import ClubInvite

    expired = await ClubInvite.create(
        club_id=secret["id"],
        code=f"old-{tag}",
        created_by_id=owner.member.user_id,
        expires_at=datetime.now(UTC) - timedelta(minutes=1),
    )
    assert (await mod.call("POST", f"/clubs/{secret['id']}/join", {"invite_code": expired.code}))[0] == 404
    # A code alone is enough (codes are unique): the club is found from it; the same rules apply.
    assert (await mod.call("POST", "/invites/accept", {"invite_code": revoked["code"]}))[0] == 404
    assert (await mod.call("POST", "/invites/accept", {"invite_code": f"nope-{tag}"}))[0] == 404
    _, fresh = await owner.call("POST", f"/clubs/{secret['id']}/invites", {}, expect=201)
    _, accepted = await mod.call("POST", "/invites/accept", {"invite_code": fresh["code"]}, expect=200)
    assert accepted["id"] == secret["id"] and accepted["my_role"] == "member"
    _, mine = await mod.call("GET", "/me/clubs", expect=200)
    assert {(c["id"], c["my_role"]) for c in mine["clubs"]} >= {(secret["id"], "member")}
    _, mine = await owner.call("GET", "/me/clubs", expect=200)
    assert {(c["id"], c["my_role"]) for c in mine["clubs"]} >= {
        (secret["id"], "owner"),
        (chess["id"], "owner"),
    }

    # Members with roles; the owner leaves only after handing over.
    _, members = await mem.call("GET", f"/clubs/{chess['id']}/members", expect=200)
    assert {(m["user_id"], m["role"]) for m in members["members"]} == {
        (owner.member.user_id, "owner"),
        (mem.member.user_id, "member"),
    }
    status, body = await owner.call("POST", f"/clubs/{chess['id']}/leave")
    assert status == 409 and body["error"]["code"] == "conflict"
    await owner.call(
        "PATCH", f"/clubs/{chess['id']}/members/{mem.member.user_id}", {"role": "owner"}, expect=200
    )
    await owner.call("POST", f"/clubs/{chess['id']}/leave", expect=204)
    _, members = await mem.call("GET", f"/clubs/{chess['id']}/members", expect=200)
    assert [(m["user_id"], m["role"]) for m in members["members"]] == [(mem.member.user_id, "owner")]


async def test_role_checks_over_rest(people):
    owner, mod, mem, out = people
    _, club = await owner.call("POST", "/clubs", {"name": "Matrix", "description": "roles"}, expect=201)
    cid = club["id"]
    for who in (mod, mem):
        await who.call("POST", f"/clubs/{cid}/join", expect=200)
    await owner.call("PATCH", f"/clubs/{cid}/members/{mod.member.user_id}", {"role": "moderator"}, expect=200)
    start = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    end = (datetime.now(UTC) + timedelta(days=1, hours=1)).isoformat()
    cases = [
        ("POST", f"/clubs/{cid}/rooms", lambda: {"name": f"r-{uuid.uuid4().hex[:6]}"}, "create_room", 201),
        ("GET", f"/clubs/{cid}/audit", lambda: None, "view_audit", 200),
        ("POST", f"/clubs/{cid}/invites", lambda: {}, "create_invite", 201),
        (
            "POST",
            f"/clubs/{cid}/events",
            lambda: {"title": "E", "starts_at": start, "ends_at": end},
            "create_event",
            201,
        ),
    ]
    for method, path, body, action, ok in cases:
        for role, who in (("owner", owner), ("moderator", mod), ("member", mem), (None, out)):
            status, resp = await who.call(method, path, body())
            expected = ok if can(role, action) else 403
            assert status == expected, (action, role, status, resp)
            if status == 403:
                assert resp["error"]["code"] == "forbidden"
    # Moderators act only below themselves; only the owner changes roles.
    status, _ = await mod.call("PATCH", f"/clubs/{cid}/members/{mem.member.user_id}", {"role": "moderator"})
    assert status == 403
    status, _ = await mod.call(
        "POST", f"/clubs/{cid}/bans", {"user_id": owner.member.user_id, "reason": "coup"}
    )
    assert status == 403


async def test_timeout_and_ban_act_on_live_sockets_and_are_audited(gateway, people):
    owner, mod, mem, _out = people
    _, club = await owner.call("POST", "/clubs", {"name": "Moderated", "description": "rules"}, expect=201)
    cid = club["id"]
    for who in (mod, mem):
        await who.call("POST", f"/clubs/{cid}/join", expect=200)
    await owner.call("PATCH", f"/clubs/{cid}/members/{mod.member.user_id}", {"role": "moderator"}, expect=200)
    _, rooms = await owner.call("GET", f"/clubs/{cid}/rooms", expect=200)
    room_id = rooms["rooms"][0]["id"]
    m = await ChatClient(gateway.url, mod.member.token).connect()
    x = await ChatClient(gateway.url, mem.member.token).connect()
    try:
        await m.join(room_id)
        await x.join(room_id)
        hello = await x.send(room_id, "hello")
        assert hello["ok"]
        assert (await m.call("message:delete", {"room_id": room_id, "seq": hello["seq"]}))["ok"]
        await mod.call(
            "POST",
            f"/clubs/{cid}/timeouts",
            {"user_id": mem.member.user_id, "minutes": 10, "reason": "cool down"},
            expect=200,
        )
        muted = await x.send(room_id, "still here?")
        assert muted["error"]["code"] == "forbidden" and "timed out" in muted["error"]["message"]
        await mod.call(
            "POST", f"/clubs/{cid}/timeouts", {"user_id": mem.member.user_id, "minutes": 0}, expect=200
        )
        assert (await x.send(room_id, "back"))["ok"]

        await mod.call(
            "POST", f"/clubs/{cid}/bans", {"user_id": mem.member.user_id, "reason": "spam"}, expect=200
        )
        removed = asyncio.Event()

        @x.sio.on("room:removed")
        async def on_removed(data):
            if data["room_id"] == room_id:
                removed.set()

        async def kicked():
            return (
                removed.is_set() or (await x.send(room_id, "x")).get("error", {}).get("code") == "forbidden"
            )

        await wait_for(kicked)
        assert (await m.send(room_id, "after the ban"))["ok"]

        async def fanned_out():
            return "after the ban" in [msg["text"] for msg in m.messages[room_id]]

        # The barrier: once the moderator's socket has the message, the gateway has emitted it to every
        # socket in the room; an ack to the banned member's socket is queued behind anything sent to it.
        await wait_for(fanned_out)
        assert (await x.call("room:join", {"room_id": room_id}))["error"]["code"] == "forbidden"
        assert "after the ban" not in [msg["text"] for msg in x.messages[room_id]]
        assert (await mem.call("POST", f"/clubs/{cid}/join"))[0] == 403

        _, audit = await owner.call("GET", f"/clubs/{cid}/audit", expect=200)
        actions = [(e["action"], e["actor_id"], e["target_user_id"]) for e in audit["entries"]]
        assert ("ban", mod.member.user_id, mem.member.user_id) in actions
        assert ("timeout", mod.member.user_id, mem.member.user_id) in actions
        assert ("delete_message", mod.member.user_id, mem.member.user_id) in actions
        ban = next(e for e in audit["entries"] if e["action"] == "ban")
        assert ban["reason"] == "spam"
        assert isinstance(ban["ts"], int) and abs(ban["ts"] - time.time() * 1000) < 600_000  # epoch ms
        assert (await mem.call("GET", f"/clubs/{cid}/audit"))[0] == 403
    finally:
        await m.close()
        await x.close()


async def test_slow_mode_set_by_a_moderator_applies_at_once(gateway, people):
    owner, mod, mem, _ = people
    _, club = await owner.call("POST", "/clubs", {"name": "Slow", "description": "slow"}, expect=201)
    await mem.call("POST", f"/clubs/{club['id']}/join", expect=200)
    _, rooms = await owner.call("GET", f"/clubs/{club['id']}/rooms", expect=200)
    room_id = rooms["rooms"][0]["id"]
    x = await ChatClient(gateway.url, mem.member.token).connect()
    try:
        assert (await x.send(room_id, "1"))["ok"] and (await x.send(room_id, "2"))["ok"]
        assert (await mem.call("PATCH", f"/rooms/{room_id}", {"slow_mode_s": 60}))[0] == 403
        await owner.call("PATCH", f"/rooms/{room_id}", {"slow_mode_s": 60}, expect=200)
        slowed = await x.send(room_id, "3")  # "2" went out a moment ago: 60 s must pass first
        assert slowed["error"]["code"] == "rate_limited" and "slow mode" in slowed["error"]["message"]
    finally:
        await x.close()


async def test_rsvp_capacity_waitlist_under_concurrency_and_ics(gateway, smtp, people):
    owner, *_ = people
    _, club = await owner.call("POST", "/clubs", {"name": "Talks", "description": "talks"}, expect=201)
    start = datetime.now(UTC) + timedelta(days=2)
    _, event = await owner.call(
        "POST",
        f"/clubs/{club['id']}/events",
        {
            "title": "Lightning talks; part 1",
            "description": "Five minutes each, no more.",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=2)).isoformat(),
            "capacity": 3,
        },
        expect=201,
    )
    eid = event["id"]
    guests = [await make_member(gateway.url, smtp, f"G{i}") for i in range(10)]
    async with client_session(gateway.url) as http:
        apis = [Api(http, g) for g in guests]
        for a in apis:
            await a.call("POST", f"/clubs/{club['id']}/join", expect=200)
        results = await asyncio.gather(*(a.call("POST", f"/events/{eid}/rsvp") for a in apis))
        statuses = [body["status"] for _, body in results]
        assert statuses.count("going") == 3 and statuses.count("waitlisted") == 7
        positions = sorted(body["waitlist_position"] for _, body in results if body["status"] == "waitlisted")
        assert positions == list(range(1, 8))
        _, ev = await owner.call("GET", f"/events/{eid}", expect=200)
        assert ev["going"] == 3 and ev["waitlisted"] == 7

        first_waiting = next(a for (_, body), a in zip(results, apis) if body.get("waitlist_position") == 1)
        second_waiting = next(a for (_, body), a in zip(results, apis) if body.get("waitlist_position") == 2)
        leaver = next(a for (_, body), a in zip(results, apis) if body["status"] == "going")
        await leaver.call("DELETE", f"/events/{eid}/rsvp", expect=204)
        _, mine = await first_waiting.call("GET", f"/events/{eid}", expect=200)
        assert mine["my_rsvp"] == {"status": "going"} and mine["going"] == 3
        _, theirs = await second_waiting.call("GET", f"/events/{eid}", expect=200)
        assert theirs["my_rsvp"] == {"status": "waitlisted", "waitlist_position": 1}
        assert (await leaver.call("DELETE", f"/events/{eid}/rsvp"))[0] == 404

        resp = await http.get(f"/api/v1/events/{eid}.ics", headers=owner.auth)
        assert resp.status == 200 and resp.content_type == "text/calendar"
        ics = await resp.text()
        assert "BEGIN:VEVENT" in ics and "SUMMARY:Lightning talks\\; part 1" in ics
        assert f"DTSTART:{start.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}" in ics

        _, listing = await apis[0].call("GET", "/events", params={"club_id": str(club["id"])}, expect=200)
        assert [e["id"] for e in listing["events"]] == [eid]
    outsider_status, _ = await people[3].call("POST", f"/events/{eid}/rsvp")
    assert outsider_status == 403
    status, body = await owner.call(
        "POST",
        f"/clubs/{club['id']}/events",
        {
            "title": "Backwards",
            "starts_at": start.isoformat(),
            "ends_at": (start - timedelta(hours=1)).isoformat(),
        },
    )
    assert status == 422 and body["error"]["code"] == "invalid"
