"""M3 (issue 11): client input that used to answer 500 with a full traceback in the log.

Each probe must answer ``invalid`` (422) or ``not_found`` (404) — or, for a Socket.IO frame that does not
decode, drop that socket — and log at most one line, never a traceback; the gateway keeps serving.
The gateway runs in this process, so a handler on the root logger sees everything it logs.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import logging

import aiohttp
import pytest
import yarl
from support.chat import ChatClient, LogRecords
from support.members import client_session, loopback_source, make_member
from support.wait import wait_for


@pytest.fixture
def gateway_log():
    """What the in-process gateway logs at WARNING and above while the test runs."""
    handler = LogRecords()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)


def assert_quiet(records: list[logging.LogRecord], max_lines: int = 1) -> None:
    """No traceback and at most ``max_lines`` lines (a client error logs one line, rate-limited)."""
    gc.collect()  # an unretrieved task exception is logged (with its traceback) when collected
    for record in records:
        text = record.getMessage()
        assert record.exc_info is None and "Traceback" not in text, (record.name, text, record.exc_info)
    assert len(records) <= max_lines, [(r.name, r.getMessage()) for r in records]


@pytest.fixture(scope="module")
async def owner(gateway, smtp):
    return await make_member(gateway.url, smtp, "M3 owner")


@pytest.fixture(scope="module")
async def owned_club(gateway, owner):
    async with client_session(gateway.url) as http:
        resp = await http.post(
            "/api/v1/clubs", json={"name": "m3 club"}, headers={"Authorization": f"Bearer {owner.token}"}
        )
        assert resp.status == 201, await resp.text()
        return (await resp.json())["id"]


def auth(member) -> dict:
    return {"Authorization": f"Bearer {member.token}"}


async def assert_error(resp: aiohttp.ClientResponse, status: int, code: str) -> None:
    body = await resp.json()
    assert resp.status == status and body["error"]["code"] == code, (resp.status, body)


# -- REST ---------------------------------------------------------------------------------------


async def test_M3_login_body_nested_1000_deep_is_invalid(http, gateway_log):
    resp = await http.post(
        "/api/v1/auth/login", data="[" * 1000, headers={"Content-Type": "application/json"}
    )
    await assert_error(resp, 422, "invalid")
    assert_quiet(gateway_log)


async def test_M3_client_gone_mid_body_logs_no_traceback(gateway, gateway_log):
    """A tab closed while its POST body was on the way: one line at most, never a traceback."""
    from gateway.app import METRICS

    answered = gateway.app[METRICS].requests.labels("POST", "/api/v1/auth/login", "400")
    before = answered._value.get()
    host, port = gateway.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port), local_addr=(loopback_source(), 0))
    writer.write(
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 1000\r\n\r\n{"email": '
    )
    await writer.drain()
    await asyncio.sleep(0.2)  # the handler is now waiting for the rest of the body
    writer.transport.abort()

    async def handled():
        # The barrier: the metrics middleware counts the aborted request once every handler and
        # middleware under it has returned, so whatever it logged is in the log by then.
        return answered._value.get() > before

    await wait_for(handled)
    assert_quiet(gateway_log)


async def test_M3_asset_name_with_nul_is_not_found(gateway, gateway_log):
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(local_addr=(loopback_source(), 0))
    ) as raw:
        resp = await raw.get(yarl.URL(gateway.url + "/assets/%00", encoded=True))
        await assert_error(resp, 404, "not_found")
        resp = await raw.get(yarl.URL(gateway.url + "/assets/a%00.js", encoded=True))
        await assert_error(resp, 404, "not_found")
    assert_quiet(gateway_log)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/users/²",
        "/api/v1/clubs/¹",
        "/api/v1/rooms/³/messages",
        "/api/v1/events/٣",
        "/api/v1/users/1²",
    ],
)
async def test_M3_non_ascii_digit_ids_are_not_found(http, owner, path, gateway_log):
    resp = await http.get(path, headers=auth(owner))
    await assert_error(resp, 404, "not_found")
    assert_quiet(gateway_log)


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", "/bans", {"user_id": 2**70}),
        ("POST", "/timeouts", {"user_id": 2**63, "minutes": 5}),
        ("POST", "/bans", {"user_id": 2**63}),
    ],
)
async def test_M3_body_ids_beyond_bigint_are_invalid(
    http, owner, owned_club, method, path, body, gateway_log
):
    resp = await http.request(method, f"/api/v1/clubs/{owned_club}{path}", json=body, headers=auth(owner))
    await assert_error(resp, 422, "invalid")
    assert_quiet(gateway_log)


@pytest.mark.parametrize("query", [f"club_id={2**70}", f"club_id={2**63}"])
async def test_M3_query_ids_beyond_bigint_are_invalid(http, owner, query, gateway_log):
    resp = await http.get(f"/api/v1/events?{query}", headers=auth(owner))
    await assert_error(resp, 422, "invalid")
    assert_quiet(gateway_log)


def cursor_of(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "raw",
    ["[1e39, 1]", f"[0.5, {2**70}]", f"[0.5, {2**63}]", "[NaN, 1]", "[Infinity, 1]", "[0.5, -1]", "[" * 1000],
)
async def test_M3_search_cursor_out_of_range_is_invalid(http, owner, raw, gateway_log):
    resp = await http.get("/api/v1/clubs", params={"cursor": cursor_of(raw)}, headers=auth(owner))
    await assert_error(resp, 422, "invalid")
    assert_quiet(gateway_log)


# -- engine.io / Socket.IO ------------------------------------------------------------------------


async def open_socket(gateway, member, http: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
    """A raw engine.io websocket connected to the ``/`` namespace, as a Socket.IO client would."""
    ws = await http.ws_connect(gateway.url + "/socket.io/?EIO=4&transport=websocket")
    opened = await ws.receive_str(timeout=10)
    assert opened.startswith("0{"), opened
    await ws.send_str("40" + json.dumps({"token": member.token}))
    connected = await ws.receive_str(timeout=10)
    assert connected.startswith("40{"), connected
    return ws


async def closed_by_server(ws: aiohttp.ClientWebSocketResponse, timeout: float = 10.0) -> bool:
    """Whether the server closes the websocket (engine.io pings are skipped; none come in 10 s)."""
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.receive()
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                return True
            if msg.type == aiohttp.WSMsgType.TEXT and msg.data == "1":  # engine.io close: the socket is gone
                return True
            if msg.type == aiohttp.WSMsgType.TEXT and msg.data in ("2", "6"):
                continue
            if msg.type == aiohttp.WSMsgType.TEXT and msg.data.startswith("41"):  # namespace disconnect
                continue
            raise AssertionError(f"the server answered instead of closing: {msg!r}")


async def assert_still_serving(gateway, member) -> None:
    client = await ChatClient(gateway.url, member.token).connect()
    try:
        ack = await client.call("room:join", {"room_id": 2**62})
        assert ack["ok"] is False and ack["error"]["code"] in ("not_found", "forbidden"), ack
    finally:
        await client.close()


MALFORMED_FRAMES = {
    "nul packet type": ["4\x00garbage"],
    "not a packet type": ["x"],
    "unknown packet type": ["9"],
    "non-ascii digit type": ["²"],
    "empty frame": [""],
    "bad base64": ["bA"],
    "deep nesting (engine.io)": ["4" + "[" * 5000],
    "deep nesting (socket.io)": ["42" + "[" * 5000],
    "event is an object": ['42{"room:join": 1}'],
    "event is empty": ["42[]"],
    "event name is an object": ['42[{}, {"room_id": 1}]'],
    "reserved event name": ['42["connect", {}]'],
    "unterminated event": ['42["room:join", {"room_id": '],
    "binary placeholder out of range": ['451-["room:join",{"_placeholder":true,"num":7}]', b"\x00\x01"],
    "binary attachment without a packet": [b"\xff\xfe garbage"],
}


@pytest.mark.parametrize("frames", MALFORMED_FRAMES.values(), ids=MALFORMED_FRAMES.keys())
async def test_M3_malformed_socket_frames_drop_the_socket(gateway, owner, frames, gateway_log):
    async with client_session(gateway.url) as http:
        ws = await open_socket(gateway, owner, http)
        for frame in frames:
            await (ws.send_bytes(frame) if isinstance(frame, bytes) else ws.send_str(frame))
        assert await closed_by_server(ws)
    await assert_still_serving(gateway, owner)
    assert_quiet(gateway_log)


async def test_M3_event_with_extra_arguments_is_answered_invalid(gateway, owner, gateway_log):
    async with client_session(gateway.url) as http:
        ws = await open_socket(gateway, owner, http)
        await ws.send_str('4217["room:join",{"room_id":1},"extra"]')
        ack = await ws.receive_str(timeout=10)
        assert ack.startswith("4317["), ack
        body = json.loads(ack[len("4317") :])[0]
        assert body["ok"] is False and body["error"]["code"] == "invalid", body
        await ws.close()
    assert_quiet(gateway_log)


async def polling_session(http: aiohttp.ClientSession, member) -> str:
    resp = await http.get("/socket.io/?EIO=4&transport=polling")
    text = await resp.text()
    assert resp.status == 200 and text.startswith("0{"), text
    sid = json.loads(text[1:])["sid"]
    resp = await http.post(
        f"/socket.io/?EIO=4&transport=polling&sid={sid}", data="40" + json.dumps({"token": member.token})
    )
    assert resp.status == 200, await resp.text()
    resp = await http.get(f"/socket.io/?EIO=4&transport=polling&sid={sid}")
    assert (await resp.text()).startswith("40{")
    return sid


@pytest.mark.parametrize(
    "body",
    [
        b"4\x00garbage",
        b"\xff\xfe\xfd",
        b"9x",
        b"x",
        b"42" + b"[" * 5000,
        b'42{"a": 1}',
        b"d=",
        b"40\x1e4\x00garbage",
    ],
    ids=[
        "nul type",
        "invalid utf-8",
        "unknown type",
        "not a type",
        "deep nesting",
        "event is an object",
        "jsonp without d",
        "second packet garbage",
    ],
)
async def test_M3_malformed_polling_body_drops_the_socket(gateway, owner, body, gateway_log):
    async with client_session(gateway.url) as http:
        sid = await polling_session(http, owner)
        url = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
        resp = await http.post(url, data=body)
        assert resp.status in (200, 400), await resp.text()

        async def dropped():
            resp = await http.get(url)
            text = await resp.text()
            return resp.status == 400 or text.startswith("1") or "\x1e1" in text

        async with asyncio.timeout(10):
            while not await dropped():
                pass
    await assert_still_serving(gateway, owner)
    assert_quiet(gateway_log)


async def test_M3_repeated_client_errors_log_one_line(gateway, owner, gateway_log):
    """The same client error twenty times in a row: at most one line (rate-limited per kind)."""
    async with client_session(gateway.url) as http:
        for _ in range(20):
            ws = await open_socket(gateway, owner, http)
            await ws.send_str("4\x00garbage")
            assert await closed_by_server(ws)
            resp = await http.post("/api/v1/auth/login", data="[" * 1000)
            await assert_error(resp, 422, "invalid")
    assert_quiet(gateway_log, max_lines=2)  # one per kind at most


async def test_M3_unparsable_request_line_logs_one_line_without_its_url(gateway, gateway_log):
    """aiohttp refuses a request line with raw control bytes (400) and would log it whole, query and all:
    an unsubscribe link's token with it. One WARNING line naming the error, never the URL."""
    host, port = gateway.url.removeprefix("http://").split(":")
    secret = "UnsubscribeTokenThatMustNotBeLogged"
    for _ in range(3):  # rate-limited: repeats add no line
        reader, writer = await asyncio.open_connection(host, int(port), local_addr=(loopback_source(), 0))
        writer.write(f"GET /api/v1/notifications/unsubscribe?token={secret}\x01\x02 HTTP/1.1\r\n".encode())
        writer.write(b"Host: x\r\n\r\n")
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 10)
        assert status.split()[1:2] == [b"400"], status
        writer.close()
    # The barrier: a well-formed request answered after them; whatever they logged is logged by then.
    async with client_session(gateway.url) as http, http.get("/healthz") as resp:
        assert resp.status == 200
    assert not any(
        secret in r.getMessage() or (r.exc_info and secret in str(r.exc_info[1])) for r in gateway_log
    )
    kinds = [getattr(r, "client_error", None) for r in gateway_log]
    assert kinds.count("malformed_http") <= 1 and set(kinds) <= {"malformed_http"}, kinds
    assert_quiet(gateway_log)
