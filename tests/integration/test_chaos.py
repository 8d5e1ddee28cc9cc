"""Faults, with nothing lost (issue 11, must-show 4).

Members on two gateways (the session's in-process one and a ``clubhub run`` process) send at least
1,000 messages to one room while the test kills, in turn: the room's shard actor (Ray restarts it),
the second gateway (SIGKILL; a new process takes its members), Redis for a few seconds and the
MongoDB-wire server for a few seconds. Every member behaves like a real client: a send that was not
acked (``unavailable``, a timeout, a dropped socket) is sent again with the same ``client_id``, and a
dropped socket reconnects and rejoins with ``since_seq`` = the highest seq it holds.

The audit then compares what was acked with what MongoDB stores and with what every member received
(after one last reconnect with ``since_seq``): every acked message stored once and delivered once to
every member, in order, seqs 1..N without a gap; every send that once went unacked stored at most once
and settled by its resend with the stored seq.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import ray
import socketio
from pymongo import MongoClient
from support.chat import ChatClient, GatewayProcess, make_club_room
from support.members import make_member
from support.wait import wait_for

from storage.mongo import MESSAGES, database_name

SENDERS_PER_GATEWAY = 3
MESSAGES_PER_SENDER = 170  # 6 x 170 = 1,020 sends
CALL_TIMEOUT_S = 5.0  # a client gives up waiting for an ack after this and resends
OUTAGE_S = 3.0  # how long Redis and MongoDB stay down
DEADLINE_S = 240.0  # the whole run, faults included: a hang fails instead of blocking CI


class Unacked(Exception):
    """A send got no ack: a timeout, or its socket dropped while waiting."""


class Participant:
    """One member as a real client: resends unacked messages with the same client_id, reconnects and
    rejoins with since_seq after a disconnect. ``received`` is everything delivered to this member over
    all of its sockets, in arrival order."""

    def __init__(self, name: str, token: str, room_id: int, url, timeline: list) -> None:
        self.name, self.token, self.room_id = name, token, room_id
        self.timeline = timeline  # shared: (when, what) of every unacked send, for the report
        self.url = url  # () -> the URL of the gateway this member talks to now
        self.received: list[dict] = []
        self.client: ChatClient | None = None
        self.acked: dict[str, int] = {}  # client_id -> seq of its ack
        self.unacked: set[str] = set()  # client_ids that went unacked at least once
        self.errors: Counter = Counter()  # why sends went unacked
        self.connects = 0
        self.truncated = False

    def highest(self) -> int:
        return self.received[-1]["seq"] if self.received else 0

    def connected(self) -> bool:
        c = self.client
        return c is not None and c.sio.connected and not c.disconnected.is_set()

    async def ensure_connected(self, deadline: float) -> ChatClient:
        delay = 0.1
        while not self.connected():
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} could not reconnect before the deadline")
            await self.drop()
            client = ChatClient(self.url(), self.token)
            client.messages[self.room_id] = self.received  # one inbox across reconnects
            try:
                await client.connect()
                mark = len(self.received)  # live messages after the join ack land after this point
                ack = await client.call(
                    "room:join",
                    {"room_id": self.room_id, "since_seq": self.highest()},
                    timeout=CALL_TIMEOUT_S,
                )
            except (TimeoutError, socketio.exceptions.SocketIOError, OSError) as exc:
                self.errors[f"connect:{type(exc).__name__}"] += 1
                await _close(client)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            if not ack.get("ok"):
                self.errors[f"join:{ack['error']['code']}"] += 1
                assert ack["error"]["code"] == "unavailable", ack
                await _close(client)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            self.truncated |= ack["truncated"]
            self.received[mark:mark] = ack["missed"]
            self.client = client
            self.connects += 1
        return self.client

    async def drop(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            await _close(client)

    async def call(self, client: ChatClient, event: str, data: dict) -> dict:
        """An ack, or ``Unacked`` when none comes (timeout, or the socket dropped meanwhile)."""
        call = asyncio.ensure_future(client.call(event, data, timeout=CALL_TIMEOUT_S))
        dropped = asyncio.ensure_future(client.disconnected.wait())
        try:
            await asyncio.wait({call, dropped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            dropped.cancel()
        if not call.done():
            call.cancel()
            raise Unacked("disconnected")
        try:
            return call.result()
        except (TimeoutError, socketio.exceptions.SocketIOError) as exc:
            raise Unacked(type(exc).__name__) from None

    async def send_all(self, count: int, deadline: float) -> None:
        for i in range(count):
            client_id, text = f"{self.name}-{i}", f"{self.name} says {i}"
            delay = 0.1
            while True:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{self.name}: {client_id} not acked before the deadline")
                client = await self.ensure_connected(deadline)
                try:
                    ack = await self.call(
                        client,
                        "message:send",
                        {"room_id": self.room_id, "client_id": client_id, "text": text},
                    )
                except Unacked as exc:
                    why = str(exc)
                else:
                    if ack["ok"]:
                        self.acked[client_id] = ack["seq"]
                        break
                    why = ack["error"]["code"]
                    if why == "rate_limited":  # not a failure: the client waits, as told
                        await asyncio.sleep(0.2)
                        continue
                    assert why == "unavailable", (client_id, ack)
                self.unacked.add(client_id)
                self.errors[why] += 1
                self.timeline.append((time.monotonic(), why))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)


async def _close(client: ChatClient) -> None:
    try:
        await asyncio.wait_for(client.close(), 5)
    except (TimeoutError, socketio.exceptions.SocketIOError, OSError):
        pass


async def test_chaos_nothing_acked_is_lost_or_duplicated(
    gateway, smtp, settings, services, ray_cluster, tmp_path
):
    names = [f"gw{g}-{i}" for g in (1, 2) for i in range(SENDERS_PER_GATEWAY)]
    members = [await make_member(gateway.url, smtp, name) for name in names]
    room = await make_club_room(members[0].user_id, [m.user_id for m in members[1:]])
    second = GatewayProcess(settings, services, ray_cluster, tmp_path)
    processes = [second]  # every gateway process this test started, stopped at the end whatever happens
    gateways = {"gw1": gateway.url}
    stopped_services = []
    people: list[Participant] = []
    try:
        await second.ready()
        gateways["gw2"] = second.url
        timeline: list[tuple[float, str]] = []
        people = [
            Participant(n, m.token, room.id, lambda g=n[:3]: gateways[g], timeline)
            for n, m in zip(names, members)
        ]
        deadline = time.monotonic() + DEADLINE_S
        for p in people:
            await p.ensure_connected(deadline)

        def acked() -> int:
            return sum(len(p.acked) for p in people)

        async def acked_at_least(n: int) -> None:
            async def enough():
                return acked() >= n

            await wait_for(enough, timeout=max(1.0, deadline - time.monotonic()), interval=0.1)

        senders = [asyncio.create_task(p.send_all(MESSAGES_PER_SENDER, deadline)) for p in people]
        faults: dict[str, dict] = {}

        class fault:
            """Records a fault's window: how many sends were acked meanwhile and what went unacked."""

            def __init__(self, name: str) -> None:
                self.name = name

            async def __aenter__(self):
                self.start, self.acked = time.monotonic(), acked()
                return self

            async def outage(self, service) -> None:
                """Stop a service for OUTAGE_S; counts the acks while it was down."""
                stopped_services.append(service)
                await asyncio.to_thread(service.stop)
                before = acked()
                await asyncio.sleep(OUTAGE_S)
                self.while_down = acked() - before
                await asyncio.to_thread(service.start)
                stopped_services.remove(service)

            async def __aexit__(self, *exc):
                # Until the next ack after the fault: what the fault cost is what went unacked until then.
                if exc[0] is None:
                    await acked_at_least(acked() + 1)
                end = time.monotonic()
                faults[self.name] = {
                    "at_acked": self.acked,
                    "acked_meanwhile": acked() - self.acked,
                    **({"acked_while_down": self.while_down} if hasattr(self, "while_down") else {}),
                    "unacked": dict(Counter(w for t, w in timeline if self.start <= t <= end)),
                }

        try:
            # 1. The room's shard actor dies; Ray restarts it (and retries the calls in flight).
            await acked_at_least(120)
            async with fault("room shard killed"):
                ray.kill(gateway.app[_chat_key()].room_shard(room.id), no_restart=False)

            # 2. The second gateway dies with SIGKILL; a new process takes over its members.
            await acked_at_least(acked() + 150)
            third = GatewayProcess(settings, services, ray_cluster, tmp_path)
            processes.append(third)
            await third.ready()
            async with fault("gateway killed"):
                second.proc.kill()
                second.proc.wait(10)
                second, gateways["gw2"] = third, third.url

            # 3. Redis is down for a few seconds (pubsub, heartbeats, token checks all fail meanwhile).
            await acked_at_least(acked() + 150)
            async with fault("redis down") as f:
                await f.outage(services.embedded["redis"])

            # 4. The MongoDB-wire server is down for a few seconds (every write fails meanwhile).
            await acked_at_least(acked() + 150)
            async with fault("mongo down") as f:
                await f.outage(services.embedded["mongo"])

            await asyncio.gather(*senders)
        finally:
            for task in senders:
                task.cancel()
            await asyncio.gather(*senders, return_exceptions=True)

        # Every member reconnects once more and asks for what it is missing.
        for p in people:
            await p.drop()
            await p.ensure_connected(deadline)

        # -- the audit ---------------------------------------------------------------------------
        stored = _stored(services, settings, room.id)
        acks = {cid: seq for p in people for cid, seq in p.acked.items()}
        unacked = {cid for p in people for cid in p.unacked}
        sent = len(people) * MESSAGES_PER_SENDER
        by_client_id = Counter(doc["client_id"] for doc in stored)
        seqs = [doc["seq"] for doc in stored]
        report = {
            "sent": sent,
            "acked": len(acks),
            "unacked_then_settled": len(unacked & set(acks)),
            "stored": len(stored),
            "delivered": {p.name: len(p.received) for p in people},
            "faults": faults,
            "errors": dict(sum((p.errors for p in people), Counter())),
            "connects": {p.name: p.connects for p in people},
        }
        print("\nchaos audit:", report)

        assert len(acks) == sent, "every send is acked in the end (resent with the same client_id)"
        assert unacked <= set(acks), "every unacked send was settled by a resend"
        assert seqs == list(range(1, len(stored) + 1)), "stored seqs are gapless and unique"
        assert [cid for cid, n in by_client_id.items() if n > 1] == [], "a client_id was stored twice"
        seq_of = {doc["client_id"]: doc["seq"] for doc in stored}
        assert set(seq_of) == set(acks), "stored exactly what was acked (nothing else, nothing less)"
        wrong = {cid: (seq, seq_of[cid]) for cid, seq in acks.items() if seq_of[cid] != seq}
        assert wrong == {}, "an ack (or a resend's ack) named another seq than the stored one"
        expected = [(doc["seq"], doc["text"]) for doc in stored]
        for p in people:
            assert not p.truncated, f"{p.name} was away for more than the replay window"
            got = [(m["seq"], m["text"]) for m in p.received]
            assert got == expected, (p.name, _first_difference(got, expected))
    finally:
        for svc in stopped_services:
            await asyncio.to_thread(svc.start)
        for p in people:
            await p.drop()
        for process in processes:
            process.stop()


