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
message once; members that never rejoined got the messages sent after the restart live (the restarted
shards found the rooms' gateways). A live session hosted by the same node, with hands, a speaker, questions,
upvotes, an answer, a poll's votes and a pin, comes back with exactly that state (every change was stored
before it was broadcast), keeps its rules (a second vote is refused) and its version continues with no gap
for the participants who never re-joined. The time from the kill to the first successful send is measured,
printed (``-s``), recorded as a test property and in ``cluster/node-loss.json``; only a generous deadline
bounds it. Marked ``cluster`` (``pytest -m cluster`` selects it, ``-m "not cluster"`` leaves it out).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
import socketio
from prometheus_client.parser import text_string_to_metric_families
from pymongo import MongoClient
from redis import asyncio as redis_async
from support.chat import ChatClient, GatewayProcess, LiveView
from support.cluster import HEALTH_CHECK_FAILURES, HEALTH_CHECK_PERIOD_MS, LocalCluster
from support.members import Api, client_session, make_member
from support.wait import budget, wait_for

from actors.hashing import jump_hash
from storage import keys
from storage.mongo import MESSAGES, database_name

pytestmark = pytest.mark.cluster

ROOMS = 2  # rooms whose shard sits on the node that dies
SENDS = 50  # per member; two members per room, one on each gateway
SEND_GAP_S = 0.15  # a member's pace: the stream is still flowing when the node dies
KILL_AT_ACKED = 60  # of ROOMS * 2 * SENDS
CALL_TIMEOUT_S = 5.0  # a client gives up waiting for an ack after this and resends
DEADLINE_S = 120.0  # first member connected to audit; a hang fails instead of blocking CI
# The whole scenario, and the cleanup after it, each fail with every task's stack when they overrun
# (well inside the suite's 900 s timeout, whose dump shows threads only, never the await that hung).
SCENARIO_BUDGET_S = 540.0
TEARDOWN_BUDGET_S = 240.0


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
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as http, http.get(f"{url}/metrics") as resp:
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


async def live_event_on_shards(url: str, host, club_id: int, shards: set[int], room_shards: int) -> int:
    """An event of the club, live, whose live room's shard is one of ``shards`` (a live room is made when
    the session starts: events are started, and ended again, until one lands there)."""
    async with client_session(url) as http:
        api = Api(http, host)
        for i in range(20):
            start = datetime.now(UTC) + timedelta(minutes=5 + i)
            _, event = await api.call(
                "POST",
                f"/clubs/{club_id}/events",
                {
                    "title": f"AMA {i}",
                    "starts_at": start.isoformat(),
                    "ends_at": (start + timedelta(hours=1)).isoformat(),
                },
                expect=201,
            )
            _, started = await api.call("POST", f"/events/{event['id']}/live/start", expect=200)
            if jump_hash(started["state"]["room_id"], room_shards) in shards:
                return event["id"]
            await api.call("POST", f"/events/{event['id']}/live/end", expect=200)
    raise AssertionError("no live room hashed to the shards on the chosen node")


async def ok(client: ChatClient, event: str, data: dict) -> dict:
    ack = await client.call(event, data)
    assert ack["ok"], (event, ack)
    return ack


