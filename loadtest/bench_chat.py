"""The chat benchmark: ClubHoloHub's full path against two minimal broadcast servers, in one run.

Servers: (a) plain python-socketio (``peers/plain_socketio.py``), (b) Node socket.io
(``peers/node/server.js``), (c) ClubHoloHub (``clubhub run``: authenticated sockets, membership
checks, shard actors, durable group-committed storage, ordered exactly-once delivery).
Shapes: many rooms (20 × 25 members) and one big live room (1 × 2,000 members), each at stepped
send rates until delivery stops growing. The load generator is Node's socket.io-client in several
processes (``peers/node/loadgen.js``), so the client is not the bottleneck.

Prints delivered messages/s and p50/p99 end-to-end latency per step and server, the ratios of (c) to
(a) and (b), holds 5,000 idle authenticated sockets to measure gateway memory per socket, writes
``results/bench_chat.json`` and ``results/bench_chat.png``, and ends with one line of JSON.

    python loadtest/bench_chat.py [--quick] [--parts 2] [--step-seconds 4] [--workers N] [--gateways N]

``--workers N`` adds a run of ``clubhub run --workers N`` (N gateway processes on one port) and
``--gateways N`` one of N ``clubhub run`` gateways on ports of their own sharing one Ray and the services
(each room's members on gateway room index % N, room batches received per gateway read from
``/metrics``); both are reported against the single process as ratios (JSON key ``scaling``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NODE_DIR = HERE / "peers" / "node"
RESULTS = HERE / "results"
sys.path.insert(0, str(ROOT))

from storage.services import free_port  # noqa: E402

# The counter of room batches a gateway received (per-gateway channels: only its rooms'; else every room's).
ROOM_BATCHES = "clubhub_gateway_room_batches_total"
# The gateway's histograms read per step: each message's time per stage (gateway.socket.delivery.STAGES),
# and how late its event loop ran and how long its collections paused it (gateway.core.loop_health), by
# metric name -> the label that tells its series apart (None: one series, named after the metric).
HISTOGRAMS = {
    "clubhub_message_stage_seconds": "stage",
    "clubhub_event_loop_lag_seconds": None,
    "clubhub_gc_pause_seconds": "generation",
}

SHAPES = {
    "many_rooms": {"rooms": 20, "members": 25, "senders": 100, "start_rate": 100},
    "big_room": {"rooms": 1, "members": 2000, "senders": 200, "start_rate": 2},
}


def parse_histogram(text: str, name: str, label: str | None) -> dict[str, dict[float, float]]:
    """One histogram from a /metrics text: series (the ``label``'s value, else ``name``) -> {upper bound:
    cumulative count}."""
    out: dict[str, dict[float, float]] = {}
    prefix = name + "_bucket{"
    for line in text.splitlines():
        if not line.startswith(prefix):
            continue
        inside, _, value = line[len(prefix) :].rpartition("} ")
        labels = {k: v.strip('"') for k, v in (kv.split("=", 1) for kv in inside.split(","))}
        series = labels.get(label, "") if label else name
        out.setdefault(series, {})[float(labels["le"])] = float(value)
    return out


def parse_stage_buckets(text: str) -> dict[str, dict[float, float]]:
    """``clubhub_message_stage_seconds``: stage -> {upper bound: cumulative count}."""
    return parse_histogram(text, "clubhub_message_stage_seconds", "stage")


def parse_gateway_histograms(text: str) -> dict[str, dict[str, dict[float, float]]]:
    """Every histogram of ``HISTOGRAMS`` from one /metrics text."""
    return {name: parse_histogram(text, name, label) for name, label in HISTOGRAMS.items()}


def merge_buckets(parts: list[dict[str, dict[float, float]]]) -> dict[str, dict[float, float]]:
    """Several gateways' (or workers') stage histograms as one."""
    total: dict[str, dict[float, float]] = {}
    for part in parts:
        for stage, buckets in part.items():
            into = total.setdefault(stage, {})
            for bound, count in buckets.items():
                into[bound] = into.get(bound, 0.0) + count
    return total


def histogram_quantile(q: float, buckets: dict[float, float]) -> float | None:
    """Prometheus' ``histogram_quantile``: linear inside the bucket holding the q-th observation; the
    highest finite bound when it falls in the +Inf bucket. None without observations."""
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == float("inf"):
                return lower
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def stage_report(
    before: dict[str, dict[float, float]], after: dict[str, dict[float, float]]
) -> dict[str, dict[str, float | int | None]]:
    """Per stage, in the order of ``STAGES``: messages measured and the median and p99 (ms) between two
    reads of the gateways' histograms."""
    from gateway.socket.delivery import STAGES

    report: dict[str, dict[str, float | int | None]] = {}
    for stage in sorted(after, key=lambda s: STAGES.index(s) if s in STAGES else len(STAGES)):
        delta = {b: c - before.get(stage, {}).get(b, 0.0) for b, c in after[stage].items()}
        n = delta.get(float("inf"), 0.0)
        if n <= 0:
            continue
        p50, p99 = histogram_quantile(0.5, delta), histogram_quantile(0.99, delta)
        report[stage] = {
            "n": int(n),
            "p50_ms": None if p50 is None else round(p50 * 1000, 2),
            "p99_ms": None if p99 is None else round(p99 * 1000, 2),
        }
    return report


# What each server process is, for the CPU shares of a step (by its command line, which Ray's workers set
# to ``ray::<ActorClass>`` once they host an actor).
CPU_ROLES = (
    ("room_shards", ("RoomShard",)),
    ("other_actors", ("SessionShard", "Ranker", "InteractionConsumer")),
    ("mongo", ("storage.mongo_server", "mongod")),
    ("redis", ("redis-server",)),
    ("postgres", ("postgres",)),
    ("gateway", ("clubhub run", "bin/clubhub", "plain_socketio", "peers/node/server.js")),
    ("ray_system", ("ray", "raylet", "gcs_server")),
)


