"""Issue 11's realtime findings, one regression test each (named after the finding): removal from a club
ends live and chat subscriptions (H1), live Q&A floods (H2), sockets outliving their login (H3), limits on
edits, reactions and live actions (M1), socket admission (L6), and joining a room's broadcasts before the
membership check."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
import socketio
from support.chat import ChatClient, GatewayProcess, LiveView, make_club_room
from support.members import Api, client_session, loopback_source, make_member
from support.wait import wait_for


class Recorder(ChatClient):
    """A ChatClient that also records live and session events, with the bytes of each frame."""

    def __init__(self, url: str, token: str, **kw) -> None:
        super().__init__(url, token, **kw)
        self.events: list[tuple[str, dict]] = []
        self.live_bytes: list[int] = []
        self.view = LiveView()
        for name in ("room:removed", "live:removed", "session:revoked", "live:update"):
            self.sio.on(name, self._recorder(name))

    def _recorder(self, name):
        async def record(data):
            self.events.append((name, data))
            if name == "live:update":
                self.live_bytes.append(len(json.dumps(data)))
                self.view.apply(data)

        return record

    def got(self, name: str) -> list[dict]:
        return [d for n, d in self.events if n == name]

    async def live_join(self, event_id: int) -> dict:
        ack = await self.call("live:join", {"event_id": event_id})
        if ack.get("ok"):
            self.view.reset(ack["state"])
        return ack

    async def flushed(self) -> None:
        """Everything the gateway queued for this socket before now has arrived (an ack queues after it)."""
        ack = await self.call("message:history", {"room_id": 1})
        assert "ok" in ack


async def live_world(gateway, smtp, http, visibility="private", n_members=2):
    """An owner hosting a live session in a club with members (joined by invite when private)."""
    people = [await make_member(gateway.url, smtp, n) for n in ["Host"] + [f"M{i}" for i in range(n_members)]]
    host, *members = [Api(http, p) for p in people]
    _, club = await host.call(
        "POST", "/clubs", {"name": f"c-{uuid.uuid4().hex[:6]}", "visibility": visibility}, expect=201
    )
    _, invite = await host.call("POST", f"/clubs/{club['id']}/invites", {}, expect=201)
    for m in members:
        await m.call("POST", f"/clubs/{club['id']}/join", {"invite_code": invite["code"]}, expect=200)
    start = datetime.now(UTC) + timedelta(minutes=5)
    _, event = await host.call(
        "POST",
        f"/clubs/{club['id']}/events",
        {
            "title": "Live",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(),
        },
        expect=201,
    )
    await host.call("POST", f"/events/{event['id']}/live/start", expect=200)
    _, rooms = await host.call("GET", f"/clubs/{club['id']}/rooms", expect=200)
    general = next(r for r in rooms["rooms"] if r["name"] == "general")
    return host, members, club, event["id"], general["id"]


# -- H1 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["ban", "leave"])
async def test_H1_removed_member_leaves_live_session_at_once(gateway, smtp, how):
    async with client_session(gateway.url) as http:
        host, (mem, other), club, eid, room_id = await live_world(gateway, smtp, http)
        h = await Recorder(gateway.url, host.member.token).connect()
        m = await Recorder(gateway.url, mem.member.token).connect()
        o = await Recorder(gateway.url, other.member.token).connect()
        try:
            for c in (h, m, o):
                assert (await c.live_join(eid))["ok"]
            await m.join(room_id)
            assert (await m.call("live:hand", {"event_id": eid, "raised": True}))["ok"]
            if how == "ban":
                await host.call(
                    "POST", f"/clubs/{club['id']}/bans", {"user_id": mem.member.user_id}, expect=200
                )
            else:
                await mem.call("POST", f"/clubs/{club['id']}/leave", expect=204)

            async def removed():
                return m.got("live:removed") and m.got("room:removed")

            await wait_for(removed, timeout=10)
            assert m.got("live:removed")[0]["event_id"] == eid
            seen_before = len(m.got("live:update"))
            # Every live action is refused, as for anyone who cannot see the club.
            for event, payload in (
                ("live:ask", {"text": "still here?"}),
                ("live:hand", {"raised": True}),
                ("live:upvote", {"question_id": 1}),
                ("live:vote", {"poll_id": 1, "option": 0}),
            ):
                ack = await m.call(event, {"event_id": eid, **payload})
                assert ack["error"]["code"] in ("not_found", "forbidden"), (event, ack)
            assert (await m.call("live:join", {"event_id": eid}))["error"]["code"] in (
                "not_found",
                "forbidden",
            )

            # Their hand is down and they are no longer counted, for everyone.
            async def host_sees_them_gone():
                return mem.member.user_id not in h.view.state["hands"] and h.view.state["present"] == 2

            await wait_for(host_sees_them_gone)
            # The session goes on, and the removed socket hears nothing of it: a pin reaches the others,
            # then everything queued for the removed socket before its next ack has arrived.
            assert (await h.call("live:pin", {"event_id": eid, "text": "secret"}))["ok"]
            await wait_for(lambda: _async(o.view.state["pinned"] == "secret"))
            await m.flushed()
            assert len(m.got("live:update")) == seen_before
            _, ev = await host.call("GET", f"/events/{eid}", expect=200)
            assert ev["status"] == "live"
        finally:
            for c in (h, m, o):
                await c.close()


async def _async(value):
    return value


# -- H2 -------------------------------------------------------------------------------------------


async def test_H2_live_flood_is_capped_and_sent_as_deltas(gateway, smtp):
    async with client_session(gateway.url) as http:
        host, (mem, other), _club, eid, _room = await live_world(gateway, smtp, http, visibility="public")
        m = await Recorder(gateway.url, mem.member.token).connect()
        o = await Recorder(gateway.url, other.member.token).connect()
        try:
            assert (await m.live_join(eid))["ok"] and (await o.live_join(eid))["ok"]
            text = "x" * 500
            acks = await asyncio.gather(
                *(m.call("live:ask", {"event_id": eid, "text": text}) for _ in range(60))
            )
            codes = [a["error"]["code"] if not a["ok"] else "ok" for a in acks]
            assert codes.count("ok") == 5, codes  # at most 5 open questions per member
            assert set(codes) == {"ok", "rate_limited"}
            too_long = await o.call("live:ask", {"event_id": eid, "text": "y" * 501})
            assert too_long["error"]["code"] == "too_large"
            # Votes flood the action bucket too.
            qid = next(a["question_id"] for a in acks if a["ok"])
            votes = await asyncio.gather(
                *(o.call("live:upvote", {"event_id": eid, "question_id": qid}) for _ in range(60))
            )
            assert any(not v["ok"] and v["error"]["code"] == "rate_limited" for v in votes)

            async def five_seen():
                return len(o.view.state["questions"]) == 5

            await wait_for(five_seen)
            await o.flushed()
            # Each change is a small delta, never the whole state (300 questions once made 173 KB frames).
            assert o.live_bytes and max(o.live_bytes) < 5 * 1024, max(o.live_bytes)
            assert o.view.gaps == 0
        finally:
            await m.close()
            await o.close()


def test_H2_session_question_cap():
    from actors.domain.errors import DomainError
    from actors.domain.live_session import MAX_QUESTIONS, LiveSession

    s = LiveSession(event_id=1, room_id=1, host_id=1)
    for i in range(MAX_QUESTIONS):
        s.ask(1000 + i, "q")  # one question each: under the per-member cap
    with pytest.raises(DomainError) as exc:
        s.ask(5000, "one too many")
    assert exc.value.code == "conflict"
    version, changes = s.take_changes()
    assert version == MAX_QUESTIONS and len(changes) == MAX_QUESTIONS


# -- H3 -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def second_gateway(gateway, settings, services, ray_cluster, tmp_path_factory):
    """A second gateway process on the same services and Ray, with a short header deadline."""
    proc = GatewayProcess(
        settings,
        services,
        ray_cluster,
        tmp_path_factory.mktemp("gw2"),
        extra_env={
            "CLUBHUB_HEADER_TIMEOUT_S": "2",
            "CLUBHUB_MAX_SOCKET_QUEUE": "200",
            "CLUBHUB_USER_MSG_BURST": "1000",
            "CLUBHUB_IP_EVENT_RATE": "20",
            "CLUBHUB_IP_EVENT_BURST": "1000",
        },
    )
    try:
        await proc.ready()
        yield proc.url
    finally:
        proc.stop()


async def _login(http, member) -> str:
    resp = await http.post("/api/v1/auth/login", json={"email": member.email, "password": member.password})
    assert resp.status == 200, await resp.text()
    return (await resp.json())["access_token"]


async def test_H3_logout_closes_the_logins_sockets_on_every_gateway(gateway, second_gateway, smtp):
    ada = await make_member(gateway.url, smtp, "Ada")
    room = await make_club_room(ada.user_id)
    async with client_session(gateway.url) as http:
        token = await _login(http, ada)  # a login of its own, with its refresh cookie in this session
        here = await Recorder(gateway.url, token).connect()
        there = await Recorder(second_gateway, token).connect()
        other_login = await Recorder(gateway.url, ada.token).connect()
        try:
            await here.join(room.id)
            await there.join(room.id)
            resp = await http.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
            assert resp.status == 204

            async def both_closed():
                return here.disconnected.is_set() and there.disconnected.is_set()

            await wait_for(both_closed, timeout=5)
            for c in (here, there):
                assert c.got("session:revoked")[0]["reason"] == "logout"
            # Another login of the same user is untouched.
            assert (await other_login.send(room.id, "still here"))["ok"]
            # And the revoked token cannot come back.
            with pytest.raises(socketio.exceptions.ConnectionError):
                await Recorder(gateway.url, token).connect()
        finally:
            for c in (here, there, other_login):
                await c.close()


async def test_H3_refresh_token_reuse_closes_sockets(gateway, second_gateway, smtp):
    bob = await make_member(gateway.url, smtp, "Bob")
    async with client_session(gateway.url) as http:
        token = await _login(http, bob)
        stolen = http.cookie_jar.filter_cookies(f"{gateway.url}/api/v1/auth")["clubhub_refresh"].value
        there = await Recorder(second_gateway, token).connect()
        try:
            resp = await http.post("/api/v1/auth/refresh")
            assert resp.status == 200
            # The thief replays the old refresh token: the whole login is revoked.
            async with client_session(gateway.url) as thief:
                resp = await thief.post("/api/v1/auth/refresh", cookies={"clubhub_refresh": stolen})
                assert resp.status == 401
            await wait_for(lambda: _async(there.disconnected.is_set()), timeout=5)
            assert there.got("session:revoked")[0]["reason"] == "revoked"
        finally:
            await there.close()


def _token_expiring_in(gateway, user_id: int, seconds: float, family: str | None = None) -> str:
    """An access token of the gateway's key ring that expires ``seconds`` from now."""
    from gateway.http.keys import ACCOUNTS

    access = gateway.app[ACCOUNTS].access
    return access.issue(user_id, family or uuid.uuid4().hex, now=time.time() + seconds - access.ttl_s)


