"""Issue 11, access findings: login lockout (L1), signup enumeration (L2), private clubs confirmable by
outsiders (L3), forged feed signals (L4), timeouts in public member lists, summaries in event lists (H2) and
the event list's visibility filter. Each test fails on the code before its fix."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from support.chat import ChatClient
from support.members import Api, client_session, loopback_source, make_member, unique_email
from support.wait import wait_for

from gateway.core.ratelimit import INTERACTIONS_PER_MINUTE
from storage import mongo
from storage.models import Club, Event, Room, User, Visibility

PASSWORD = "correct horse battery"


def error_of(body):
    return body["error"]["code"]


async def login(base_url, email, password, source=None):
    async with client_session(base_url, source) as http:
        resp = await http.post("/api/v1/auth/login", json={"email": email, "password": password})
        return resp.status, await resp.json(), resp.headers


# -- L1 --------------------------------------------------------------------------------------------------


async def test_L1_failed_logins_do_not_lock_out_owner(gateway, member):
    # Ten wrong passwords, each from another address: before the fix the account was locked for everyone.
    for _ in range(10):
        status, body, _ = await login(gateway.url, member.email, "wrong password!")
        assert status == 401 and error_of(body) == "unauthorized"
    # Ten more from one address: that (account, address) backs off, 429 with Retry-After …
    attacker = loopback_source()
    statuses = [(await login(gateway.url, member.email, "wrong password!", attacker))[0] for _ in range(6)]
    assert statuses == [401] * 6
    status, body, headers = await login(gateway.url, member.email, member.password, attacker)
    assert status == 429 and error_of(body) == "rate_limited"
    assert 1 <= int(headers["Retry-After"]) <= 30 and f"{headers['Retry-After']}s" in body["error"]["message"]
    # … while the owner, from their own address, logs in.
    status, body, _ = await login(gateway.url, member.email, member.password)
    assert status == 200 and body["access_token"]


async def test_L1_one_address_cannot_spray_many_accounts(gateway, member):
    sprayer = loopback_source()
    statuses = [
        (await login(gateway.url, unique_email("spray"), "wrong password!", sprayer))[0] for _ in range(11)
    ]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429
    status, _, _ = await login(gateway.url, member.email, member.password)  # others are unaffected
    assert status == 200


async def test_L1_failure_backoff_doubles_and_is_capped(gateway):
    from actors.domain.errors import DomainError
    from gateway.core.ratelimit import Backoff, FailureBackoff

    backoff = FailureBackoff(gateway.backends.stores.redis, prefix=f"test:fail:{uuid.uuid4().hex}:")
    policy = Backoff(free=2, first_lock_s=30, max_lock_s=100, forget_s=60)
    assert [await backoff.failed("k", policy) for _ in range(6)] == [0, 0, 30, 60, 100, 100]
    with pytest.raises(DomainError) as refused:
        await backoff.check(["other", "k"], "failed logins")
    assert refused.value.code == "rate_limited" and 1 <= refused.value.retry_after <= 100
    await backoff.check(["other"], "failed logins")  # another key is not locked
    await backoff.succeeded("k")  # forgets the count (the lock runs out by itself)
    assert await backoff.failed("k", policy) == 0


# -- L2 --------------------------------------------------------------------------------------------------


async def test_L2_signup_does_not_enumerate_accounts(gateway, smtp, member):
    async def signup(email, password, name):
        async with client_session(gateway.url) as http:
            resp = await http.post(
                "/api/v1/auth/signup", json={"email": email, "password": password, "display_name": name}
            )
            return resp.status, await resp.json()

    fresh_status, fresh = await signup(unique_email("fresh"), PASSWORD, "Fresh")
    taken_status, taken = await signup(f" {member.email.upper()}", "another password 123", "Copycat")
    assert fresh_status == taken_status == 201
    assert set(fresh) == set(taken) == {"user_id"} and isinstance(taken["user_id"], int)
    # The id is a fresh value of the users' sequence: it names no account, and the next signup comes after it.
    assert taken["user_id"] not in (member.user_id, fresh["user_id"]) and taken["user_id"] > fresh["user_id"]
    assert not await User.exists(id=taken["user_id"])
    _, after = await signup(unique_email("after"), PASSWORD, "After")
    assert after["user_id"] > taken["user_id"]
    # The owner is told by mail; the account is untouched.
    told = await smtp.wait_for(member.email, count=2)
    assert "tried to sign up" in told["Subject"].lower() + told.get_content().lower()
    assert "log in" in told.get_content() and "/verify?token=" not in told.get_content()
    assert (await login(gateway.url, member.email, "another password 123"))[0] == 401
    assert (await login(gateway.url, member.email, member.password))[0] == 200
    user = await User.get(id=member.user_id)
    assert user.display_name == member.display_name


# -- L3 --------------------------------------------------------------------------------------------------


@pytest.fixture
async def private_world(gateway, smtp):
    """A private club (owner, moderator, member, a banned former member, an outsider) with a room and an
    upcoming event, and ids that exist nowhere."""
    async with client_session(gateway.url) as http:
        owner, mod, mem, banned, outsider = [
            Api(http, await make_member(gateway.url, smtp, n))
            for n in ("Owner", "Mod", "Mem", "Banned", "Outsider")
        ]
        _, club = await owner.call(
            "POST", "/clubs", {"name": "Hidden", "description": "shh", "visibility": "private"}, expect=201
        )
        cid = club["id"]
        for who in (mod, mem, banned):
            _, invite = await owner.call("POST", f"/clubs/{cid}/invites", {}, expect=201)
            await who.call("POST", f"/clubs/{cid}/join", {"invite_code": invite["code"]}, expect=200)
        await owner.call(
            "PATCH", f"/clubs/{cid}/members/{mod.member.user_id}", {"role": "moderator"}, expect=200
        )
        await owner.call("POST", f"/clubs/{cid}/bans", {"user_id": banned.member.user_id}, expect=200)
        _, rooms = await owner.call("GET", f"/clubs/{cid}/rooms", expect=200)
        start = datetime.now(UTC) + timedelta(days=1)
        _, event = await owner.call(
            "POST",
            f"/clubs/{cid}/events",
            {
                "title": "Secret meeting",
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=1)).isoformat(),
            },
            expect=201,
        )
        _, invite = await owner.call("POST", f"/clubs/{cid}/invites", {}, expect=201)
        missing = {
            "club": (await Club.all().order_by("-id").first()).id + 10**9,
            "room": (await Room.all().order_by("-id").first()).id + 10**9,
            "event": (await Event.all().order_by("-id").first()).id + 10**9,
        }
        yield {
            "owner": owner,
            "mod": mod,
            "mem": mem,
            "banned": banned,
            "outsider": outsider,
            "club": cid,
            "room": rooms["rooms"][0]["id"],
            "event": event["id"],
            "invite": invite["code"],
            "missing": missing,
        }


def routes(club, room, event, target, invite):
    """Every route about a club, its rooms or its events: (method, path, body, params)."""
    start = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    end = (datetime.now(UTC) + timedelta(days=2, hours=1)).isoformat()
    return [
        ("GET", f"/clubs/{club}", None, None),
        ("POST", f"/clubs/{club}/join", {}, None),
        ("POST", f"/clubs/{club}/join", {"invite_code": "not-a-code"}, None),
        ("POST", f"/clubs/{club}/leave", None, None),
        ("GET", f"/clubs/{club}/members", None, None),
        ("PATCH", f"/clubs/{club}/members/{target}", {"role": "moderator"}, None),
        ("POST", f"/clubs/{club}/bans", {"user_id": target, "reason": "x"}, None),
        ("POST", f"/clubs/{club}/timeouts", {"user_id": target, "minutes": 5}, None),
        ("POST", f"/clubs/{club}/invites", {}, None),
        ("POST", f"/clubs/{club}/invites/revoke", {"code": invite}, None),
        ("GET", f"/clubs/{club}/rooms", None, None),
        ("POST", f"/clubs/{club}/rooms", {"name": f"r-{uuid.uuid4().hex[:6]}"}, None),
        ("GET", f"/clubs/{club}/audit", None, None),
        ("POST", f"/clubs/{club}/events", {"title": "E", "starts_at": start, "ends_at": end}, None),
        ("GET", "/events", None, {"club_id": str(club)}),
        ("PATCH", f"/rooms/{room}", {"slow_mode_s": 5}, None),
        ("GET", f"/rooms/{room}/messages", None, None),
        ("GET", f"/events/{event}", None, None),
        ("GET", f"/events/{event}.ics", None, None),
        ("POST", f"/events/{event}/rsvp", None, None),
        ("DELETE", f"/events/{event}/rsvp", None, None),
        ("POST", f"/events/{event}/live/start", None, None),
        ("POST", f"/events/{event}/live/end", None, None),
    ]


async def test_L3_private_club_is_not_found_for_outsiders_everywhere(private_world):
    w = private_world
    target = w["mem"].member.user_id
    real = routes(w["club"], w["room"], w["event"], target, w["invite"])
    ghost = routes(w["missing"]["club"], w["missing"]["room"], w["missing"]["event"], target, w["invite"])

    def as_missing(message):
        for kind in ("club", "room", "event"):
            message = message.replace(f"no such {kind}: {w[kind]}", f"no such {kind}: {w['missing'][kind]}")
        return message

    for who in ("outsider", "banned"):
        api = w[who]
        for (method, path, body, params), (_, ghost_path, ghost_body, ghost_params) in zip(real, ghost):
            ghost_status, ghost_resp = await api.call(method, ghost_path, ghost_body, ghost_params)
            assert ghost_status == 404 and error_of(ghost_resp) == "not_found", (ghost_path, ghost_resp)
            status, resp = await api.call(method, path, body, params)
            assert status == 404, (who, method, path, status, resp)
            # Word for word what a missing id gets: nothing tells the club exists.
            assert as_missing(resp["error"]["message"]) == ghost_resp["error"]["message"], (
                path,
                resp,
                ghost_resp,
            )
        # Lists do not show it either.
        _, events = await api.call("GET", "/events", expect=200)
        assert w["event"] not in [e["id"] for e in events["events"]]
    # Members who lack the role still learn that they lack it.
    mem = w["mem"]
    for method, path, body in (
        ("GET", f"/clubs/{w['club']}/audit", None),
        ("POST", f"/clubs/{w['club']}/bans", {"user_id": w["mod"].member.user_id}),
        ("PATCH", f"/rooms/{w['room']}", {"slow_mode_s": 5}),
        ("POST", f"/events/{w['event']}/live/start", None),
    ):
        status, resp = await mem.call(method, path, body)
        assert status == 403 and error_of(resp) == "forbidden", (path, resp)
    # And a valid invite still lets an outsider in.
    await w["outsider"].call("POST", f"/clubs/{w['club']}/join", {"invite_code": w["invite"]}, expect=200)


# -- L4 --------------------------------------------------------------------------------------------------


async def interactions_stored(gateway, query):
    return await gateway.backends.stores.mongo[mongo.INTERACTIONS].count_documents(query)


async def test_L4_interactions_only_client_kinds_on_visible_items(gateway, private_world):
    w = private_world
    outsider, mem = w["outsider"], w["mem"]
    redis = gateway.backends.stores.redis
    before = await redis.xlen("clubhub:interactions")
    # Server-only kinds are refused whoever sends them.
    for kind in ("rsvp", "join", "attend", "message"):
        status, resp = await mem.call(
            "POST", "/interactions", [{"item_type": "event", "item_id": w["event"], "kind": kind}]
        )
        assert status == 422 and error_of(resp) == "invalid", (kind, resp)
    # Items of a private club, for an outsider (and the banned): the whole batch is refused, naming the item.
    _, public = await outsider.call("POST", "/clubs", {"name": "Open", "description": "open"}, expect=201)
    for who in (outsider, w["banned"]):
        for item_type, item_id in (
            ("club", w["club"]),
            ("event", w["event"]),
            ("room", w["room"]),
            ("event", w["missing"]["event"]),
        ):
            status, resp = await who.call(
                "POST",
                "/interactions",
                [
                    {"item_type": "club", "item_id": public["id"], "kind": "impression"},
                    {"item_type": item_type, "item_id": item_id, "kind": "click"},
                ],
            )
            assert status == 404 and error_of(resp) == "not_found", resp
            assert resp["error"]["message"] == f"no such {item_type}: {item_id}"
    assert await redis.xlen("clubhub:interactions") == before  # nothing of a refused batch was appended
    # A member may log them; anyone may log a public club's.
    await mem.call(
        "POST",
        "/interactions",
        [
            {"item_type": t, "item_id": i, "kind": "click"}
            for t, i in (("club", w["club"]), ("event", w["event"]), ("room", w["room"]))
        ],
        expect=202,
    )
    await outsider.call(
        "POST",
        "/interactions",
        [{"item_type": "club", "item_id": public["id"], "kind": "dwell", "dwell_ms": 1200}],
        expect=202,
    )


async def test_L4_interaction_ids_are_namespaced_per_user(gateway, smtp):
    people = [await make_member(gateway.url, smtp, n) for n in ("Host", "Ann", "Forger")]
    async with client_session(gateway.url) as http:
        host, ann, forger = [Api(http, p) for p in people]
        _, club = await host.call("POST", "/clubs", {"name": "Ids", "description": "ids"}, expect=201)
        await ann.call("POST", f"/clubs/{club['id']}/join", expect=200)
        start = datetime.now(UTC) + timedelta(minutes=5)
        _, event = await host.call(
            "POST",
            f"/clubs/{club['id']}/events",
            {
                "title": "Ids",
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=1)).isoformat(),
            },
            expect=201,
        )
        eid = event["id"]
        # The forger takes the server's predictable attendance id for Ann, and Ann's own client id.
        shared = uuid.uuid4().hex
        await forger.call(
            "POST",
            "/interactions",
            [
                {
                    "item_type": "event",
                    "item_id": eid,
                    "kind": "click",
                    "interaction_id": f"attend-{eid}-{ann.member.user_id}",
                },
                {"item_type": "club", "item_id": club["id"], "kind": "click", "interaction_id": shared},
            ],
            expect=202,
        )
        await ann.call(
            "POST",
            "/interactions",
            [{"item_type": "club", "item_id": club["id"], "kind": "click", "interaction_id": shared}],
            expect=202,
        )
        await host.call("POST", f"/events/{eid}/live/start", expect=200)
        sock = await ChatClient(gateway.url, ann.member.token).connect()
        try:
            assert (await sock.call("live:join", {"event_id": eid}))["ok"]
        finally:
            await sock.close()

    async def both_recorded():
        ann_click = await interactions_stored(
            gateway,
            {"user_id": ann.member.user_id, "item_id": club["id"], "item_type": "club", "kind": "click"},
        )
        attended = await interactions_stored(
            gateway, {"user_id": ann.member.user_id, "item_type": "event", "item_id": eid, "kind": "attend"}
        )
        return ann_click == 1 and attended == 1

    await wait_for(both_recorded)
    # Each user's id is theirs: the same client id is one interaction per user, the server's ids are apart.
    assert await interactions_stored(gateway, {"_id": f"u{forger.member.user_id}:{shared}"}) == 1
    assert await interactions_stored(gateway, {"_id": f"u{ann.member.user_id}:{shared}"}) == 1
    assert (
        await interactions_stored(
            gateway, {"user_id": ann.member.user_id, "kind": "attend", "_id": {"$regex": "^s:"}}
        )
        == 1
    )


async def test_L4_interactions_rate_limited(gateway, member, smtp, http):
    api = Api(http, member)
    _, club = await api.call("POST", "/clubs", {"name": "Busy", "description": "busy"}, expect=201)
    batch = [{"item_type": "club", "item_id": club["id"], "kind": "impression"}]
    statuses = [(await api.call("POST", "/interactions", batch))[0] for _ in range(INTERACTIONS_PER_MINUTE)]
    assert statuses == [202] * INTERACTIONS_PER_MINUTE
    resp = await http.post("/api/v1/interactions", json=batch, headers=api.auth)
    body = await resp.json()
    assert resp.status == 429 and error_of(body) == "rate_limited"
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    other = Api(http, await make_member(gateway.url, smtp, "Other"))  # per user: others are unaffected
    await other.call("POST", "/interactions", batch, expect=202)


# -- members' timeouts --------------------------------------------------------------------------------


async def test_member_list_hides_timeouts_from_members(private_world):
    w = private_world
    owner, mod, mem = w["owner"], w["mod"], w["mem"]
    await mod.call(
        "POST", f"/clubs/{w['club']}/timeouts", {"user_id": mem.member.user_id, "minutes": 30}, expect=200
    )
    _, public_club = await owner.call(
        "POST", "/clubs", {"name": "Open timeouts", "description": "x"}, expect=201
    )
    await mem.call("POST", f"/clubs/{public_club['id']}/join", expect=200)
    await owner.call(
        "POST",
        f"/clubs/{public_club['id']}/timeouts",
        {"user_id": mem.member.user_id, "minutes": 30},
        expect=200,
    )

    async def muted_seen_by(api, club_id):
        _, body = await api.call("GET", f"/clubs/{club_id}/members", expect=200)
        row = next(m for m in body["members"] if m["user_id"] == mem.member.user_id)
        assert "muted_until" in row  # the schema keeps the field: null when not shown
        return row["muted_until"]

    assert await muted_seen_by(owner, w["club"]) and await muted_seen_by(mod, w["club"])
    assert await muted_seen_by(mem, w["club"]) is None
    assert await muted_seen_by(owner, public_club["id"])
    assert await muted_seen_by(w["outsider"], public_club["id"]) is None
    assert await muted_seen_by(mem, public_club["id"]) is None


# -- H2 --------------------------------------------------------------------------------------------------


async def test_H2_event_list_has_no_summary(gateway, member, http):
    api = Api(http, member)
    _, club = await api.call("POST", "/clubs", {"name": "Summaries", "description": "x"}, expect=201)
    start = datetime.now(UTC) + timedelta(minutes=5)
    _, event = await api.call(
        "POST",
        f"/clubs/{club['id']}/events",
        {
            "title": "Talk",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(),
        },
        expect=201,
    )
    await api.call("POST", f"/events/{event['id']}/live/start", expect=200)
    await api.call("POST", f"/events/{event['id']}/live/end", expect=200)
    _, shown = await api.call("GET", f"/events/{event['id']}", expect=200)
    assert shown["status"] == "ended" and isinstance(shown["summary"], dict)
    for params in ({"club_id": str(club["id"]), "upcoming": "false"}, {"upcoming": "true"}):
        _, listed = await api.call("GET", "/events", params=params, expect=200)
        mine = [e for e in listed["events"] if e["id"] == event["id"]]
        assert len(mine) == 1 and "summary" not in mine[0], mine
        assert all("summary" not in e for e in listed["events"])


# -- event list visibility ----------------------------------------------------------------------------


async def test_event_list_filters_visibility_before_its_limit_and_leaves_out_bans(gateway, smtp, http):
    me, other = await make_member(gateway.url, smtp, "Me"), await make_member(gateway.url, smtp, "Other")
    now = datetime.now(UTC)
    secret = await Club.create(
        name="Crowded secret", created_by_id=other.user_id, visibility=Visibility.private
    )
    try:
        # More hidden events than a page holds, all sooner than the public one.
        await Event.bulk_create(
            [
                Event(
                    club=secret,
                    host_id=other.user_id,
                    title=f"Hidden {i}",
                    starts_at=now + timedelta(seconds=30),
                    ends_at=now + timedelta(hours=1),
                )
                for i in range(201)
            ]
        )
        o, api = Api(http, other), Api(http, me)
        _, club = await o.call("POST", "/clubs", {"name": "Open later", "description": "x"}, expect=201)
        _, banned_club = await o.call(
            "POST", "/clubs", {"name": "Banned here", "description": "x"}, expect=201
        )
        events = {}
        for c in (club, banned_club):
            start = now + timedelta(minutes=2)
            _, events[c["id"]] = await o.call(
                "POST",
                f"/clubs/{c['id']}/events",
                {
                    "title": "Visible",
                    "starts_at": start.isoformat(),
                    "ends_at": (start + timedelta(hours=1)).isoformat(),
                },
                expect=201,
            )
        await api.call("POST", f"/clubs/{banned_club['id']}/join", expect=200)
        await o.call("POST", f"/clubs/{banned_club['id']}/bans", {"user_id": me.user_id}, expect=200)
        _, listed = await api.call("GET", "/events", expect=200)
        ids = [e["id"] for e in listed["events"]]
        assert events[club["id"]]["id"] in ids
        assert events[banned_club["id"]]["id"] not in ids
        assert not {e["club_id"] for e in listed["events"]} & {secret.id}
        _, listed = await api.call("GET", "/events", params={"club_id": str(banned_club["id"])}, expect=200)
        assert listed["events"] == []
    finally:
        await secret.delete()
