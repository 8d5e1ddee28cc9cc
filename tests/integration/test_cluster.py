"""Node loss on a real multi-node Ray cluster (issue 15, must-show 2).

The test starts a head (no CPU: the GCS alone) and two worker nodes offering the shard resource, each a
``clubhub ray-node`` in a session of its own on loopback, and two gateway processes joining that cluster
(sharing the session's PostgreSQL, MongoDB and Redis). It reads from ``/metrics`` which worker node hosts
the room shards, makes rooms whose shard sits there, and has members on both gateways chat in them.
Mid-stream (sends in flight) it SIGKILLs that node's whole process group: no clean shutdown, nothing told
to the GCS. Ray notices the dead raylet (health checks every second, three failures) and restarts the
detached shards on the surviving node.

Every member behaves like a real client: a send that was not acked (``unavailable``, a timeout) is sent
again with the same ``client_id``; a dropped socket reconnects and rejoins with ``since_seq``, the last
seq it holds without a gap. The audit: every acked message is stored once with its acked seq, seqs run
1..N without a gap across the kill, and every member ends up with exactly 1..N in order, each acked
message once. The time from the kill to the first successful send is measured and printed (``-s``) and
recorded as a test property; only a generous deadline bounds it.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter

import aiohttp
import socketio
from prometheus_client.parser import text_string_to_metric_families
from pymongo import MongoClient
from support.chat import ChatClient, GatewayProcess
from support.cluster import HEALTH_CHECK_FAILURES, HEALTH_CHECK_PERIOD_MS, LocalCluster
from support.members import Api, client_session, make_member
from support.wait import wait_for

from actors.hashing import jump_hash
from storage.mongo import MESSAGES, database_name

ROOMS = 2  # rooms whose shard sits on the node that dies
SENDS = 50  # per member; two members per room, one on each gateway
SEND_GAP_S = 0.15  # a member's pace: the stream is still flowing when the node dies
KILL_AT_ACKED = 60  # of ROOMS * 2 * SENDS
CALL_TIMEOUT_S = 5.0  # a client gives up waiting for an ack after this and resends
DEADLINE_S = 120.0  # first member connected to audit; a hang fails instead of blocking CI


class Unacked(Exception):
    """A send got no ack: a timeout, or its socket dropped while waiting."""


class Member:
    """One member in one room as a real client (see the module docstring). ``received`` is its view of
    the room: what was delivered over all its sockets, in arrival order, a gapped tail dropped on rejoin."""

    def __init__(self, name: str, token: str, room_id: int, url: str) -> None:
        self.name, self.token, self.room_id, self.url = name, token, room_id, url
        self.received: list[dict] = []
        self.client: ChatClient | None = None
        self.acked: dict[str, int] = {}  # client_id -> seq of its ack
        self.ack_times: list[tuple[float, float]] = []  # (send started, acked), monotonic
        self.errors: Counter = Counter()  # why sends went unacked
        self.connects = 0
        self.truncated = False

    def contiguous(self) -> int:
        """The highest seq s such that this member holds 1..s (what a client resumes from)."""
        held = {m["seq"] for m in self.received}
        s = 0
        while s + 1 in held:
            s += 1
        return s

    def connected(self) -> bool:
        c = self.client
        return c is not None and c.sio.connected and not c.disconnected.is_set()

    async def ensure_connected(self, deadline: float) -> ChatClient:
        delay = 0.1
        while not self.connected():
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} could not rejoin before the deadline")
            await self.drop()
            since = self.contiguous()
            # A client drops what it cannot place (after a gap) and asks for everything past ``since``.
            self.received[:] = [m for m in self.received if m["seq"] <= since]
            client = ChatClient(self.url, self.token)
            client.messages[self.room_id] = self.received  # one view across reconnects
            try:
                await client.connect()
                mark = len(self.received)  # live messages after the join ack land after this point
                ack = await client.call(
                    "room:join", {"room_id": self.room_id, "since_seq": since}, timeout=CALL_TIMEOUT_S
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

    async def send(self, client: ChatClient, client_id: str, text: str) -> dict:
        """An ack, or ``Unacked`` when none comes (timeout, or the socket dropped meanwhile)."""
        data = {"room_id": self.room_id, "client_id": client_id, "text": text}
        call = asyncio.ensure_future(client.call("message:send", data, timeout=CALL_TIMEOUT_S))
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

    async def send_all(self, deadline: float) -> None:
        for i in range(SENDS):
            client_id, text = f"{self.name}-{i}", f"{self.name} says {i}"
            delay = 0.1
            while True:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{self.name}: {client_id} not acked before the deadline")
                client = await self.ensure_connected(deadline)
                started = time.monotonic()
                try:
                    ack = await self.send(client, client_id, text)
                except Unacked as exc:
                    why = str(exc)
                else:
                    if ack["ok"]:
                        self.acked[client_id] = ack["seq"]
                        self.ack_times.append((started, time.monotonic()))
                        break
                    why = ack["error"]["code"]
                    if why == "rate_limited":  # not a failure: the client waits, as told
                        await asyncio.sleep(0.2)
                        continue
                    # The contract's refusal for a send that may be retried; anything else is a bug.
                    assert why == "unavailable", (client_id, ack)
                self.errors[why] += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
            await asyncio.sleep(SEND_GAP_S)


async def _close(client: ChatClient) -> None:
    try:
        await asyncio.wait_for(client.close(), 5)
    except (TimeoutError, socketio.exceptions.SocketIOError, OSError):
        pass


async def shard_nodes(url: str) -> dict[tuple[str, int], str]:
    """(kind, shard) -> the Ray node id hosting it, as the gateway's ``/metrics`` shows it."""
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as resp:
        assert resp.status == 200, await resp.text()
        text = await resp.text()
    return {
        (s.labels["kind"], int(s.labels["shard"])): s.labels["node"]
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "clubhub_shard_node"
    }