async def test_H3_socket_does_not_outlive_its_token(gateway, smtp):
    cat = await make_member(gateway.url, smtp, "Cat")
    room = await make_club_room(cat.user_id)
    c = await Recorder(gateway.url, _token_expiring_in(gateway, cat.user_id, 3)).connect()
    try:
        await c.join(room.id)
        await wait_for(lambda: _async(c.disconnected.is_set()), timeout=15)
        assert c.got("session:revoked")[0] == {
            "reason": "expired",
            "code": "unauthorized",
            "message": c.got("session:revoked")[0]["message"],
        }
    finally:
        await c.close()


async def test_H3_auth_refresh_extends_the_socket(gateway, smtp):
    dan = await make_member(gateway.url, smtp, "Dan")
    eve = await make_member(gateway.url, smtp, "Eve")
    room = await make_club_room(dan.user_id)
    family = uuid.uuid4().hex
    short = _token_expiring_in(gateway, dan.user_id, 4, family)
    c = await Recorder(gateway.url, short).connect()
    try:
        await c.join(room.id)
        assert (await c.call("auth:refresh", {"token": eve.token}))["error"]["code"] == "unauthorized"
        assert (await c.call("auth:refresh", {"token": "not a jwt"}))["error"]["code"] == "unauthorized"
        fresh = _token_expiring_in(gateway, dan.user_id, 600, family)
        ack = await c.call("auth:refresh", {"token": fresh})
        assert ack["ok"] and ack["expires_at"] > time.time() + 500
        # Past the first token's expiry the socket still works.
        await asyncio.sleep(5.5)
        assert (await c.send(room.id, "after the old expiry"))["ok"]
        assert not c.disconnected.is_set() and not c.got("session:revoked")
    finally:
        await c.close()