def cpu_role(cmdline: str) -> str:
    for role, needles in CPU_ROLES:
        if any(n in cmdline for n in needles):
            return role
    return "other"


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def node_deps_load() -> bool:
    """Whether node, in the peers' directory, loads both packages the peers use. A directory alone proves
    nothing: an install can be partial (a clone once lacked socket.io-client's build/cjs)."""
    check = "require('socket.io-client'); require('socket.io')"
    return (
        subprocess.run(["node", "-e", check], cwd=NODE_DIR, capture_output=True, check=False).returncode == 0
    )


def ensure_node_deps() -> None:
    """The Node peers' packages, installed from peers/node/package-lock.json (npm ci) when node cannot load
    them; node_modules is not in git. Used by bench_chat and soak."""
    if node_deps_load():
        return
    log("installing node peers (npm ci)…")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR, check=True)
    if not node_deps_load():
        raise SystemExit(f"node still cannot load socket.io-client and socket.io in {NODE_DIR} after npm ci")


async def wait_http(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            try:
                async with http.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.25)
    raise RuntimeError(f"{url} not up within {timeout}s")


class Server:
    name = ""

    async def start(self) -> None: ...

    def stop(self) -> None:
        if getattr(self, "proc", None) is None:  # it failed before it started a process
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def processes(self) -> list[psutil.Process]:
        """The server's processes: its own and every descendant (Ray's raylet and workers, Node's cluster)."""
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    def cpu_seconds(self) -> dict[int, float]:
        """CPU time (user + system) so far of each server process, by pid. CPU per delivered message is
        steadier than latency on a machine something else is loading, so old and new code compare by it.
        Every process met here is remembered (``seen``) with its role (``cpu_role``)."""
        found: dict[int, float] = {}
        seen = self.__dict__.setdefault("seen", {})
        for proc in self.processes():
            try:
                t = proc.cpu_times()
                found[proc.pid] = t.user + t.system
                if proc.pid not in seen or seen[proc.pid][2] in ("ray_system", "other"):
                    cmdline = " ".join(proc.cmdline())
                    seen[proc.pid] = (proc, cmdline, cpu_role(cmdline))
            except psutil.Error:
                continue
        return found

    def role_of(self, pid: int) -> str:
        entry = self.__dict__.get("seen", {}).get(pid)
        return entry[2] if entry is not None else "other"

    def left_behind(self, grace_s: float = 30.0) -> list[str]:
        """After ``stop``: the server's processes still running (waiting up to ``grace_s`` for them to
        exit), each then killed so the machine is left clean, and named so the run can say so."""
        seen = list(self.__dict__.get("seen", {}).values())
        deadline = time.monotonic() + grace_s
        alive = [(p, c) for p, c, _ in seen if p.is_running()]
        while alive and time.monotonic() < deadline:
            time.sleep(0.5)
            alive = [(p, c) for p, c in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        for proc, _ in alive:
            try:
                proc.kill()
            except psutil.Error:
                pass
        return [f"{proc.pid} {cmdline[:160]}" for proc, cmdline in alive]

    async def sockets_for(self, shape: str, spec: dict) -> tuple[str, list[dict]]:
        rooms = [f"{shape}-{r}" for r in range(spec["rooms"])]
        return "plain", [{"room": rooms[i % spec["rooms"]]} for i in range(spec["rooms"] * spec["members"])]


class PlainPython(Server):
    name = "python-socketio"

    async def start(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "peers" / "plain_socketio.py"), str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await wait_http(f"{self.url}/socket.io/?EIO=4&transport=polling", self.proc)


class NodeSocketIO(Server):
    name = "node-socket.io"

    async def start(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            ["node", str(NODE_DIR / "server.js"), str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await wait_http(f"{self.url}/socket.io/?EIO=4&transport=polling", self.proc)


def load_gateway_env(data: Path, port: int) -> dict[str, str]:
    """The environment of a gateway under load (this benchmark and the soak): its own data dir and port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLUBHUB_") and k != "RAY_ADDRESS"}
    # The per-user send limit protects real rooms; a load test's senders are few and fast. Every simulated
    # member connects from 127.0.0.1: lift the per-address caps, which a real deployment keeps for clients
    # that each have an address of their own.
    env.update(
        CLUBHUB_DATA_DIR=str(data),
        CLUBHUB_PORT=str(port),
        CLUBHUB_LOG_LEVEL="WARNING",
        CLUBHUB_USER_MSG_RATE="10000",
        CLUBHUB_USER_MSG_BURST="10000",
        CLUBHUB_MAX_SOCKETS_PER_IP="100000",
        CLUBHUB_IP_EVENT_RATE="1000000",
        CLUBHUB_IP_EVENT_BURST="1000000",
        CLUBHUB_USER_JOIN_BURST="100000",
    )
    return env


class ClubHoloHub(Server):
    """``clubhub run``: one gateway process (the default), ``workers`` processes sharing one port
    (``clubhub run --workers N``), or ``gateways`` separate ``clubhub run`` processes on ports of their own
    sharing the first one's services and Ray, each room's members connected to gateway (room index % N)."""

    def __init__(self, workers: int = 1, gateways: int = 1) -> None:
        self.workers, self.gateways = workers, gateways
        self.name = "clubholohub"
        if workers > 1:
            self.name += f"-{workers}w"
        if gateways > 1:
            self.name += f"-{gateways}g"
        self.tmp = tempfile.TemporaryDirectory(prefix="clubhub-bench-")
        self.data = Path(self.tmp.name) / "data"
        suffix = self.name.removeprefix("clubholohub")
        self.keep_log = RESULTS / f"bench_chat_gateway{suffix}.log"
        self.others: list[subprocess.Popen] = []  # gateways 1..N-1 (--gateways)

    async def start(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.urls = [self.url]
        env = load_gateway_env(self.data, self.port)
        self.metrics_urls = [f"{self.url}/metrics"]
        if self.workers > 1:
            # One /metrics port per worker (base + k): the shared port would answer from any one of them.
            base = free_port_run(self.workers)
            env["CLUBHUB_METRICS_PORT"] = str(base)
            self.metrics_urls = [f"http://127.0.0.1:{base + k}/metrics" for k in range(self.workers)]
        self.log_path = self.keep_log
        argv = [str(Path(sys.executable).parent / "clubhub"), "run", "--workers", str(self.workers)]
        with open(self.log_path, "wb") as log_file:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(argv, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        await wait_http(f"{self.url}/readyz", self.proc, timeout=180)
        for url in self.metrics_urls:  # every worker listens (the first alone answers /readyz early on)
            await wait_http(url, self.proc, timeout=180)
        if self.gateways > 1:
            await self._start_other_gateways()
        await self._seed()

    async def _start_other_gateways(self) -> None:
        """Gateways 1..N-1: ``clubhub run`` on ports of their own with the first one's data dir (its embedded
        services are found running there, its keys shared) and its Ray (the address it left in the data
        dir), as a second gateway of this machine joins."""
        address_file = self.data / "ray" / "address"
        deadline = time.monotonic() + 60
        while not address_file.exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the first gateway left no Ray address in {address_file}")
            await asyncio.sleep(0.25)
        ray_address = address_file.read_text().strip()
        for k in range(1, self.gateways):
            port = free_port()
            env = load_gateway_env(self.data, port)
            env["CLUBHUB_RAY_ADDRESS"] = ray_address
            with open(self.keep_log.with_suffix(f".{k}.log"), "wb") as log_file:
                proc = subprocess.Popen(
                    [str(Path(sys.executable).parent / "clubhub"), "run"],
                    env=env,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                )
            self.others.append(proc)
            url = f"http://127.0.0.1:{port}"
            self.urls.append(url)
            self.metrics_urls.append(f"{url}/metrics")
            await wait_http(f"{url}/readyz", proc, timeout=180)

    def stop(self) -> None:
        """The joined gateways first: the first one stops the Ray and services they stand on."""
        for proc in self.others:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.others:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        super().stop()

    async def _seed(self) -> None:
        """Users, clubs, rooms and memberships written through the storage layer, and access tokens
        signed with the gateway's own keys (2,000 argon2 signups would only measure argon2)."""
        from argon2 import PasswordHasher

        from gateway.core.tokens import AccessTokens, KeyRing
        from storage.models import Club, Membership, Role, Room, User
        from storage.postgres import close_postgres, init_postgres
        from storage.services import Services
        from storage.settings import Settings

        settings = Settings(data_dir=self.data)
        await init_postgres(Services(settings).urls()["postgres"], migrate=False)
        tag = uuid.uuid4().hex[:6]
        pw = PasswordHasher().hash("clubhub-bench")
        users = await User.bulk_create(
            [
                User(email=f"bench-{tag}-{i}@example.org", password_hash=pw, display_name=f"Bench {i}")
                for i in range(2000)
            ]
        )
        users = await User.filter(email__startswith=f"bench-{tag}-").order_by("id")
        tokens = AccessTokens(KeyRing.from_settings(settings), 6 * 3600)
        self.tokens = [tokens.issue(u.id, uuid.uuid4().hex) for u in users]
        self.rooms = {}
        for shape, spec in SHAPES.items():
            club = await Club.create(name=f"{shape}-{tag}", created_by=users[0])
            n = spec["rooms"] * spec["members"]
            await Membership.bulk_create(
                [
                    Membership(club=club, user=u, role=Role.owner if i == 0 else Role.member)
                    for i, u in enumerate(users[:n])
                ]
            )
            self.rooms[shape] = [
                (await Room.create(club=club, name=f"room-{r}")).id for r in range(spec["rooms"])
            ]
        await close_postgres()

    async def sockets_for(self, shape: str, spec: dict) -> tuple[str, list[dict]]:
        rooms = self.rooms[shape]
        # Member i of the club sits in room i % rooms, and connects with its own token; with several
        # gateways, to the gateway of its room (room index % gateways).
        return "clubhub", [
            {
                "room": rooms[i % len(rooms)],
                "token": self.tokens[i],
                "url": self.urls[(i % len(rooms)) % len(self.urls)],
            }
            for i in range(spec["rooms"] * spec["members"])
        ]

    def processes(self) -> list[psutil.Process]:
        """The gateways' trees plus the embedded services the first one started (they detach from it)."""
        found = super().processes()
        for proc in self.others:
            try:
                root = psutil.Process(proc.pid)
                found += [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
        pids = {p.pid for p in found}
        for proc in psutil.process_iter(["cmdline"]):
            try:
                if proc.pid not in pids and str(self.data) in " ".join(proc.info["cmdline"] or []):
                    found.append(proc)
            except psutil.Error:
                continue
        return found

    def rss_kb(self) -> float:
        return psutil.Process(self.proc.pid).memory_info().rss / 1024

    async def histograms(self) -> dict[str, dict[str, dict[float, float]]]:
        """The gateways' (every worker's) ``HISTOGRAMS``, each summed over them."""
        parts = []
        async with aiohttp.ClientSession() as http:
            for url in self.metrics_urls:
                async with http.get(url) as resp:
                    parts.append(parse_gateway_histograms(await resp.text()))
        return {name: merge_buckets([p[name] for p in parts]) for name in HISTOGRAMS}

    async def room_batches(self) -> list[float | None]:
        """``clubhub_gateway_room_batches_total`` of each gateway (or worker): the room batches it received
        from the shards. None where the gateway does not export it."""
        found: list[float | None] = []
        async with aiohttp.ClientSession() as http:
            for url in self.metrics_urls:
                async with http.get(url) as resp:
                    text = await resp.text()
                values = [
                    float(line.rsplit(" ", 1)[1])
                    for line in text.splitlines()
                    if line.startswith(ROOM_BATCHES) and line[len(ROOM_BATCHES)] in " {"
                ]
                found.append(sum(values) if values else None)
        return found

    async def probe_room_batches(self, shape: str = "many_rooms") -> dict:
        """Exactly which rooms each gateway hears: with nobody else connected, one member per room, on its
        room's gateway, sends one message and waits for it to come back. A gateway then received one batch
        per room it holds a member of (per-gateway channels), or one per room of the shape (one shared
        channel). Every gateway's counter is read once the counts stop moving."""
        import socketio

        rooms = self.rooms[shape]
        before = await self.room_batches()
        for r, room in enumerate(rooms):
            back = asyncio.Event()
            client = socketio.AsyncClient(reconnection=False)
            client.on("message", lambda m, back=back: back.set())
            client.on("message:batch", lambda b, back=back: back.set())
            await client.connect(
                self.urls[r % len(self.urls)],
                auth={"token": self.tokens[r]},  # member r sits in room r (sockets_for)
                transports=["websocket"],
                wait_timeout=30,
            )
            try:
                for event, payload in (
                    ("room:join", {"room_id": room}),
                    ("message:send", {"room_id": room, "client_id": uuid.uuid4().hex, "text": "probe"}),
                ):
                    ack = await client.call(event, payload, timeout=30)
                    if not ack.get("ok"):
                        raise RuntimeError(f"probe {event} in room {room} refused: {ack}")
                await asyncio.wait_for(back.wait(), 30)
            finally:
                await client.disconnect()
        after, deadline = await self.room_batches(), time.monotonic() + 10
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)  # a gateway hearing every room may still be decoding the last batch
            now = await self.room_batches()
            if now == after:
                break
            after = now
        held = [sum(1 for r in range(len(rooms)) if r % len(self.urls) == k) for k in range(len(self.urls))]
        return {
            "rooms": len(rooms),
            "rooms_held_per_gateway": held,
            "received_per_gateway": room_batch_report(before, after),
        }


def free_port_run(count: int) -> int:
    """A port with the ``count - 1`` ports after it free too (worker k serves /metrics on base + k)."""
    import socket

    while True:
        base = free_port()
        try:
            for k in range(1, count):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", base + k))
            return base
        except OSError:
            continue


class LoadGen:
    """Several loadgen.js processes, each with an interleaved share of the sockets."""

    def __init__(self, url: str, mode: str, sockets: list[dict], senders: int, parts: int) -> None:
        self.procs = []
        self.tmp = tempfile.TemporaryDirectory(prefix="loadgen-")
        for part in range(parts):
            cfg = {
                "url": url,
                "mode": mode,
                "sockets": sockets[part::parts],
                "senders": max(1, senders // parts),
                "part": part,
                "parts": parts,
            }
            path = Path(self.tmp.name) / f"part{part}.json"
            path.write_text(json.dumps(cfg))
            self.procs.append(
                subprocess.Popen(
                    ["node", str(NODE_DIR / "loadgen.js"), str(path)],
                    cwd=NODE_DIR,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    bufsize=1,
                )
            )

    async def ready(self) -> None:
        for p in self.procs:
            line = await asyncio.to_thread(p.stdout.readline)
            if not line or not json.loads(line).get("ready"):
                raise RuntimeError(f"loadgen failed to connect: {line!r}")

    async def step(self, rate: float, seconds: float) -> dict:
        for p in self.procs:
            p.stdin.write(
                json.dumps({"cmd": "step", "rate": rate / len(self.procs), "seconds": seconds}) + "\n"
            )
            p.stdin.flush()
        parts = [json.loads(await asyncio.to_thread(p.stdout.readline)) for p in self.procs]
        samples = sorted(s for part in parts for s in part["samples"])
        total = {
            k: sum(part[k] for part in parts) for k in ("sent", "acked", "refused", "delivered", "frames")
        }

        def pct(q: float) -> float | None:
            return round(samples[min(len(samples) - 1, int(q * len(samples)))], 2) if samples else None

        return {
            "rate": rate,
            **total,
            "seconds": seconds,
            "delivered_per_s": round(total["delivered"] / seconds, 1),
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
        }

    def close(self) -> None:
        for p in self.procs:
            try:
                p.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                p.stdin.flush()
            except (BrokenPipeError, ValueError):
                pass
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


async def measured(
    server: Server, gen: LoadGen, rate: float, seconds: float, flame: Path | None = None
) -> dict:
    """One step, with the server's CPU time spent during it per delivered message and its share per role
    (gateway, room shards, stores, Ray's own processes), and for ClubHoloHub each stage's median and p99
    (``stage_report``). ``flame``: py-spy records the gateway and a room shard during the step into
    ``<flame>_gateway.svg`` and ``<flame>_shard.svg``."""
    traced = isinstance(server, ClubHoloHub)
    histograms_before = await server.histograms() if traced else {}
    before, started = server.cpu_seconds(), time.monotonic()
    spies = start_flames(server, flame, seconds) if flame is not None else []
    r = await gen.step(rate, seconds)
    after = server.cpu_seconds()
    for spy in spies:
        await asyncio.to_thread(spy.wait, seconds + 60)
    spent_by: dict[int, float] = {pid: t - before.get(pid, 0.0) for pid, t in after.items()}
    spent = sum(spent_by.values())
    r["server_cpu_s"] = round(spent, 2)
    r["server_cpu_us_per_delivery"] = round(spent * 1e6 / r["delivered"], 1) if r["delivered"] else None
    roles: dict[str, float] = {}
    for pid, t in spent_by.items():
        role = server.role_of(pid)
        roles[role] = roles.get(role, 0.0) + t
    ranked = sorted(roles.items(), key=lambda kv: -kv[1])
    r["cpu_share"] = {k: round(v / spent, 3) for k, v in ranked} if spent else {}
    # Cores each role kept busy over the step (its sending and the drain after it).
    r["cpu_cores"] = {k: round(v / (time.monotonic() - started), 3) for k, v in ranked}
    if traced:
        after_h = await server.histograms()
        stages, lag, gc = (stage_report(histograms_before[name], after_h[name]) for name in HISTOGRAMS)
        r["stages"] = stages
        # The gateway's event loop: how late it ran (p50/p99) and its collections (count, p99 pause).
        r["gateway_loop"] = {
            "lag": lag.get("clubhub_event_loop_lag_seconds", {}),
            "gc": {f"gen{gen}": v for gen, v in gc.items()},
        }
    return r


def start_flames(server: Server, prefix: Path, seconds: float) -> list[subprocess.Popen]:
    """py-spy record of the gateway process and of one room shard for ``seconds`` (flame graphs, SVG)."""
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        log("  (py-spy is not installed in the venv: no flame graphs)")
        return []
    targets = {}
    for pid, (_proc, _cmd, role) in server.__dict__.get("seen", {}).items():
        if role in ("gateway", "room_shards") and role not in targets and psutil.pid_exists(pid):
            if role == "gateway" and pid != server.proc.pid and server.proc.pid in server.__dict__["seen"]:
                continue  # the first gateway (with --workers: the supervisor's first worker is not it)
            targets[role] = pid
    procs = []
    for role, pid in targets.items():
        out = prefix.parent / f"{prefix.name}_{'gateway' if role == 'gateway' else 'shard'}.svg"
        procs.append(
            subprocess.Popen(
                [
                    str(spy),
                    "record",
                    "-p",
                    str(pid),
                    "-d",
                    str(int(seconds)),
                    "-r",
                    "97",
                    "-o",
                    str(out),
                    "-f",
                    "flamegraph",
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    return procs


def log_step(server: Server, label: str, r: dict) -> None:
    log(
        f"  {server.name:16} {label}  delivered {r['delivered_per_s']:9.1f}/s  p50 {r['p50_ms']} ms  "
        f"p99 {r['p99_ms']} ms  acked {r['acked']}/{r['sent']}  cpu {r['server_cpu_us_per_delivery']} µs/delivery"
    )
    if r.get("cpu_share"):
        log("      cpu cores: " + ", ".join(f"{k} {v:.2f}" for k, v in r["cpu_cores"].items()))
    if r.get("stages"):
        log(
            "      stages p50/p99 ms: "
            + ", ".join(f"{k} {v['p50_ms']}/{v['p99_ms']}" for k, v in r["stages"].items())
        )
    loop = r.get("gateway_loop")
    if loop:
        lag = loop["lag"]
        log(
            f"      gateway loop lag p50/p99 ms: {lag.get('p50_ms')}/{lag.get('p99_ms')}; collections: "
            + ", ".join(f"{g} {v['n']}× p99 {v['p99_ms']} ms" for g, v in loop["gc"].items())
        )


async def run_shape(server: Server, shape: str, spec: dict, args, extra_rates=()) -> list[dict]:
    mode, sockets = await server.sockets_for(shape, spec)
    gen = LoadGen(server.url, mode, sockets, spec["senders"], args.parts)
    steps = []
    try:
        await gen.ready()
        # The half-load step first, on a fresh server: after the saturation steps a backlog would
        # still be draining and its latency would be the backlog's. Any further fixed-rate step (half of
        # Node's rate: past ClubHoloHub's saturation in many rooms) runs last, once the server has settled,
        # so its backlog cannot spill into the stepped rates either.
        for k, rate in enumerate(extra_rates[:1]):
            # Flame graphs of the first fixed-rate step only (half of python-socketio's saturation).
            flame = args.results / f"flame_{shape}_half_load" if args.flame and k == 0 else None
            r = await measured(server, gen, rate, args.step_seconds, flame)
            r["extra"] = True
            steps.append(r)
            log_step(server, f"{shape:10} half-load {rate:7.1f}/s", r)
        rate, best, flat = spec["start_rate"], 0.0, 0
        for _ in range(args.max_steps):
            r = await measured(server, gen, rate, args.step_seconds)
            steps.append(r)
            log_step(server, f"{shape:10} offered {rate:8.1f}/s", r)
            grew = r["delivered_per_s"] > best * 1.05
            best = max(best, r["delivered_per_s"])
            flat = 0 if grew else flat + 1
            if flat >= 2 or (r["p99_ms"] or 0) > 3000 or r["acked"] < 0.8 * r["sent"]:
                break
            rate = round(rate * 1.6, 1)
        for rate in extra_rates[1:]:
            if isinstance(server, ClubHoloHub):
                await settled(server)
            r = await measured(server, gen, rate, args.step_seconds)
            r["extra"] = True
            steps.append(r)
            log_step(server, f"{shape:10} fixed     {rate:7.1f}/s", r)
    finally:
        gen.close()
    return steps


async def idle_sockets(server: ClubHoloHub, count: int, parts: int) -> dict:
    """Gateway memory per idle authenticated socket (each joined to a room)."""
    rooms = server.rooms["big_room"]
    sockets = [{"room": rooms[0], "token": server.tokens[i % len(server.tokens)]} for i in range(count)]
    before = server.rss_kb()
    gen = LoadGen(server.url, "clubhub", sockets, 1, parts)
    try:
        await gen.ready()
        await asyncio.sleep(3)
        after = server.rss_kb()
    finally:
        gen.close()
    return {
        "sockets": count,
        "rss_before_kb": round(before),
        "rss_after_kb": round(after),
        "kb_per_socket": round((after - before) / count, 1),
    }


async def settled(server: ClubHoloHub, timeout_s: float = 300.0) -> None:
    """Wait until a new socket connects and joins a room promptly again.

    Closing thousands of idle sockets at once leaves the gateway telling the shards about each of them for a
    while; load started then would measure that backlog, and its connects can outlast the gateway's connect
    timeout (the socket is closed before its CONNECT is handled, and the load generator fails)."""
    import socketio

    deadline = time.monotonic() + timeout_s
    room = server.rooms["many_rooms"][0]
    while True:
        probe = socketio.AsyncClient(reconnection=False)
        started = time.monotonic()
        try:
            await probe.connect(
                server.url, auth={"token": server.tokens[0]}, transports=["websocket"], wait_timeout=30
            )
            ack = await probe.call("room:join", {"room_id": room}, timeout=30)
            if ack.get("ok") and time.monotonic() - started < 0.5:
                return
        except (socketio.exceptions.SocketIOError, OSError):
            pass  # still busy: try again below
        finally:
            await probe.disconnect()
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the gateway did not settle within {timeout_s:.0f} s after the idle sockets closed"
            )
        await asyncio.sleep(2)


def saturation(steps: list[dict]) -> dict:
    main = [s for s in steps if not s.get("extra")]
    return max(main, key=lambda s: s["delivered_per_s"])


def room_batch_report(before: list, after: list) -> list:
    """Room batches each gateway (or worker) received between two reads of its counter; "n/a" where the
    gateway does not export it."""
    return ["n/a" if a is None or b is None else round(a - b) for a, b in zip(after, before, strict=True)]


def scaling_report(results: dict, args) -> dict:
    """1 vs N workers and 1 vs N gateways: saturation delivered/s per shape and its ratio."""
    servers = results["servers"]
    one = servers.get("clubholohub")
    report = {}
    for kind, n in (("workers", args.workers), ("gateways", args.gateways)):
        name = f"clubholohub-{n}{kind[0]}"
        if n < 2 or one is None or name not in servers:
            continue
        entry: dict = {"n": n, "server": name}
        for shape in SHAPES:
            a, b = saturation(one[shape]), saturation(servers[name][shape])
            entry[shape] = {
                "saturation_delivered_per_s": {"1": a["delivered_per_s"], str(n): b["delivered_per_s"]},
                "saturation_p99_ms": {"1": a["p99_ms"], str(n): b["p99_ms"]},
                "ratio": round(b["delivered_per_s"] / a["delivered_per_s"], 3)
                if a["delivered_per_s"]
                else None,
            }
        entry["room_batches_many_rooms"] = results.get("room_batches", {}).get(name)
        report[kind] = entry
    return report


def log_scaling(scaling: dict) -> None:
    log("\nscaling     shape       1 process delivered/s (p99 ms)   N delivered/s (p99 ms)   N ÷ 1")
    for kind, entry in scaling.items():
        n = entry["n"]
        for shape in SHAPES:
            e, p99 = entry[shape]["saturation_delivered_per_s"], entry[shape]["saturation_p99_ms"]
            log(
                f"{n} {kind:9} {shape:11} {e['1']:21.1f} ({p99['1']})   {e[str(n)]:13.1f} ({p99[str(n)]})   "
                f"{entry[shape]['ratio']}"
            )
        batches = entry["room_batches_many_rooms"]
        if batches is not None:
            log(
                f"{n} {kind:9} room batches received per {kind[:-1]} during the many_rooms steps: {batches['steps']}"
            )
            probe = batches.get("probe")
            if probe is not None:
                log(
                    f"{n} {kind:9} one message per room ({probe['rooms']} rooms): each gateway received "
                    f"{probe['received_per_gateway']} batches, holding members of {probe['rooms_held_per_gateway']} "
                    "rooms (per-gateway channels: equal; one shared channel: every room)"
                )


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    for col, shape in enumerate(SHAPES):
        members = SHAPES[shape]["members"]
        for name, shapes in results["servers"].items():
            steps = sorted((s for s in shapes[shape] if not s.get("extra")), key=lambda s: s["rate"])
            offered = [s["rate"] * members for s in steps]
            axes[0][col].plot(offered, [s["delivered_per_s"] for s in steps], marker="o", label=name)
            axes[1][col].plot(offered, [s["p99_ms"] for s in steps], marker="o", label=name)
        axes[0][col].set_title(f"{shape} ({SHAPES[shape]['rooms']} × {members})")
        axes[0][col].set_ylabel("delivered messages/s")
        axes[1][col].set_ylabel("p99 end-to-end latency (ms)")
        axes[1][col].set_yscale("log")
        for ax in (axes[0][col], axes[1][col]):
            ax.set_xlabel("offered deliveries/s (send rate × members)")
            ax.grid(alpha=0.3)
            ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parts", type=int, default=2, help="load generator processes")
    parser.add_argument("--step-seconds", type=float, help="seconds per step (4; --quick: 2)")
    parser.add_argument("--max-steps", type=int, help="steps per shape at most (11; --quick: 3)")
    parser.add_argument("--idle-sockets", type=int, help="idle sockets held for memory (5000; --quick: 500)")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter steps (a smoke run)")
    parser.add_argument("--only", choices=["clubholohub"], help="run one server alone (development)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="also run ClubHoloHub as `clubhub run --workers N` (N processes on one port) and report 1 vs N",
    )
    parser.add_argument(
        "--gateways",
        type=int,
        default=1,
        help="also run N `clubhub run` gateways on ports of their own sharing one Ray and the services, each "
        "room's members on gateway (room index %% N), and report 1 vs N and room batches per gateway",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="run everything N times; report each figure's median and spread"
    )
    parser.add_argument(
        "--flame",
        action="store_true",
        help="py-spy flame graphs of the gateway and a room shard during each half-load step "
        "(results/flame_<shape>_half_load_{gateway,shard}.svg)",
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON and plot go")
    parser.add_argument(
        "--at",
        action="append",
        default=[],
        metavar="SHAPE=RATE",
        help="with --only: a fixed-rate step (sends/s) before a shape's stepped rates, as the half-load "
        "steps are (e.g. --at many_rooms=205 to compare code at one load)",
    )
    args = parser.parse_args()
    if args.workers < 1 or args.gateways < 1 or args.repeat < 1:
        parser.error("--workers, --gateways and --repeat take a count of at least 1")
    try:
        args.at = [(shape, float(rate)) for shape, rate in (a.split("=", 1) for a in args.at)]
    except ValueError:
        parser.error("--at takes SHAPE=RATE")
    if any(shape not in SHAPES for shape, _ in args.at):
        parser.error(f"--at: the shapes are {', '.join(SHAPES)}")
    for name, full, quick in (("step_seconds", 4.0, 2.0), ("max_steps", 11, 3), ("idle_sockets", 5000, 500)):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    return args


async def one_run(args: argparse.Namespace) -> dict:
    """Every server through both shapes once: the figures of one run, and the processes it left running."""
    results: dict = {
        "servers": {},
        "config": {"shapes": SHAPES, "parts": args.parts, "step_seconds": args.step_seconds},
        "left_behind": {},
    }
    servers: list[Server] = [ClubHoloHub()] if args.only else [PlainPython(), NodeSocketIO(), ClubHoloHub()]
    if args.workers > 1:
        servers.append(ClubHoloHub(workers=args.workers))
    if args.gateways > 1:
        servers.append(ClubHoloHub(gateways=args.gateways))
    for server in servers:
        log(f"== {server.name}")
        try:
            await server.start()
            server.cpu_seconds()  # meet the server's processes now (the services start before any step)
            per_shape = {}
            base_run = server.name == "clubholohub"
            if base_run:
                results["idle"] = await idle_sockets(server, args.idle_sockets, args.parts)
                log(f"  idle sockets: {results['idle']}")
                await settled(server)
            for shape, spec in SHAPES.items():
                extra: tuple[float, ...] = tuple(rate for at, rate in args.at if at == shape)
                if base_run and "python-socketio" in results["servers"]:
                    # Half of python-socketio's saturation rate (the target), then half of Node's.
                    extra = tuple(
                        round(saturation(results["servers"][peer][shape])["rate"] / 2, 1)
                        for peer in ("python-socketio", "node-socket.io")
                    )
                counted = isinstance(server, ClubHoloHub) and shape == "many_rooms"
                before = await server.room_batches() if counted else None
                per_shape[shape] = await run_shape(server, shape, spec, args, extra)
                if counted:
                    report = {"steps": room_batch_report(before, await server.room_batches())}
                    if server.workers == 1:  # a worker's rooms are wherever the kernel put each socket
                        report["probe"] = await server.probe_room_batches(shape)
                    results.setdefault("room_batches", {})[server.name] = report
                    log(f"  room batches received per gateway in many_rooms: {report}")
            results["servers"][server.name] = per_shape
        finally:
            server.stop()
            left = await asyncio.to_thread(server.left_behind)
            if left:
                log(f"  {server.name} left {len(left)} processes running (now killed): {left}")
            results["left_behind"][server.name] = left
            results.setdefault("processes_seen", {})[server.name] = sorted(server.__dict__.get("seen", {}))
    scaling = scaling_report(results, args)
    if scaling:
        results["scaling"] = scaling
        log_scaling(scaling)
    if not args.only:
        results["summary"] = summarize(results)
        results["final"] = final_figures(results)
    return results


def summarize(results: dict) -> dict:
    summary = {}
    for shape in SHAPES:
        sat = {name: saturation(r[shape]) for name, r in results["servers"].items()}
        halves = [s for s in results["servers"]["clubholohub"][shape] if s.get("extra")]
        summary[shape] = {
            "saturation_delivered_per_s": {n: s["delivered_per_s"] for n, s in sat.items()},
            "saturation_p99_ms": {n: s["p99_ms"] for n, s in sat.items()},
            "ratio_vs_python": round(
                sat["clubholohub"]["delivered_per_s"] / sat["python-socketio"]["delivered_per_s"], 3
            ),
            "ratio_vs_node": round(
                sat["clubholohub"]["delivered_per_s"] / sat["node-socket.io"]["delivered_per_s"], 3
            ),
            "half_load_rate": halves[0]["rate"],
            "half_load_p99_ms": halves[0]["p99_ms"],
            "half_load_stages": halves[0].get("stages", {}),
            "half_load_cpu_share": halves[0].get("cpu_share", {}),
            "half_node_load_rate": halves[1]["rate"],
            "half_node_load_p99_ms": halves[1]["p99_ms"],
            # Server CPU per delivered message at each server's first offered rate (below saturation).
            "cpu_us_per_delivery": {
                n: next(s for s in r[shape] if not s.get("extra"))["server_cpu_us_per_delivery"]
                for n, r in results["servers"].items()
            },
        }
    return summary


def final_figures(results: dict) -> dict:
    summary = results["summary"]
    worst = min(summary.values(), key=lambda s: s["ratio_vs_python"])
    return {
        "delivered_ratio": min(s["ratio_vs_python"] for s in summary.values()),
        "delivered_ratio_node": min(s["ratio_vs_node"] for s in summary.values()),
        "delivered_ratio_node_many_rooms": summary["many_rooms"]["ratio_vs_node"],
        "p99_ms_half_load": max(s["half_load_p99_ms"] or 0 for s in summary.values()),
        "p99_ms_half_load_many_rooms": summary["many_rooms"]["half_load_p99_ms"],
        "p99_ms_half_node_load": max(s["half_node_load_p99_ms"] or 0 for s in summary.values()),
        "kb_per_socket": results.get("idle", {}).get("kb_per_socket"),
        "worst_shape": next(k for k, v in summary.items() if v is worst),
        **{
            f"{kind}_ratio": {shape: entry[shape]["ratio"] for shape in SHAPES}
            for kind, entry in results.get("scaling", {}).items()
        },
    }


def median_and_spread(values: list) -> tuple:
    """Over several runs: the median of numbers (with their [min, max] spread) at every leaf of equal
    dicts; anything else is taken from the first run."""
    first = values[0]
    if isinstance(first, dict):
        keys = [k for k in first if all(isinstance(v, dict) and k in v for v in values)]
        pairs = {k: median_and_spread([v[k] for v in values]) for k in keys}
        return {k: m for k, (m, _) in pairs.items()}, {k: s for k, (_, s) in pairs.items() if s is not None}
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(numbers) == len(values) and numbers:
        return round(statistics.median(numbers), 3), [min(numbers), max(numbers)]
    return first, None


def log_summary(summary: dict, spread: dict | None = None) -> None:
    def sp(shape: str, *path: str) -> str:
        node: Any = (spread or {}).get(shape, {})
        for key in path:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        return f" [{node[0]}–{node[1]}]" if isinstance(node, list) else ""

    log("\nshape       server            saturation delivered/s   p99 ms")
    for shape, s in summary.items():
        for name, value in s["saturation_delivered_per_s"].items():
            log(
                f"{shape:11} {name:17} {value:22.1f}{sp(shape, 'saturation_delivered_per_s', name)}   "
                f"{s['saturation_p99_ms'][name]}"
            )
        log(
            f"{shape:11} ClubHoloHub ÷ python-socketio = {s['ratio_vs_python']}{sp(shape, 'ratio_vs_python')}, "
            f"÷ node = {s['ratio_vs_node']}{sp(shape, 'ratio_vs_node')}"
        )
        log(
            f"{shape:11} p99 at half python saturation ({s['half_load_rate']}/s) = {s['half_load_p99_ms']} ms"
            f"{sp(shape, 'half_load_p99_ms')}; at half node saturation ({s['half_node_load_rate']}/s) = "
            f"{s['half_node_load_p99_ms']} ms{sp(shape, 'half_node_load_p99_ms')}"
        )
        if s.get("half_load_stages"):
            log(
                f"{shape:11} at half load, stages p50/p99 ms: "
                + ", ".join(f"{k} {v['p50_ms']}/{v['p99_ms']}" for k, v in s["half_load_stages"].items())
            )
        log(f"{shape:11} server CPU per delivered message (µs): {s['cpu_us_per_delivery']}")


async def main() -> None:
    args = parse_args()
    # Stopped with SIGTERM (a CI timeout, kill): unwind like Ctrl-C, so every server's stop runs and takes
    # its gateway, Ray and embedded stores down with it instead of leaving them running.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    ensure_node_deps()
    args.results.mkdir(parents=True, exist_ok=True)
    runs = []
    for k in range(args.repeat):
        if args.repeat > 1:
            log(f"\n######## run {k + 1} of {args.repeat}")
        runs.append(await one_run(args))
    results = runs[0]
    left = {name: procs for run in runs for name, procs in run["left_behind"].items() if procs}
    if args.only:
        (args.results / "bench_chat_only.json").write_text(json.dumps(results, indent=2))
        log(json.dumps(results["servers"], indent=1)[:4000])
        print(json.dumps({"left_behind": left, "results": str(args.results / "bench_chat_only.json")}))
        sys.exit(1 if left else 0)
    if args.repeat > 1:
        # The first run's steps (for the plot and the capacity model), every figure the median of the runs.
        results["summary"], spread = median_and_spread([r["summary"] for r in runs])
        results["final"], final_spread = median_and_spread([r["final"] for r in runs])
        results["repeat"] = {
            "runs": args.repeat,
            "spread": spread,
            "final_spread": final_spread,
            "finals": [r["final"] for r in runs],
        }
    else:
        spread, final_spread = None, {}
    results["left_behind"] = left
    out = args.results / "bench_chat.json"
    out.write_text(json.dumps(results, indent=2))
    plot(results, args.results / "bench_chat.png")
    log_summary(results["summary"], spread)
    final = {
        **results["final"],
        **({"spread": final_spread} if final_spread else {}),
        "left_behind": left,
        "results": str(out),
        "plot": str(args.results / "bench_chat.png"),
    }
    print(json.dumps(final))
    if left:
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())
