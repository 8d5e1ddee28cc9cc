"""Authorization matrix (issue 11, must-show 3): every REST route and every Socket.IO event × every relationship.

The expected answers are in the two tables right below; the routes come from ``app[API].operations`` and
the events from ``app[SIO].handlers['/']``, so a route or event without a row fails the test.

Relationships (columns, in this order) — to the private club PRIV unless said otherwise:
  anon        no token
  unverified  signed up, never verified: login answers 403 email_unverified, so it holds no token and every
              route behaves as for anon (asserted in the world fixture); sockets are refused
  outsider    a verified user with no relation to PRIV
  public      the same outsider, against the public club PUB (where answers differ from a private club)
  member      member of PRIV
  timed_out   member of PRIV, timed out (cannot send, edit, react or act in live sessions)
  banned      banned from PRIV after being a member: an outsider
  moderator   moderator of PRIV
  owner       owner of PRIV (and host of its events)
  other_club  member (owner) of PUB, not of PRIV
Expected REST answers are HTTP statuses; socket answers are ack codes (``ok`` or the error code), and
``refused`` for a connection the server refuses. The contract decides, not today's behaviour: outsiders
of a private club get ``not_found`` everywhere; members without the role get ``forbidden``.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC

import pytest
import socketio
from support.chat import ChatClient
from support.members import client_session, loopback_source, make_member, unique_email

from gateway.app import API, SIO

COLUMNS = [
    "anon",
    "unverified",
    "outsider",
    "public",
    "member",
    "timed_out",
    "banned",
    "moderator",
    "owner",
    "other_club",
]

REST = {
    #                                               anon unver outsd publc membr timed banned mod  owner other
    "GET /healthz": "200  200   200   200   200   200   200   200  200   200",
    "GET /readyz": "200  200   200   200   200   200   200   200  200   200",
    "GET /metrics": "200  200   200   200   200   200   200   200  200   200",
    "POST /api/v1/auth/signup": "201  201   201   201   201   201   201   201  201   201",
    "POST /api/v1/auth/verify": "404  404   404   404   404   404   404   404  404   404",
    "POST /api/v1/auth/login": "401  401   401   401   401   401   401   401  401   401",
    "POST /api/v1/auth/refresh": "401  401   401   401   401   401   401   401  401   401",
    "POST /api/v1/auth/logout": "204  204   204   204   204   204   204   204  204   204",
    "GET /api/v1/me": "401  401   200   200   200   200   200   200  200   200",
    "PATCH /api/v1/me": "401  401   200   200   200   200   200   200  200   200",
    "GET /api/v1/me/unread": "401  401   200   200   200   200   200   200  200   200",
    "POST /api/v1/me/push-subscriptions": "401  401   201   201   201   201   201   201  201   201",
    "DELETE /api/v1/me/push-subscriptions": "401  401   204   204   204   204   204   204  204   204",
    "GET /api/v1/push/vapid-public-key": "200  200   200   200   200   200   200   200  200   200",
    # a token that names nobody: refused the same for everyone (the token, not the bearer, decides)
    "GET /api/v1/notifications/unsubscribe": "422  422   422   422   422   422   422   422  422   422",
    "POST /api/v1/notifications/unsubscribe": "422  422   422   422   422   422   422   422  422   422",
    "GET /api/v1/notifications": "401  401   200   200   200   200   200   200  200   200",
    "POST /api/v1/notifications/read": "401  401   204   204   204   204   204   204  204   204",
    "GET /api/v1/rooms/{room_id}/notifications": "401  401   404   403   200   200   404   200  200   404",
    "PATCH /api/v1/rooms/{room_id}/notifications": "401  401   404   403   200   200   404   200  200   404",
    # with club_id: the target club's messages (an empty page where the caller may not read its rooms)
    "GET /api/v1/search/messages": "401  401   404   200   200   200   404   200  200   404",
    "GET /api/v1/me/clubs": "401  401   200   200   200   200   200   200  200   200",
    # a DM with O: people who share a club with O (the default dm_policy); O with O alone is no DM
    "POST /api/v1/dms": "401  401   403   403   201   201   403   201  422   403",
    "GET /api/v1/dms": "401  401   200   200   200   200   200   200  200   200",
    "POST /api/v1/rooms/{room_id}/pins": "401  401   404   403   403   403   404   204  204   404",
    "DELETE /api/v1/rooms/{room_id}/pins/{seq}": "401  401   404   403   403   403   404   204  204   404",
    "GET /api/v1/rooms/{room_id}/pins": "401  401   404   403   200   200   404   200  200   404",
    "GET /api/v1/rooms/{room_id}/threads/{root_seq}": "401  401   404   403   200   200   404   200  200   404",
    "GET /api/v1/users/{user_id}": "401  401   200   200   200   200   200   200  200   200",
    "GET /api/v1/users/{user_id}/achievements": "401  401   200   200   200   200   200   200  200   200",
    "GET /api/v1/dev/mailbox": "200  200   200   200   200   200   200   200  200   200",
    "POST /api/v1/clubs": "401  401   201   201   201   201   201   201  201   201",
    "GET /api/v1/clubs": "401  401   200   200   200   200   200   200  200   200",
    "GET /api/v1/clubs/{club_id}": "401  401   404   200   200   200   404   200  200   404",
    "POST /api/v1/clubs/{club_id}/join": "401  401   404   200   200   200   404   200  200   404",
    "POST /api/v1/invites/accept": "401  401   404   404   404   404   404   404  404   404",
    "POST /api/v1/clubs/{club_id}/leave": "401  401   404   404   204   204   404   204  409   404",
    "GET /api/v1/clubs/{club_id}/members": "401  401   404   200   200   200   404   200  200   404",
    "PATCH /api/v1/clubs/{club_id}/members/{user_id}": "401 401 404   403   403   403   404   403  200   404",
    "POST /api/v1/clubs/{club_id}/bans": "401  401   404   403   403   403   404   200  200   404",
    "POST /api/v1/clubs/{club_id}/timeouts": "401  401   404   403   403   403   404   200  200   404",
    "POST /api/v1/clubs/{club_id}/invites": "401  401   404   403   403   403   404   201  201   404",
    "POST /api/v1/clubs/{club_id}/invites/revoke": "401  401   404   403   403   403   404   204  204   404",
    "GET /api/v1/clubs/{club_id}/rooms": "401  401   404   200   200   200   404   200  200   404",
    "POST /api/v1/clubs/{club_id}/rooms": "401  401   404   403   403   403   404   201  201   404",
    "PATCH /api/v1/rooms/{room_id}": "401  401   404   403   403   403   404   200  200   404",
    "GET /api/v1/clubs/{club_id}/audit": "401  401   404   403   403   403   404   200  200   404",
    "GET /api/v1/rooms/{room_id}/messages": "401  401   404   403   200   200   404   200  200   404",
    "POST /api/v1/interactions": "401  401   404   202   202   202   404   202  202   404",
    "GET /api/v1/feed": "401  401   200   200   200   200   200   200  200   200",
    "POST /api/v1/clubs/{club_id}/events": "401  401   404   403   403   403   404   201  201   404",
    "GET /api/v1/events": "401  401   404   200   200   200   404   200  200   404",
    "GET /api/v1/events/{event_id}.ics": "401  401   404   200   200   200   404   200  200   404",
    # an ended event's summary: its host's and the club's moderators' to export
    "GET /api/v1/events/{event_id}/summary.csv": "401 401 404   403   403   403   404   200  200   404",
    "GET /api/v1/events/{event_id}": "401  401   404   200   200   200   404   200  200   404",
    "POST /api/v1/events/{event_id}/rsvp": "401  401   404   403   200   200   404   200  200   404",
    "DELETE /api/v1/events/{event_id}/rsvp": "401  401   404   404   204   204   404   204  204   404",
    # the host's event is live (started while the world was built): no longer moved or cancelled
    "PATCH /api/v1/events/{event_id}": "401  401   404   403   403   403   404   403  409   404",
    "POST /api/v1/events/{event_id}/cancel": "401  401   404   403   403   403   404   403  409   404",
    "POST /api/v1/events/{event_id}/live/start": "401  401   404   403   403   403   404   403  200   404",
    "POST /api/v1/events/{event_id}/live/end": "401  401   404   403   403   403   404   403  200   404",
    # blocks are the caller's own (the owner is the one blocked: blocking yourself is invalid); undone per cell
    "GET /api/v1/me/blocks": "401  401   200   200   200   200   200   200  200   200",
    "POST /api/v1/me/blocks": "401  401   201   201   201   201   201   201  422   201",
    "DELETE /api/v1/me/blocks/{user_id}": "401 401 204   204   204   204   204   204  204   204",
    # reporting B's message (B is banned; the public column reports X's message in PUB, not a member there)
    "POST /api/v1/reports": "401  401   404   403   201   201   404   201  201   404",
    "GET /api/v1/clubs/{club_id}/reports": "401  401   404   403   403   403   404   200  200   404",
    # a report is nobody's business but its club's moderators': members forbidden, everyone else not_found
    "POST /api/v1/reports/{report_id}/resolve": "401 401 404   404   403   403   404   200  200   404",
    "GET /api/v1/clubs/{club_id}/automod": "401  401   404   403   403   403   404   200  200   404",
    "PUT /api/v1/clubs/{club_id}/automod": "401  401   404   403   403   403   404   200  200   404",
    # media is its uploader's until it is attached somewhere: O's upload (completed while the world was
    # built) is nobody else's business; completing it again answers the same 202
    "POST /api/v1/media/uploads": "401  401   201   201   201   201   201   201  201   201",
    "POST /api/v1/media/{media_id}/complete": "401 401 404   404   404   404   404   404  202   404",
    "GET /api/v1/media/{media_id}": "401  401   404   404   404   404   404   404  200   404",
    # reels: each poster sends a ready video of its own (made per cell); a timed-out member is silent here
    # too; the reel read and deleted is the club owner's (undeleted after each allowed cell)
    "POST /api/v1/clubs/{club_id}/reels": "401  401   404   403   201   403   404   201  201   404",
    "GET /api/v1/reels/{reel_id}": "401  401   404   200   200   200   404   200  200   404",
    "DELETE /api/v1/reels/{reel_id}": "401  401   404   403   403   403   404   204  204   404",
}

SOCKET = {
    #                    anon     unverified outsider   public     member     timed_out  banned     moderator  owner      other_club
    "auth:refresh": "refused  refused    ok         ok         ok         ok         ok         ok         ok         ok",
    "room:join": "refused  refused    not_found  forbidden  ok         ok         not_found  ok         ok         not_found",
    "room:leave": "refused  refused    ok         ok         ok         ok         ok         ok         ok         ok",
    "message:send": "refused  refused    not_found  forbidden  ok         forbidden  not_found  ok         ok         not_found",
    "message:history": "refused  refused    not_found  forbidden  ok         ok         not_found  ok         ok         not_found",
    "message:edit": "refused  refused    not_found  forbidden  ok         forbidden  not_found  ok         ok         not_found",
    "message:delete": "refused  refused    not_found  forbidden  ok         ok         not_found  ok         ok         not_found",
    "reaction:add": "refused  refused    not_found  forbidden  ok         forbidden  not_found  ok         ok         not_found",
    "reaction:remove": "refused  refused    not_found  forbidden  ok         forbidden  not_found  ok         ok         not_found",
    "typing": "refused  refused    not_found  forbidden  ok         ok         not_found  ok         ok         not_found",
    "read": "refused  refused    not_found  forbidden  ok         ok         not_found  ok         ok         not_found",
    "live:join": "refused  refused    not_found  forbidden  ok         ok         not_found  ok         ok         not_found",
    "live:hand": "refused  refused    not_found  forbidden  ok         forbidden  not_found  ok         invalid    not_found",
    "live:promote": "refused  refused    not_found  forbidden  forbidden  forbidden  not_found  forbidden  ok         not_found",
    "live:ask": "refused  refused    not_found  forbidden  ok         forbidden  not_found  ok         ok         not_found",
    "live:upvote": "refused  refused    not_found  forbidden  ok         forbidden  not_found  ok         ok         not_found",
    "live:answer": "refused  refused    not_found  forbidden  forbidden  forbidden  not_found  forbidden  ok         not_found",
    "live:poll": "refused  refused    not_found  forbidden  forbidden  forbidden  not_found  forbidden  ok         not_found",
    "live:vote": "refused  refused    not_found  forbidden  ok         forbidden  not_found  ok         ok         not_found",
    "live:close_poll": "refused  refused    not_found  forbidden  forbidden  forbidden  not_found  forbidden  ok         not_found",
    "live:pin": "refused  refused    not_found  forbidden  forbidden  forbidden  not_found  forbidden  ok         not_found",
    "live:moderate": "refused  refused    not_found  forbidden  forbidden  forbidden  not_found  forbidden  ok         not_found",
    "live:approve": "refused  refused    not_found  forbidden  forbidden  forbidden  not_found  forbidden  ok         not_found",
    "live:dismiss": "refused  refused    not_found  forbidden  forbidden  forbidden  not_found  forbidden  ok         not_found",
    # the review queue: the host's whole, a member's own (empty or not, ok)
    "live:pending": "refused  refused    not_found  forbidden  ok         forbidden  not_found  ok         ok         not_found",
}

# -- the world ----------------------------------------------------------------------------------------------

ACTOR_OF = {
    "outsider": "N",
    "public": "N",
    "member": "U",
    "timed_out": "T",
    "banned": "B",
    "moderator": "M",
    "owner": "O",
    "other_club": "X",
}


class World:
    """PRIV (private, owner O) with moderator M, members U and T (T timed out), ex-member B (banned);
    PUB (public, owner X); outsider N. Each club has its room ``general``, a live event with moderated Q&A and
    an ended one (its summary); PRIV also has an event that is not live (for live/start and live/end).
    Messages, a question, two polls and, in PRIV, a question awaiting approval exist."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.members: dict[str, object] = {}
        self.ids: dict[str, dict] = {"PRIV": {}, "PUB": {}}
        self.own_seqs: dict[tuple[str, str], list[int]] = {}  # (actor, club) -> seqs of its messages
        self.media_id = ""  # an upload of O (completed)

    def target(self, column: str) -> dict:
        return self.ids["PUB" if column == "public" else "PRIV"]

    async def rest(self, http, method: str, path: str, actor: str | None = None, **kw):
        headers = {"Authorization": f"Bearer {self.members[actor].token}"} if actor else {}
        headers.update(kw.pop("headers", {}))
        url = path if path.startswith(("/healthz", "/readyz", "/metrics")) else "/api/v1" + path
        resp = await http.request(method, url, headers=headers, **kw)
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, body