# -- M1 -------------------------------------------------------------------------------------------


async def test_M1_edits_and_reactions_are_rate_limited(gateway, smtp):
    fay = await make_member(gateway.url, smtp, "Fay")
    room = await make_club_room(fay.user_id)
    c = await Recorder(gateway.url, fay.token).connect()
    try:
        await c.join(room.id)
        seq = (await c.send(room.id, "original"))["seq"]
        edits = await asyncio.gather(
            *(c.call("message:edit", {"room_id": room.id, "seq": seq, "text": f"e{i}"}) for i in range(80))
        )
        codes = {a["error"]["code"] if not a["ok"] else "ok" for a in edits}
        assert codes == {"ok", "rate_limited"}, codes
        await asyncio.sleep(5)  # let the bucket refill a little
        reactions = await asyncio.gather(
            *(
                c.call(
                    "reaction:add" if i % 2 == 0 else "reaction:remove",
                    {"room_id": room.id, "seq": seq, "emoji": "👍"},
                )
                for i in range(80)
            )
        )
        codes = {a["error"]["code"] if not a["ok"] else "ok" for a in reactions}
        assert codes == {"ok", "rate_limited"}, codes
    finally:
        await c.close()


async def test_M1_timed_out_member_cannot_edit_react_or_act_live(gateway, smtp):
    async with client_session(gateway.url) as http:
        host, (mem,), club, eid, room_id = await live_world(
            gateway, smtp, http, visibility="public", n_members=1
        )
        m = await Recorder(gateway.url, mem.member.token).connect()
        try:
            await m.join(room_id)
            assert (await m.live_join(eid))["ok"]
            seq = (await m.send(room_id, "before the timeout"))["seq"]
            await host.call(
                "POST",
                f"/clubs/{club['id']}/timeouts",
                {"user_id": mem.member.user_id, "minutes": 10},
                expect=200,
            )
            for event, payload in (
                ("message:send", {"room_id": room_id, "client_id": uuid.uuid4().hex, "text": "spam"}),
                ("message:edit", {"room_id": room_id, "seq": seq, "text": "now spam"}),
                ("reaction:add", {"room_id": room_id, "seq": seq, "emoji": "💩"}),
                ("live:ask", {"event_id": eid, "text": "spam?"}),
                ("live:hand", {"event_id": eid, "raised": True}),
            ):
                ack = await m.call(event, payload)
                assert ack["error"]["code"] == "forbidden", (event, ack)
            _, page = await host.call("GET", f"/rooms/{room_id}/messages", expect=200)
            assert [x["text"] for x in page["messages"]] == ["before the timeout"]
            assert page["messages"][0]["reactions"] == {}
        finally:
            await m.close()


