"""Property tests of every Socket.IO client→server event (issue 11, must-show 2).

The events are read from the server (``app[SIO].handlers['/']``), so a new event is covered without
touching this file. For each one Hypothesis sends hostile payloads: non-objects, wrong types, missing
and extra fields, huge and empty strings, NUL and lone surrogates (invalid UTF-8 once encoded), deep
nesting and binary attachments, and valid templates with some fields spoiled. Every call must be
answered with ``ok: true`` or a contract error code (never ``internal``), or refused (the socket is
dropped, e.g. a frame over the size limit); nothing the gateway logs may carry a traceback; and a
valid call afterwards still works.

Hypothesis runs in a worker thread and hands each call to the event loop the gateway serves from.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os

import pytest
import socketio
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from support.chat import ChatClient, LogRecords
from support.members import client_session, loopback_source, make_member

from gateway.app import SIO

EXAMPLES = int(os.environ.get("CLUBHUB_SOCKET_FUZZ_EXAMPLES", "20"))
CONTRACT_CODES = {
    "invalid",
    "unauthorized",
    "forbidden",
    "not_found",
    "conflict",
    "rate_limited",
    "too_large",
    "unavailable",
}
LIFECYCLE = {"connect", "disconnect"}


@pytest.fixture(scope="module")
async def world(gateway, smtp):
    """A member owning a club (room ``general``) with a live event, so valid ids reach real actions."""
    owner = await make_member(gateway.url, smtp, "Socket fuzzer")
    headers = {"Authorization": f"Bearer {owner.token}"}
    async with client_session(gateway.url) as http:
        resp = await http.post("/api/v1/clubs", json={"name": "socket fuzz club"}, headers=headers)
        assert resp.status == 201, await resp.text()
        club_id = (await resp.json())["id"]
        rooms = (await (await http.get(f"/api/v1/clubs/{club_id}/rooms", headers=headers)).json())["rooms"]
        resp = await http.post(
            f"/api/v1/clubs/{club_id}/events",
            headers=headers,
            json={
                "title": "fuzz live",
                "starts_at": "2031-01-01T18:00:00Z",
                "ends_at": "2031-01-01T20:00:00Z",
            },
        )
        assert resp.status == 201, await resp.text()
        event_id = (await resp.json())["id"]
        resp = await http.post(f"/api/v1/events/{event_id}/live/start", headers=headers)
        assert resp.status == 200, await resp.text()
    return {"owner": owner, "room_id": rooms[0]["id"], "event_id": event_id}


def templates(world: dict) -> dict[str, dict]:
    """A valid payload per known event (the contract's table); hostile cases spoil them."""
    room, event, owner = world["room_id"], world["event_id"], world["owner"]
    msg = {"room_id": room, "seq": 1}
    return {
        "auth:refresh": {"token": owner.token},
        "room:join": {"room_id": room, "since_seq": 0},
        "room:leave": {"room_id": room},
        "message:send": {"room_id": room, "client_id": "c", "text": "hi"},
        "message:history": {"room_id": room, "limit": 5},
        "message:edit": {**msg, "text": "edited"},
        "message:delete": dict(msg),
        "reaction:add": {**msg, "emoji": "👍"},
        "reaction:remove": {**msg, "emoji": "👍"},
        "typing": {"room_id": room},
        "read": dict(msg),
        "live:join": {"event_id": event},
        "live:hand": {"event_id": event, "raised": True},
        "live:promote": {"event_id": event, "user_id": owner.user_id, "role": "speaker"},
        "live:ask": {"event_id": event, "text": "why?"},
        "live:upvote": {"event_id": event, "question_id": 1},
        "live:answer": {"event_id": event, "question_id": 1},
        "live:poll": {"event_id": event, "question": "which?", "options": ["a", "b"]},
        "live:vote": {"event_id": event, "poll_id": 1, "option": 0},
        "live:close_poll": {"event_id": event, "poll_id": 1},
        "live:pin": {"event_id": event, "text": "pinned"},
    }


FIELDS = [
    "room_id",
    "event_id",
    "seq",
    "text",
    "client_id",
    "emoji",
    "since_seq",
    "since_rev",
    "before_seq",
    "limit",
    "reply_to_seq",
    "question_id",
    "poll_id",
    "option",
    "options",
    "question",
    "raised",
    "user_id",
    "role",
    "token",
]


def nested(depth: int):
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


strings = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", "\x00", "a\x00b", "\ud800", "x\udfff", "\u202e", "👍" * 20, "\n" * 10]),
    st.integers(min_value=1, max_value=70_000).map(lambda n: "x" * n),  # up to past the 64 KB frame limit
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    strings,
    st.binary(max_size=64),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([0, -1, 2**62, 2**63 - 1, 2**63, 2**64]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1.5, 1e308, -0.0]),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=5),
    st.dictionaries(st.text(max_size=8), scalars, max_size=4),
    st.sampled_from([10, 100, 400]).map(nested),
)