def stored_messages(services, settings, room_id: int) -> list[dict]:
    url = services.urls()["mongo"]
    client = MongoClient(url, serverSelectionTimeoutMS=10_000)
    try:
        coll = client[database_name(url, settings.mongo_db)][MESSAGES]
        return list(coll.find({"room_id": room_id}, {"seq": 1, "client_id": 1, "text": 1}).sort("seq", 1))
    finally:
        client.close()


async def rooms_on_shards(
    url: str, owner, shards: set[int], room_shards: int, count: int
) -> tuple[int, list]:
    """A public club of ``owner`` with ``count`` rooms whose shard (by the gateway's jump hash) is one of
    ``shards``: its general room if it qualifies, then new rooms until there are enough."""
    async with client_session(url) as http:
        api = Api(http, owner)
        _, club = await api.call(
            "POST",
            "/clubs",
            {"name": f"node loss {uuid.uuid4().hex[:8]}", "visibility": "public"},
            expect=201,
        )
        _, listed = await api.call("GET", f"/clubs/{club['id']}/rooms", expect=200)
        rooms = [r["id"] for r in listed["rooms"] if jump_hash(r["id"], room_shards) in shards]
        for i in range(40):
            if len(rooms) >= count:
                break
            _, room = await api.call("POST", f"/clubs/{club['id']}/rooms", {"name": f"room-{i}"}, expect=201)
            if jump_hash(room["id"], room_shards) in shards:
                rooms.append(room["id"])
    assert len(rooms) >= count, "no room hashed to the shards on the chosen node"
    return club["id"], rooms[:count]