# -- joining before the membership check -----------------------------------------------------------


async def test_non_member_socket_never_enters_room_broadcasts(gateway, smtp):
    from gateway.app import SIO

    gus = await make_member(gateway.url, smtp, "Gus")
    out = await make_member(gateway.url, smtp, "Out")
    room = await make_club_room(gus.user_id)
    sio = gateway.app[SIO]
    entered: list[tuple[str, str]] = []
    real_enter = sio.enter_room

    async def spy(sid, room_name, namespace=None):
        entered.append((sid, room_name))
        return await real_enter(sid, room_name, namespace)

    sio.enter_room = spy
    c = await Recorder(gateway.url, out.token).connect()
    try:
        ack = await c.call("room:join", {"room_id": room.id})
        assert ack["error"]["code"] == "forbidden"
        sid = c.sio.get_sid("/")
        assert (sid, f"room:{room.id}") not in entered
        async with client_session(gateway.url) as http:
            host, _members, _club, eid, _ = await live_world(gateway, smtp, http, n_members=0)
        ack = await c.call("live:join", {"event_id": eid})
        assert ack["error"]["code"] == "not_found"
        assert (sid, f"live:{eid}") not in entered
    finally:
        sio.enter_room = real_enter
        await c.close()


# -- L6 -------------------------------------------------------------------------------------------