class HeartbeatWatch:
    """Which gateway heartbeat keys (alive before the kill) went missing while the cluster recovered: a
    shard that finds one missing takes the gateway for dead and drops its sockets from every room."""

    def __init__(self, redis_url: str) -> None:
        self.redis = redis_async.from_url(redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self.lapses: Counter = Counter()
        self.task: asyncio.Task | None = None

    async def _keys(self) -> set[bytes]:
        return {k async for k in self.redis.scan_iter(match=keys.GATEWAY_HEARTBEAT_PREFIX + "*")}

    async def start(self) -> None:
        alive = await self._keys()

        async def watch() -> None:
            while True:
                for key in alive - await self._keys():
                    self.lapses[key.decode()] += 1
                await asyncio.sleep(0.25)

        self.task = asyncio.create_task(watch())

    async def stop(self) -> dict[str, int]:
        """The lapses seen (key -> polls it was missing in); idempotent."""
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None
            await self.redis.aclose()
        return dict(self.lapses)


class Stage:
    """A live session's participants, each a socket of its own with a ``LiveView`` kept current by the
    ``live:update`` deltas, as a client applies them."""

    def __init__(self, eid: int) -> None:
        self.eid = eid
        self.sockets: dict[str, ChatClient] = {}
        self.views: dict[str, LiveView] = {}

    async def enter(self, name: str, url: str, token: str) -> None:
        client = self.sockets[name] = await ChatClient(url, token).connect()
        view = self.views[name] = LiveView()
        client.sio.on("live:update", view.apply)
        await self.join(name)

    async def join(self, name: str) -> dict:
        ack = await ok(self.sockets[name], "live:join", {"event_id": self.eid})
        self.views[name].reset(ack["state"])
        return ack["state"]

    async def act(self, name: str, event: str, **data) -> dict:
        return await ok(self.sockets[name], event, {"event_id": self.eid, **data})

    async def everyone_at(self, version: int) -> None:
        async def there():
            return all(v.state is not None and v.state["version"] == version for v in self.views.values())

        await wait_for(there, timeout=30)

    async def close(self) -> None:
        for client in self.sockets.values():
            await _close(client)


async def test_node_loss_loses_no_acked_message(settings, services, smtp, tmp_path, record_property):
    cluster = LocalCluster(tmp_path / "cluster", workers=2)
    gateways: list[GatewayProcess] = []
    members: list[Member] = []
    stage: Stage | None = None
    watching: list[HeartbeatWatch] = []
    try:
        async with budget(SCENARIO_BUDGET_S, "the node-loss scenario"):
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
                shard
                for (kind, shard), node in placement.items()
                if kind == "room" and node == victim.node_id
            }

            people = [await make_member(gateways[0].url, smtp, f"member {i}") for i in range(2 * ROOMS)]
            club_id, rooms = await rooms_on_shards(
                gateways[0].url, people[0], doomed, len(room_shards), ROOMS
            )
            for p in people[1:]:
                async with client_session(gateways[1].url) as http:
                    await Api(http, p).call("POST", f"/clubs/{club_id}/join", expect=200)
            # A live session hosted by a doomed shard, with every kind of state: hands (in the order raised), a
            # speaker, questions with upvotes and an answer, a poll with votes, a pinned announcement.
            eid = await live_event_on_shards(gateways[0].url, people[0], club_id, doomed, len(room_shards))
            stage = Stage(eid)
            for i, name in enumerate(("host", "ann", "ben", "cat")):
                await stage.enter(name, gateways[i % 2].url, people[i].token)
            ann, ben, cat = (p.user_id for p in people[1:4])
            await stage.act("cat", "live:hand", raised=True)
            await stage.act("ben", "live:hand", raised=True)
            await stage.act("host", "live:promote", user_id=ann, role="speaker")
            q1 = (await stage.act("ben", "live:ask", text="What's next?"))["question_id"]
            q2 = (await stage.act("cat", "live:ask", text="Any demos?"))["question_id"]
            for voter in ("ann", "cat"):
                await stage.act(voter, "live:upvote", question_id=q2)
            await stage.act("ann", "live:upvote", question_id=q1)
            await stage.act("host", "live:answer", question_id=q1)
            poll = await stage.act(
                "host", "live:poll", question="Tabs or spaces?", options=["tabs", "spaces"]
            )
            p1 = poll["poll_id"]
            await stage.act("ann", "live:vote", poll_id=p1, option=1)
            await stage.act("ben", "live:vote", poll_id=p1, option=1)
            await stage.act("cat", "live:vote", poll_id=p1, option=0)
            await stage.act("host", "live:pin", text="Slides at example.org")
            before = await stage.join("host")
            assert before["hands"] == [cat, ben] and before["speakers"] == [ann]
            assert [(q["question_id"], q["votes"], q["answered"]) for q in before["questions"]] == [
                (q2, 2, False),
                (q1, 1, True),
            ]
            assert [p["tallies"] for p in before["polls"]] == [[1, 2]]
            assert before["pinned"] == "Slides at example.org"
            await stage.everyone_at(before["version"])

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
                    assert not any(t.done() and t.exception() for t in senders), [
                        t.exception() for t in senders
                    ]
                    return acked() >= KILL_AT_ACKED

                await wait_for(enough, timeout=max(1.0, deadline - time.monotonic()))
                acked_at_kill = acked()
                beats = HeartbeatWatch(services.urls()["redis"])
                await beats.start()
                watching.append(beats)
                await asyncio.to_thread(victim.kill)
                killed_at = victim.killed_at
                assert killed_at is not None

                # The doomed shards come back on the surviving node (listed by both gateways' /metrics).
                async def moved():
                    try:
                        placements = [await shard_nodes(g.url) for g in gateways]
                    except (aiohttp.ClientError, TimeoutError):
                        return False  # a scrape that did not answer in time is asked again
                    return (
                        all(p.get(("room", s)) == survivor.node_id for p in placements for s in doomed)
                        and time.monotonic()
                    )

                moved_at = await wait_for(moved, timeout=max(1.0, deadline - time.monotonic()), interval=0.25)
                await asyncio.gather(*senders)
                lapsed = await beats.stop()
            finally:
                for task in senders:
                    task.cancel()
                await asyncio.gather(*senders, return_exceptions=True)

            # Live delivery resumed without any rejoin: the restarted shards found the rooms' gateways (kept in
            # Redis). A member whose socket the gateway dropped at a gap (a batch stored but never published
            # before the kill) resumes below, like every other member.
            still_connected = [m for m in members if m.connected()]
            for m in still_connected:
                top = max(
                    seq for other in members if other.room_id == m.room_id for seq in other.acked.values()
                )

                async def has_top(m=m, top=top):
                    return any(msg["seq"] == top for msg in m.received)

                try:
                    await wait_for(has_top, timeout=30)
                except AssertionError:
                    tail = [msg["seq"] for msg in m.received][-10:]
                    raise AssertionError(
                        f"{m.name}, still connected, never got seq {top} live (holds ...{tail}); gateway "
                        f"heartbeats missing during the recovery: {lapsed}"
                    ) from None

            # Every member reconnects once more and asks for what it is missing.
            for m in members:
                await m.drop()
                await m.ensure_connected(deadline)

            # The live session restarted with its shard: re-joiners on both gateways get exactly the state they
            # had; its rules and order hold, and its version continues with no gap for those who never re-joined.
            for name in ("cat", "ann"):
                assert await stage.join(name) == before, name
            refused = await stage.sockets["ben"].call(
                "live:vote", {"event_id": eid, "poll_id": p1, "option": 0}
            )
            assert refused["error"]["code"] == "conflict", refused  # one vote per member, remembered
            await stage.act("host", "live:close_poll", poll_id=p1)
            await stage.act("ben", "live:upvote", question_id=q2)
            q3 = (await stage.act("cat", "live:ask", text="And after that?"))["question_id"]
            await stage.act("cat", "live:hand", raised=False)
            after = await stage.join("ann")
            assert after["version"] == before["version"] + 4
            assert after["hands"] == [ben] and after["speakers"] == [ann]
            assert [(q["question_id"], q["votes"]) for q in after["questions"]] == [(q2, 3), (q1, 1), (q3, 0)]
            assert [(p["tallies"], p["closed"]) for p in after["polls"]] == [([1, 2], True)]
            assert after["pinned"] == "Slides at example.org"
            await stage.everyone_at(after["version"])
            for name, view in stage.views.items():
                assert view.gaps == 0 and view.state == after, name

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
                "live_delivery_without_rejoin": len(still_connected),
                "heartbeat_lapses": lapsed,
                "live_session_version": [before["version"], after["version"]],
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
    except BaseException:
        for g in gateways:  # CI keeps only what the test prints
            print(f"--- {g.log.name} (tail)\n{g.log.read_text(errors='replace')[-4000:]}")
        raise
    finally:
        async with budget(TEARDOWN_BUDGET_S, "stopping the members, gateways and cluster"):
            for watch in watching:
                await watch.stop()
            if stage is not None:
                await stage.close()
            for m in members:
                await m.drop()
            for g in gateways:
                await asyncio.to_thread(g.stop)
            await asyncio.to_thread(cluster.stop)