def payloads(template: dict):
    generic = st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=10)), values, max_size=6)

    @st.composite
    def spoiled(draw):
        payload = dict(template)
        if draw(st.booleans()):  # one field spoiled, the rest valid: reaches deeper than validation
            payload[draw(st.sampled_from(sorted(payload)))] = draw(values)
            return payload
        for key in list(payload):
            action = draw(st.sampled_from(["keep", "keep", "drop", "replace"]))
            if action == "drop":
                del payload[key]
            elif action == "replace":
                payload[key] = draw(values)
        if draw(st.booleans()):
            payload[draw(st.one_of(st.sampled_from(FIELDS), st.text(max_size=10)))] = draw(values)
        return payload

    return st.one_of(values, generic, spoiled()) if template else st.one_of(values, generic)


class Caller:
    """One connected client, replaced when the server drops it; each call runs on the gateway's loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, url: str, token: str) -> None:
        self.loop, self.url, self.token = loop, url, token
        self.client: ChatClient | None = None
        self.acks: dict[str, dict[str, int]] = {}
        self.refused = 0
        self.bad: list[str] = []

    async def connected(self) -> ChatClient:
        if self.client is None or not self.client.sio.connected:
            if self.client is not None:
                await self.client.close()
            self.client = await ChatClient(self.url, self.token, source=loopback_source()).connect()
        return self.client

    async def _call(self, event: str, payload) -> None:
        client = await self.connected()
        call = asyncio.ensure_future(client.sio.call(event, payload, timeout=15))
        dropped = asyncio.ensure_future(client.disconnected.wait())
        done, _ = await asyncio.wait({call, dropped}, return_when=asyncio.FIRST_COMPLETED, timeout=20)
        dropped.cancel()
        if call in done and call.exception() is None:
            ack = call.result()
            ok = isinstance(ack, dict) and (
                ack.get("ok") is True
                or (ack.get("ok") is False and ack.get("error", {}).get("code") in CONTRACT_CODES)
            )
            outcome = (
                "ok" if isinstance(ack, dict) and ack.get("ok") else str(ack.get("error", {}).get("code"))
            )
            self.acks.setdefault(event, {}).setdefault(outcome, 0)
            self.acks[event][outcome] += 1
            if not ok:
                self.bad.append(f"{event} {str(payload)[:200]!r} -> {str(ack)[:300]}")
            return
        call.cancel()
        if client.disconnected.is_set() or isinstance(
            call.exception() if call.done() and not call.cancelled() else None,
            socketio.exceptions.BadNamespaceError,
        ):
            self.refused += 1  # the server dropped the socket: refused, then a fresh client
            await client.close()
            return
        self.bad.append(f"{event} {str(payload)[:200]!r} -> no answer")

    def call(self, event: str, payload) -> None:
        asyncio.run_coroutine_threadsafe(self._call(event, payload), self.loop).result(timeout=60)


def fuzz_events(caller: Caller, events: list[str], templates_by_event: dict[str, dict]) -> None:
    for event in events:
        fuzz_event(caller, event, templates_by_event.get(event, {}))


def fuzz_event(caller: Caller, event: str, template: dict) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        phases=[Phase.generate],
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(payload=payloads(template))
    def fuzz(payload):
        caller.call(event, payload)

    fuzz()


async def test_every_socket_event_answers_hostile_payloads(gateway, world):
    events = sorted(set(gateway.app[SIO].handlers["/"]) - LIFECYCLE)
    assert {"room:join", "message:send", "live:ask"} <= set(events), events
    handler = LogRecords()
    logging.getLogger().addHandler(handler)
    caller = Caller(asyncio.get_running_loop(), gateway.url, world["owner"].token)
    try:
        await asyncio.to_thread(fuzz_events, caller, events, templates(world))
        gc.collect()  # an unretrieved task exception is logged when collected
    finally:
        logging.getLogger().removeHandler(handler)
        if caller.client is not None:
            await caller.client.close()
    calls = sum(sum(c.values()) for c in caller.acks.values()) + caller.refused
    print(
        f"\nsocket fuzz: {calls} calls over {len(events)} events, {caller.refused} refused (socket dropped); "
        f"acks {caller.acks}"
    )
    assert not caller.bad, "\n".join(caller.bad[:20])
    assert set(caller.acks) == set(events), set(events) - set(caller.acks)
    tracebacks = [
        f"{r.name}: {r.getMessage()[:300]}"
        for r in handler.records
        if r.exc_info or "Traceback" in r.getMessage()
    ]
    assert not tracebacks, tracebacks
    # The gateway still serves: a fresh client joins and reads (its sends may be rate limited by now).
    client = await ChatClient(gateway.url, world["owner"].token, source=loopback_source()).connect()
    try:
        await client.join(world["room_id"])
        ack = await client.call("message:history", {"room_id": world["room_id"]})
        assert ack["ok"], ack
    finally:
        await client.close()