async def test_L6_sockets_per_user_are_capped(gateway, smtp, settings):
    hal = await make_member(gateway.url, smtp, "Hal")
    clients = []
    try:
        for _ in range(settings.max_sockets_per_user):
            clients.append(await ChatClient(gateway.url, hal.token).connect())
        extra = ChatClient(gateway.url, hal.token)
        refusals = []
        extra.sio.on("connect_error", refusals.append)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await extra.connect()
        assert refusals and refusals[0]["message"] == "rate_limited", refusals
        await clients.pop().close()

        async def admitted_again():
            try:
                clients.append(await ChatClient(gateway.url, hal.token).connect())
                return True
            except socketio.exceptions.ConnectionError:
                return False

        await wait_for(admitted_again, timeout=10)
    finally:
        for c in clients:
            await c.close()


async def _handshake(http, url) -> tuple[int, str | None]:
    async with http.get(f"{url}/socket.io/", params={"EIO": "4", "transport": "polling"}) as resp:
        body = await resp.text()
        if resp.status != 200:
            return resp.status, None
        return resp.status, json.loads(body[1:])["sid"]


async def test_L6_engineio_sessions_per_address_are_capped(gateway, settings):
    async with client_session(gateway.url, loopback_source()) as http:
        statuses = [(await _handshake(http, gateway.url))[0] for _ in range(settings.max_sockets_per_ip + 5)]
        assert statuses[: settings.max_sockets_per_ip] == [200] * settings.max_sockets_per_ip
        assert set(statuses[settings.max_sockets_per_ip :]) == {401}
    # Another address is not affected.
    async with client_session(gateway.url, loopback_source()) as http:
        assert (await _handshake(http, gateway.url))[0] == 200


async def test_L6_session_without_namespace_connect_is_closed(gateway, settings):
    async with client_session(gateway.url, loopback_source()) as http:
        status, sid = await _handshake(http, gateway.url)
        assert status == 200

        async def closed():
            async with http.get(
                f"{gateway.url}/socket.io/", params={"EIO": "4", "transport": "polling", "sid": sid}
            ) as resp:
                return resp.status == 400  # engine.io: unknown session

        await wait_for(closed, timeout=settings.socket_connect_timeout_s + 30, interval=0.5)


async def test_L6_slow_header_connections_are_closed(second_gateway):
    host, port = second_gateway.removeprefix("http://").split(":")
    conns = []
    try:
        for _ in range(20):
            reader, writer = await asyncio.open_connection(host, int(port), local_addr=(loopback_source(), 0))
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the end of the headers
            await writer.drain()
            conns.append((reader, writer))

        async def all_closed():
            for reader, _ in conns:
                try:
                    data = await asyncio.wait_for(reader.read(1024), 0.05)
                except TimeoutError:
                    return False
                if data:
                    continue  # an error answer, then EOF on the next read
            return all(r.at_eof() for r, _ in conns)

        await wait_for(all_closed, timeout=30, interval=0.5)
    finally:
        for _, writer in conns:
            writer.close()


# -- limits on joins and on slow consumers -----------------------------------------------------------