def _chat_key():
    from gateway.http.keys import ACTORS

    return ACTORS


def _stored(services, settings, room_id: int) -> list[dict]:
    url = services.urls()["mongo"]
    client = MongoClient(url, serverSelectionTimeoutMS=10_000)
    try:
        coll = client[database_name(url, settings.mongo_db)][MESSAGES]
        return list(coll.find({"room_id": room_id}, {"seq": 1, "client_id": 1, "text": 1}).sort("seq", 1))
    finally:
        client.close()


def _first_difference(got: list, expected: list) -> str:
    for i, (a, b) in enumerate(zip(got, expected)):
        if a != b:
            return f"at {i}: got {a}, expected {b}; got {len(got)} messages, expected {len(expected)}"
    dup = [s for s, n in Counter(s for s, _ in got).items() if n > 1]
    return f"got {len(got)} messages, expected {len(expected)}; duplicated seqs {dup[:10]}"


async def test_messages_stored_while_redis_is_down_reach_members_of_a_quiet_room(gateway, smtp, services):
    """Redis down: sends are still stored and acked, but their publish fails. Once Redis is back, a
    member that stayed connected gets them without anyone sending again (the shard publishes them
    late, or its gateway sees it is behind and makes it resume with since_seq)."""
    ada, bob = await make_member(gateway.url, smtp, "Ada"), await make_member(gateway.url, smtp, "Bob")
    room = await make_club_room(ada.user_id, [bob.user_id])
    timeline: list = []
    a, b = (
        Participant(n, m.token, room.id, lambda: gateway.url, timeline) for n, m in (("a", ada), ("b", bob))
    )
    deadline = time.monotonic() + 120
    redis = services.embedded["redis"]
    try:
        await a.send_all(1, deadline)
        await b.ensure_connected(deadline)
        await asyncio.to_thread(redis.stop)
        try:
            for i in range(3):
                ack = await a.call(
                    await a.ensure_connected(deadline),
                    "message:send",
                    {"room_id": room.id, "client_id": f"down-{i}", "text": f"while down {i}"},
                )
                assert ack["ok"], ack  # MongoDB is up: stored, hence acked
        finally:
            await asyncio.to_thread(redis.start)

        async def caught_up():
            await b.ensure_connected(deadline)  # a real client reconnects when dropped
            return len(b.received) >= 4

        await wait_for(caught_up, timeout=30)
        assert [m["seq"] for m in b.received] == [1, 2, 3, 4]
    finally:
        await a.drop()
        await b.drop()