async def test_node_loss_loses_no_acked_message(settings, services, smtp, tmp_path, record_property):
    cluster = LocalCluster(tmp_path / "cluster", workers=2)
    gateways: list[GatewayProcess] = []
    members: list[Member] = []
    try:
        started = time.monotonic()
        await asyncio.to_thread(cluster.start)
        cluster_up = time.monotonic()
        env = {**cluster.gateway_env(), "CLUBHUB_SMTP_URL": smtp.url}
        gateways = [
            GatewayProcess(settings, services, cluster.address, tmp_path, extra_env=env) for _ in range(2)
        ]
        await asyncio.gather(*(g.ready() for g in gateways))
        gateways_up = time.monotonic()

        # -- where the shards are, and which node dies ---------------------------------------------
        placement = await shard_nodes(gateways[0].url)
        workers = {n.node_id for n in cluster.worker_nodes}
        assert placement and set(placement.values()) <= workers, (placement, workers)
        room_shards = sorted(shard for kind, shard in placement if kind == "room")
        victim = cluster.node_of(placement[("room", room_shards[0])])
        survivor = next(n for n in cluster.worker_nodes if n is not victim)
        doomed = {
            shard for (kind, shard), node in placement.items() if kind == "room" and node == victim.node_id
        }

        people = [await make_member(gateways[0].url, smtp, f"member {i}") for i in range(2 * ROOMS)]
        club_id, rooms = await rooms_on_shards(gateways[0].url, people[0], doomed, len(room_shards), ROOMS)
        for p in people[1:]:
            async with client_session(gateways[1].url) as http:
                await Api(http, p).call("POST", f"/clubs/{club_id}/join", expect=200)
        # Per room: one member on each gateway.
        members = [
            Member(f"r{r}-gw{g}", people[2 * r + g].token, room_id, gateways[g].url)
            for r, room_id in enumerate(rooms)
            for g in (0, 1)
        ]
        deadline = time.monotonic() + DEADLINE_S
        for m in members:
            await m.ensure_connected(deadline)

        def acked() -> int:
            return sum(len(m.acked) for m in members)

        streaming = time.monotonic()
        senders = [asyncio.create_task(m.send_all(deadline)) for m in members]
        try:

            async def enough():
                assert not any(t.done() and t.exception() for t in senders), [t.exception() for t in senders]
                return acked() >= KILL_AT_ACKED

            await wait_for(enough, timeout=max(1.0, deadline - time.monotonic()))
            acked_at_kill = acked()
            await asyncio.to_thread(victim.kill)
            killed_at = victim.killed_at
            assert killed_at is not None

            # The doomed shards come back on the surviving node (listed by both gateways' /metrics).
            async def moved():
                placements = [await shard_nodes(g.url) for g in gateways]
                return (
                    all(p.get(("room", s)) == survivor.node_id for p in placements for s in doomed)
                    and time.monotonic()
                )

            moved_at = await wait_for(moved, timeout=max(1.0, deadline - time.monotonic()), interval=0.25)
            await asyncio.gather(*senders)
        finally:
            for task in senders:
                task.cancel()
            await asyncio.gather(*senders, return_exceptions=True)

        # Every member reconnects once more and asks for what it is missing.
        for m in members:
            await m.drop()
            await m.ensure_connected(deadline)

        # -- the audit -----------------------------------------------------------------------------
        first_ack_after = min(done for m in members for begun, done in m.ack_times if begun >= killed_at)
        recovery_s = first_ack_after - killed_at
        report = {
            "recovery_s": round(recovery_s, 2),
            "shards_moved_s": round(moved_at - killed_at, 2),
            "health_check": f"{HEALTH_CHECK_PERIOD_MS} ms x {HEALTH_CHECK_FAILURES}",
            "acked_at_kill": acked_at_kill,
            "acked": acked(),
            "errors": dict(sum((m.errors for m in members), Counter())),
            "connects": {m.name: m.connects for m in members},
            "doomed_shards": sorted(doomed),
            "cluster_up_s": round(cluster_up - started, 1),
            "gateways_up_s": round(gateways_up - cluster_up, 1),
            "members_ready_s": round(streaming - gateways_up, 1),
        }
        print(f"\nnode loss: kill to first successful send {recovery_s:.2f} s; {json.dumps(report)}")
        record_property("node_loss", json.dumps(report))
        (cluster.root / "node-loss.json").write_text(json.dumps(report, indent=2))

        for room_id in rooms:
            in_room = [m for m in members if m.room_id == room_id]
            stored = stored_messages(services, settings, room_id)
            acks = {cid: seq for m in in_room for cid, seq in m.acked.items()}
            assert len(acks) == len(in_room) * SENDS, (
                "every send is acked in the end (resent, same client_id)"
            )
            seqs = [doc["seq"] for doc in stored]
            assert seqs == list(range(1, len(stored) + 1)), (
                "stored seqs run 1..N without a gap across the kill"
            )
            seq_of = {doc["client_id"]: doc["seq"] for doc in stored}
            assert len(seq_of) == len(stored), "a client_id was stored twice"
            assert set(seq_of) == set(acks), "stored exactly what was acked"
            wrong = {cid: (seq, seq_of[cid]) for cid, seq in acks.items() if seq_of[cid] != seq}
            assert wrong == {}, "an ack named another seq than the stored one"
            expected = [(doc["seq"], doc["text"]) for doc in stored]
            for m in in_room:
                assert not m.truncated, f"{m.name} was away for more than the replay window"
                got = [(msg["seq"], msg["text"]) for msg in m.received]
                dup = [s for s, n in Counter(s for s, _ in got).items() if n > 1]
                assert dup == [], f"{m.name} got seqs {dup[:10]} twice"
                assert got == expected, f"{m.name}: got {len(got)} messages, expected {len(expected)}"
        assert recovery_s < DEADLINE_S
    finally:
        for m in members:
            await m.drop()
        for g in gateways:
            await asyncio.to_thread(g.stop)
        await asyncio.to_thread(cluster.stop)