async def build_world(gateway, smtp) -> World:
    world = World(gateway.url)
    names = ["O", "M", "U", "T", "B", "N", "X"]
    made = await asyncio.gather(*(make_member(gateway.url, smtp, f"Matrix {n}") for n in names))
    world.members = dict(zip(names, made))
    async with client_session(gateway.url) as http:

        async def ok(expected, method, path, actor, **kw):
            status, body = await world.rest(http, method, path, actor, **kw)
            assert status == expected, (method, path, actor, status, body)
            return body

        # unverified: signup only; login is refused with email_unverified, so it never holds a token
        email = unique_email("unverified")
        await ok(
            201,
            "POST",
            "/auth/signup",
            None,
            json={"email": email, "password": "correct horse battery", "display_name": "Unverified"},
        )
        status, body = await world.rest(
            http, "POST", "/auth/login", None, json={"email": email, "password": "correct horse battery"}
        )
        assert status == 403 and body["error"]["code"] == "email_unverified", (status, body)

        for club, owner, visibility in (("PRIV", "O", "private"), ("PUB", "X", "public")):
            c = await ok(
                201, "POST", "/clubs", owner, json={"name": f"matrix {club}", "visibility": visibility}
            )
            ids = world.ids[club]
            ids["club_id"] = c["id"]
            ids["room_id"] = (await ok(200, "GET", f"/clubs/{c['id']}/rooms", owner))["rooms"][0]["id"]
            times = {"starts_at": "2031-01-01T18:00:00Z", "ends_at": "2031-01-01T20:00:00Z"}
            ids["event_id"] = (
                await ok(201, "POST", f"/clubs/{c['id']}/events", owner, json={"title": "live", **times})
            )["id"]
            ids["idle_event_id"] = (
                await ok(201, "POST", f"/clubs/{c['id']}/events", owner, json={"title": "idle", **times})
            )["id"]
            await ok(200, "POST", f"/events/{ids['event_id']}/live/start", owner)
            ids["ended_event_id"] = (
                await ok(201, "POST", f"/clubs/{c['id']}/events", owner, json={"title": "ended", **times})
            )["id"]
            await ok(200, "POST", f"/events/{ids['ended_event_id']}/live/start", owner)
            await ok(200, "POST", f"/events/{ids['ended_event_id']}/live/end", owner)
        priv = world.ids["PRIV"]
        for actor in ("M", "U", "T", "B"):
            code = (await ok(201, "POST", f"/clubs/{priv['club_id']}/invites", "O", json={}))["code"]
            await ok(200, "POST", f"/clubs/{priv['club_id']}/join", actor, json={"invite_code": code})
        await ok(
            200,
            "PATCH",
            f"/clubs/{priv['club_id']}/members/{world.members['M'].user_id}",
            "O",
            json={"role": "moderator"},
        )

    # Each member posts three messages while it may (edit, delete and a spare); the hosts open Q&A and polls.
    for club, actors in (("PRIV", ("O", "M", "U", "T", "B")), ("PUB", ("X",))):
        ids = world.ids[club]
        for actor in actors:
            client = await ChatClient(
                gateway.url, world.members[actor].token, source=loopback_source()
            ).connect()
            try:
                await client.join(ids["room_id"])
                seqs = []
                for n in range(3):
                    ack = await client.send(ids["room_id"], f"{actor} says {n}")
                    assert ack["ok"], ack
                    seqs.append(ack["seq"])
                world.own_seqs[(actor, club)] = seqs
                if actor in ("O", "X"):
                    ack = await client.call("live:join", {"event_id": ids["event_id"]})
                    assert ack["ok"], ack
                    ack = await client.call("live:ask", {"event_id": ids["event_id"], "text": "first?"})
                    assert ack["ok"], ack
                    ids["question_id"] = ack["question_id"]
                    for key in ("poll_id", "spare_poll_id"):
                        ack = await client.call(
                            "live:poll",
                            {"event_id": ids["event_id"], "question": "which?", "options": ["a", "b"]},
                        )
                        assert ack["ok"], ack
                        ids[key] = ack["poll_id"]
                    ack = await client.call("live:moderate", {"event_id": ids["event_id"], "enabled": True})
                    assert ack["ok"], ack
                    ids["pending_question_id"] = ids["question_id"]  # PUB's: refused before it is looked at
                if actor == "U":  # a question for the host to review (O has moderated Q&A on by now)
                    ack = await client.call("live:join", {"event_id": ids["event_id"]})
                    assert ack["ok"], ack
                    ack = await client.call("live:ask", {"event_id": ids["event_id"], "text": "pending?"})
                    assert ack["ok"], ack
                    ids["pending_question_id"] = ack["question_id"]
            finally:
                await client.close()

    async with client_session(gateway.url) as http:
        await ok_status(
            world,
            http,
            200,
            "POST",
            f"/clubs/{priv['club_id']}/timeouts",
            "O",
            json={"user_id": world.members["T"].user_id, "minutes": 600},
        )
        await ok_status(
            world,
            http,
            200,
            "POST",
            f"/clubs/{priv['club_id']}/bans",
            "O",
            json={"user_id": world.members["B"].user_id},
        )
    await open_report(world, "PRIV")
    await open_report(world, "PUB")
    world.media_id = await upload_media(world)
    from storage.models import Reel

    for club, owner in (("PRIV", "O"), ("PUB", "X")):
        media = await ready_video(world.members[owner].user_id)
        reel = await Reel.create(
            club_id=world.ids[club]["club_id"], author_id=world.members[owner].user_id, media_id=media
        )
        world.ids[club]["reel_id"] = reel.id
    return world