async def test_joins_are_rate_limited(gateway, smtp, settings):
    ivy = await make_member(gateway.url, smtp, "Ivy")
    room = await make_club_room(ivy.user_id)
    c = await ChatClient(gateway.url, ivy.token).connect()
    try:
        acks = await asyncio.gather(
            *(c.call("room:join", {"room_id": room.id}) for _ in range(int(settings.user_join_burst) + 50))
        )
        codes = {a["error"]["code"] if not a["ok"] else "ok" for a in acks}
        assert codes == {"ok", "rate_limited"}, codes
    finally:
        await c.close()


class RawSocket:
    """A Socket.IO client over a bare TCP connection with a tiny receive buffer, which stops reading when
    told: the slow consumer a gateway must drop instead of buffering for it."""

    def __init__(self, reader, writer) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, url: str, token: str) -> RawSocket:
        import base64
        import os
        import socket

        host, port = url.removeprefix("http://").split(":")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        reader, writer = await asyncio.open_connection(sock=sock)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert b" 101 " in head, head
        self = cls(reader, writer)
        assert (await self.recv()).startswith("0")  # engine.io open
        self.send("40" + json.dumps({"token": token}))
        assert (await self.recv()).startswith("40")
        return self

    def send(self, text: str) -> None:
        import os

        data, mask = text.encode(), os.urandom(4)
        n = len(data)
        header = bytes([0x81]) + (
            bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
        )
        self.writer.write(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    async def recv(self) -> str:
        while True:
            b0, b1 = await self.reader.readexactly(2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(await self.reader.readexactly(2), "big")
            elif n == 127:
                n = int.from_bytes(await self.reader.readexactly(8), "big")
            text = (await self.reader.readexactly(n)).decode()
            if text == "2":  # engine.io ping
                self.send("3")
                continue
            return text

    def close(self) -> None:
        self.writer.close()


async def test_slow_consumer_is_dropped_and_counted_while_others_get_everything(
    gateway, second_gateway, smtp
):
    senders_people = [await make_member(gateway.url, smtp, n) for n in ("Jo", "Joy", "Jay")]
    kim, lee = [await make_member(gateway.url, smtp, n) for n in ("Kim", "Lee")]
    room = await make_club_room(
        senders_people[0].user_id, [p.user_id for p in senders_people[1:]] + [kim.user_id, lee.user_id]
    )
    slow = await RawSocket.open(second_gateway, lee.token)
    slow.send("420" + json.dumps(["room:join", {"room_id": room.id}]))
    while not (await slow.recv()).startswith("430"):  # joined (presence may come first); from now on it
        pass  # reads nothing
    senders = [await ChatClient(second_gateway, p.token, loopback_source()).connect() for p in senders_people]
    reader = await ChatClient(second_gateway, kim.token, loopback_source()).connect()
    try:
        await reader.join(room.id)
        # More than the kernel's socket buffers (up to 4 MB here) and aiohttp's 64 KB write buffer can hold.
        text = "z" * 3990

        async def flood(client, prefix):
            return [await client.send(room.id, f"{prefix}{i:03d} {text}") for i in range(500)]

        acks = [
            a for part in await asyncio.gather(*(flood(c, n) for c, n in zip(senders, "abc"))) for a in part
        ]
        assert all(a["ok"] for a in acks), [a for a in acks if not a["ok"]][:3]
        assert not reader.disconnected.is_set(), "the reader that keeps up was dropped"
        assert await reader.wait_seqs(room.id, 1500, timeout=120) == list(range(1, 1501))

        async def dropped():
            async with aiohttp.ClientSession() as http, http.get(f"{second_gateway}/metrics") as resp:
                body = await resp.text()
            line = next((x for x in body.splitlines() if x.startswith("clubhub_slow_consumers_total")), "x 0")
            return float(line.split()[-1]) >= 1

        await wait_for(dropped, timeout=30)
        # Its connection is cut, not left open with a stuck writer and a full queue.
        assert await _closed_by_server(slow), "the slow consumer's connection is still open"
    finally:
        slow.close()
        for c in senders + [reader]:
            await c.close()


async def _closed_by_server(raw: RawSocket, timeout: float = 30.0) -> bool:
    """Read (and discard) until the server ends the connection; False if it is still open at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = await asyncio.wait_for(raw.reader.read(1 << 20), max(0.1, deadline - time.monotonic()))
        except (ConnectionError, OSError):
            return True
        except TimeoutError:
            return False
        if not data:
            return True
    return False


async def test_gateway_stops_promptly_with_a_client_that_stopped_reading(
    gateway, smtp, settings, services, ray_cluster, tmp_path
):
    """SIGTERM stops a gateway within its close timeout even when a socket's writer is stuck on a full
    TCP buffer (a polite close would wait for that queue to drain for ever)."""
    pat, quin = [await make_member(gateway.url, smtp, n) for n in ("Pat", "Quin")]
    room = await make_club_room(pat.user_id, [quin.user_id])
    proc = GatewayProcess(
        settings,
        services,
        ray_cluster,
        tmp_path,
        extra_env={"CLUBHUB_USER_MSG_BURST": "5000", "CLUBHUB_MAX_SOCKET_QUEUE": "100000"},
    )
    slow = sender = None
    try:
        await proc.ready()
        slow = await RawSocket.open(proc.url, quin.token)
        slow.send("420" + json.dumps(["room:join", {"room_id": room.id}]))
        while not (await slow.recv()).startswith("430"):
            pass
        sender = await ChatClient(proc.url, pat.token, loopback_source()).connect()
        text = "w" * 3990
        for i in range(1500):  # ~6 MB: more than the kernel buffers hold, so the writer blocks
            ack = await sender.send(room.id, f"{i} {text}")
            assert ack["ok"], ack
        await sender.close()
        proc.proc.send_signal(__import__("signal").SIGTERM)
        exit_code = await asyncio.get_running_loop().run_in_executor(None, proc.proc.wait, 60)
        assert exit_code == 0
        assert "sockets closed" in proc.log.read_text()
    finally:
        if slow is not None:
            slow.close()
        if sender is not None:
            await sender.close()
        proc.stop()


async def test_events_from_one_address_are_rate_limited_across_its_users(gateway, second_gateway, smtp):
    people = [await make_member(gateway.url, smtp, n) for n in ("Max", "Ned")]
    room = await make_club_room(people[0].user_id, [people[1].user_id])
    address = loopback_source()
    clients = [await ChatClient(second_gateway, p.token, address).connect() for p in people]
    elsewhere = await ChatClient(second_gateway, people[0].token, loopback_source()).connect()
    try:
        for c in clients:
            await c.join(room.id)
        # Typing is cheap and never limited per user: only the address's bucket (burst 1000) can refuse.
        acks = await asyncio.gather(
            *(clients[i % 2].call("typing", {"room_id": room.id}) for i in range(1300))
        )
        codes = [a["error"]["code"] if not a["ok"] else "ok" for a in acks]
        assert "rate_limited" in codes and codes.count("ok") >= 950, (codes.count("ok"), set(codes))
        # Another address is not affected.
        assert (await elsewhere.call("room:join", {"room_id": room.id}))["ok"]
    finally:
        for c in clients + [elsewhere]:
            await c.close()


async def test_oversize_socket_frame_is_refused_and_the_gateway_keeps_serving(gateway, smtp, settings):
    oli = await make_member(gateway.url, smtp, "Oli")
    room = await make_club_room(oli.user_id)
    big = await ChatClient(gateway.url, oli.token, loopback_source()).connect()
    other = await ChatClient(gateway.url, oli.token, loopback_source()).connect()
    try:
        await big.join(room.id)
        text = "x" * (settings.max_socket_frame_bytes + 1)
        with pytest.raises(socketio.exceptions.SocketIOError):  # the websocket is closed (1009): no ack
            await big.call("message:send", {"room_id": room.id, "client_id": "big", "text": text}, timeout=10)
        await wait_for(lambda: _async(big.disconnected.is_set()), timeout=10)
        await other.join(room.id)
        ack = await other.send(room.id, "still serving")
        assert ack["ok"] and ack["seq"] == 1  # nothing of the oversize frame was stored
    finally:
        await big.close()
        await other.close()