async def ready_video(user_id: int):
    """A video of the user as the media worker leaves it once processed (``ready``): what a reel needs.
    Its objects are not there: no cell of the matrix downloads them."""
    from storage.models import Media, MediaKind, MediaStatus

    media_id = uuid.uuid4()
    await Media.create(
        id=media_id,
        owner_id=user_id,
        kind=MediaKind.video,
        content_type="video/mp4",
        size=1000,
        status=MediaStatus.ready,
        upload_key=f"uploads/{media_id.hex}",
        object_key=f"media/{media_id.hex}/video.mp4",
        poster_key=f"media/{media_id.hex}/poster.jpg",
        width=720,
        height=1280,
        duration_ms=2000,
    )
    return media_id


async def upload_media(world: World) -> str:
    """An image of O, uploaded straight to the object store and completed (processing)."""
    import io

    import aiohttp
    import yarl
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buf, "PNG")  # a real image: the media worker makes it ready
    data = buf.getvalue()
    async with client_session(world.url) as http:
        body = await ok_status(
            world,
            http,
            201,
            "POST",
            "/media/uploads",
            "O",
            json={"kind": "image", "content_type": "image/png", "size": len(data)},
        )
        upload = body["upload"]
        url = yarl.URL(upload["url"], encoded=True)
        async with aiohttp.ClientSession() as s, s.put(url, data=data, headers=upload["headers"]) as r:
            assert r.status == 200, await r.text()
        await ok_status(world, http, 202, "POST", f"/media/{body['media_id']}/complete", "O")
    return body["media_id"]


async def open_report(world: World, club: str) -> None:
    """An open report in the club (of B's first message in PRIV, of X's in PUB), for the resolve row."""
    from storage.models import Report

    ids = world.ids[club]
    author = "B" if club == "PRIV" else "X"
    seq = world.own_seqs[(author, club)][0]
    reporter = world.members["U" if club == "PRIV" else "N"].user_id
    await Report.filter(room_id=ids["room_id"], seq=seq, reporter_id=reporter).delete()
    snapshot = {
        "text": "matrix",
        "author": {"id": world.members[author].user_id, "display_name": "M"},
        "ts": 0,
    }
    report = await Report.create(
        club_id=ids["club_id"],
        room_id=ids["room_id"],
        seq=seq,
        reporter_id=reporter,
        reason="matrix",
        snapshot=snapshot,
    )
    ids["report_id"] = report.id


async def ok_status(world, http, expected, method, path, actor, **kw):
    status, body = await world.rest(http, method, path, actor, **kw)
    assert status == expected, (method, path, actor, status, body)
    return body


@pytest.fixture(scope="module")
async def world(gateway, smtp) -> World:
    return await build_world(gateway, smtp)


# -- REST requests: what each row sends, for the column's actor and target ------------------------------------


def rest_request(world: World, route: str, column: str, actor: str | None) -> tuple[str, str, dict]:
    """The path (with the target's ids) and request options for one cell."""
    method, path = route.split(" ", 1)
    t = world.target(column)
    o_user = world.members["O"].user_id
    fills = {
        "club_id": t["club_id"],
        "room_id": t["room_id"],
        "user_id": o_user,
        "event_id": (
            t["idle_event_id"]
            if "/live/" in path
            else t["ended_event_id"]
            if path.endswith("/summary.csv")
            else t["event_id"]
        ),
        "report_id": t["report_id"],
        "seq": 1,
        "root_seq": 1,
        "media_id": world.media_id,
        "reel_id": t["reel_id"],
    }
    if route == "PATCH /api/v1/clubs/{club_id}/members/{user_id}":
        fills["user_id"] = world.members["U"].user_id  # U's role set to what it is: allowed or not, no change
    path = path.removeprefix("/api/v1")
    for name, value in fills.items():
        path = path.replace("{" + name + "}", str(value))
    kw: dict = {}
    bodies = {
        "POST /api/v1/auth/signup": {
            "email": unique_email("matrix"),
            "password": "correct horse battery",
            "display_name": "Matrix signup",
        },
        "POST /api/v1/auth/verify": {"token": "not-a-token"},
        "POST /api/v1/auth/login": {"email": unique_email("nobody"), "password": "wrong password!"},
        "PATCH /api/v1/me": {"bio": "matrix"},
        "POST /api/v1/clubs": {"name": f"matrix extra {uuid.uuid4().hex[:6]}"},
        "POST /api/v1/clubs/{club_id}/join": {},
        "POST /api/v1/invites/accept": {"invite_code": "no-such-code"},
        "PATCH /api/v1/clubs/{club_id}/members/{user_id}": {"role": "member"},
        # B is banned already: banning again changes nothing; T is timed out already: so it stays
        "POST /api/v1/clubs/{club_id}/bans": {"user_id": world.members["B"].user_id},
        "POST /api/v1/clubs/{club_id}/timeouts": {"user_id": world.members["T"].user_id, "minutes": 600},
        "POST /api/v1/clubs/{club_id}/invites": {},
        "POST /api/v1/clubs/{club_id}/rooms": {"name": f"room {uuid.uuid4().hex[:6]}"},
        "PATCH /api/v1/rooms/{room_id}": {"slow_mode_s": 0},
        "PATCH /api/v1/rooms/{room_id}/notifications": {"level": "all"},
        "POST /api/v1/dms": {"user_ids": [o_user]},
        "POST /api/v1/rooms/{room_id}/pins": {"seq": 1},
        "POST /api/v1/notifications/read": {"all": True},
        "PATCH /api/v1/events/{event_id}": {"title": "matrix"},
        "POST /api/v1/interactions": [{"item_type": "club", "item_id": t["club_id"], "kind": "click"}],
        "POST /api/v1/me/blocks": {"user_id": o_user},
        "POST /api/v1/media/uploads": {"kind": "image", "content_type": "image/png", "size": 100},
        "POST /api/v1/reports": {
            "room_id": t["room_id"],
            "seq": world.own_seqs[("X", "PUB") if column == "public" else ("B", "PRIV")][2],
            "reason": "matrix",
        },
        "POST /api/v1/reports/{report_id}/resolve": {"action": "dismiss"},
        "PUT /api/v1/clubs/{club_id}/automod": {"blocked_terms": []},  # no rule: the socket rows send freely
        "POST /api/v1/clubs/{club_id}/events": {
            "title": "matrix",
            "starts_at": "2031-02-01T18:00:00Z",
            "ends_at": "2031-02-01T19:00:00Z",
        },
    }
    if route in bodies:
        kw["json"] = bodies[route]
    if route == "GET /api/v1/events":
        kw["params"] = {"club_id": str(t["club_id"])}
    if route == "GET /api/v1/search/messages":
        kw["params"] = {"q": "says", "club_id": str(t["club_id"])}
    if route == "GET /api/v1/dev/mailbox":
        kw["params"] = {"email": world.members["O"].email}
    if route.endswith("/notifications/unsubscribe"):
        kw["params"] = {"token": "not-a-token"}
    if route.endswith("/me/push-subscriptions"):
        endpoint = f"https://push.example.com/matrix/{uuid.uuid4().hex}"
        if method == "POST":
            point = "BGsX0fLhLEJH-Lzm5WOkQPJ3A32BLeszoPShOUXYmMKWT-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU"  # P-256's generator: a valid point
            kw["json"] = {"endpoint": endpoint, "keys": {"p256dh": point, "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}
        else:
            kw["json"] = {"endpoint": endpoint}
    return method, path, kw


async def prepare(world: World, http, route: str, column: str, actor: str | None, kw: dict) -> None:
    """State a cell needs that the previous cells may have used up."""
    t = world.target(column)
    owner = "X" if column == "public" else "O"
    if route == "POST /api/v1/clubs/{club_id}/invites/revoke":
        code = (await ok_status(world, http, 201, "POST", f"/clubs/{t['club_id']}/invites", owner, json={}))[
            "code"
        ]
        kw["json"] = {"code": code}
    if route == "POST /api/v1/clubs/{club_id}/reels":
        video = await ready_video(world.members[actor].user_id) if actor is not None else uuid.uuid4()
        kw["json"] = {"media_id": video.hex, "caption": "matrix"}
    if route == "DELETE /api/v1/events/{event_id}/rsvp" and actor is not None:
        await world.rest(http, "POST", f"/events/{t['event_id']}/rsvp", actor)  # if it may, it has one


async def restore(world: World, route: str, column: str, actor: str | None, status: int) -> None:
    """Undo what an allowed cell changed, so the next cells see the world as built."""
    from storage.models import Membership, Role

    t = world.target(column)
    if route == "POST /api/v1/clubs/{club_id}/leave" and status == 204:
        role = {"M": Role.moderator}.get(actor, Role.member)
        muted = None
        if actor == "T":
            from datetime import datetime, timedelta

            muted = datetime.now(UTC) + timedelta(minutes=600)
        await Membership.create(
            club_id=t["club_id"], user_id=world.members[actor].user_id, role=role, muted_until=muted
        )
        await world_chat(world).member_changed(t["club_id"], world.members[actor].user_id)
    if route == "POST /api/v1/clubs/{club_id}/join" and column == "public" and status == 200:
        await Membership.filter(club_id=t["club_id"], user_id=world.members[actor].user_id).delete()
        await world_chat(world).member_changed(t["club_id"], world.members[actor].user_id)
    if route == "POST /api/v1/events/{event_id}/live/start" and status == 200:
        pass  # live/end (the next row) ends it
    if route == "POST /api/v1/me/blocks" and actor is not None:
        from storage.models import UserBlock

        await UserBlock.filter(user_id=world.members[actor].user_id).delete()
    if route == "POST /api/v1/reports" and status == 201:
        from storage.models import Report

        await (
            Report.filter(reporter_id=world.members[actor].user_id, room_id=t["room_id"])
            .exclude(id=t["report_id"])
            .delete()
        )
    if route == "DELETE /api/v1/reels/{reel_id}" and status == 204:
        from storage.models import Reel

        await Reel.filter(id=t["reel_id"]).update(deleted_at=None)
    if route == "POST /api/v1/reports/{report_id}/resolve" and status == 200:
        await open_report(world, "PUB" if column == "public" else "PRIV")


def world_chat(world: World):
    from gateway.http.keys import ACTORS

    return world.app[ACTORS]


def expected_rows(table: dict[str, str]) -> dict[str, dict[str, str]]:
    rows = {}
    for key, line in table.items():
        cells = line.split()
        assert len(cells) == len(COLUMNS), (key, cells)
        rows[key] = dict(zip(COLUMNS, cells))
    return rows


def test_every_route_and_event_has_a_row(gateway):
    routes = {f"{op.method} {op.path}" for op in gateway.app[API].operations}
    events = set(gateway.app[SIO].handlers["/"]) - {"connect", "disconnect"}
    assert not routes - set(REST), f"routes without a row in REST: {sorted(routes - set(REST))}"
    assert not events - set(SOCKET), f"events without a row in SOCKET: {sorted(events - set(SOCKET))}"


async def test_rest_matrix(gateway, world):
    world.app = gateway.app
    routes = [f"{op.method} {op.path}" for op in gateway.app[API].operations]
    rows = expected_rows(REST)
    wrong = []
    for route in routes:
        for column in COLUMNS:
            actor = ACTOR_OF.get(column)
            async with client_session(gateway.url) as http:
                method, path, kw = rest_request(world, route, column, actor)
                if route == "POST /api/v1/auth/logout" and actor is not None:
                    # a login of its own: logging out must not end the actor's token the other cells use
                    member = world.members[actor]
                    status, body = await world.rest(
                        http,
                        "POST",
                        "/auth/login",
                        None,
                        json={"email": member.email, "password": member.password},
                    )
                    assert status == 200, body
                    kw["headers"] = {"Authorization": f"Bearer {body['access_token']}"}
                    actor_for_request = None
                else:
                    actor_for_request = actor
                await prepare(world, http, route, column, actor, kw)
                status, body = await world.rest(http, method, path, actor_for_request, **kw)
                await restore(world, route, column, actor, status)
            expected = int(rows[route][column])
            if status != expected:
                wrong.append(f"{route:50} {column:11} expected {expected}, got {status}: {str(body)[:120]}")
    assert not wrong, f"{len(wrong)} cells differ:\n" + "\n".join(wrong)


def socket_payload(world: World, event: str, column: str, actor: str) -> dict:
    t = world.target(column)
    club = "PUB" if column == "public" else "PRIV"
    mine = world.own_seqs.get((actor, club)) or world.own_seqs[("X" if club == "PUB" else "O", club)]
    room, ev = t["room_id"], t["event_id"]
    return {
        "auth:refresh": {"token": world.members[actor].token},
        "room:join": {"room_id": room},
        "room:leave": {"room_id": room},
        "message:send": {"room_id": room, "client_id": uuid.uuid4().hex, "text": "matrix"},
        "message:history": {"room_id": room},
        "message:edit": {"room_id": room, "seq": mine[0], "text": "edited by matrix"},
        "message:delete": {"room_id": room, "seq": mine[1]},
        "reaction:add": {"room_id": room, "seq": mine[2], "emoji": "👍"},
        "reaction:remove": {"room_id": room, "seq": mine[2], "emoji": "👍"},
        "typing": {"room_id": room},
        "read": {"room_id": room, "seq": 1},
        "live:join": {"event_id": ev},
        "live:hand": {"event_id": ev, "raised": True},
        "live:promote": {
            "event_id": ev,
            "user_id": world.members[actor].user_id if actor != "O" else world.members["U"].user_id,
            "role": "audience",
        },
        "live:ask": {"event_id": ev, "text": "matrix?"},
        "live:upvote": {"event_id": ev, "question_id": t["question_id"]},
        "live:answer": {"event_id": ev, "question_id": t["question_id"]},
        "live:poll": {"event_id": ev, "question": "matrix?", "options": ["a", "b"]},
        "live:vote": {"event_id": ev, "poll_id": t["poll_id"], "option": 0},
        "live:close_poll": {"event_id": ev, "poll_id": t["spare_poll_id"]},
        "live:pin": {"event_id": ev, "text": "matrix"},
        "live:moderate": {"event_id": ev, "enabled": True},
        "live:approve": {"event_id": ev, "question_id": t["question_id"]},  # approved already: no change
        "live:dismiss": {"event_id": ev, "question_id": t["pending_question_id"]},
        "live:pending": {"event_id": ev},
    }[event]


async def test_socket_matrix(gateway, world):
    world.app = gateway.app
    events = sorted(set(gateway.app[SIO].handlers["/"]) - {"connect", "disconnect"})
    rows = expected_rows(SOCKET)
    wrong = []
    for column in COLUMNS:
        actor = ACTOR_OF.get(column)
        if actor is None:  # anon and unverified hold no token: the connection itself is refused
            client = socketio.AsyncClient(reconnection=False)
            try:
                await client.connect(gateway.url, transports=["websocket"], auth={}, wait_timeout=10)
                outcome = "connected"
            except socketio.exceptions.ConnectionError:
                outcome = "refused"
            finally:
                await client.disconnect()
            for event in events:
                if rows[event][column] != outcome:
                    wrong.append(f"{event:16} {column:11} expected {rows[event][column]}, got {outcome}")
            continue
        for event in events:
            # A fresh socket per cell (from its own address): cells do not share joined rooms or limits.
            client = await ChatClient(
                gateway.url, world.members[actor].token, source=loopback_source()
            ).connect()
            audience = None
            try:
                target = world.target(column)
                if event == "live:promote" and actor == "O":  # the host promotes U, who is in the session
                    audience = await ChatClient(
                        gateway.url, world.members["U"].token, source=loopback_source()
                    ).connect()
                    ack = await audience.call("live:join", {"event_id": target["event_id"]})
                    assert ack["ok"], ack
                if event in ("typing", "read"):
                    await client.call("room:join", {"room_id": target["room_id"]})  # may be refused: fine
                if event.startswith("live:") and event != "live:join":
                    await client.call("live:join", {"event_id": target["event_id"]})
                payload = socket_payload(world, event, column, actor)
                for _ in range(20):  # the per-user action limit is not what this test is about: wait it out
                    ack = await client.call(event, payload)
                    if ack.get("ok") or ack["error"]["code"] != "rate_limited":
                        break
                    await asyncio.sleep(0.25)
            finally:
                await client.close()
                if audience is not None:
                    await audience.close()
            outcome = "ok" if ack.get("ok") else ack["error"]["code"]
            if outcome != rows[event][column]:
                wrong.append(
                    f"{event:16} {column:11} expected {rows[event][column]}, got {outcome}: {str(ack)[:120]}"
                )
    assert not wrong, f"{len(wrong)} cells differ:\n" + "\n".join(wrong)
