"""The live-audio benchmark: one live session on Janus, a host and three speakers on the stage, N listeners.

One run starts its own Janus (``storage.services.JanusService`` in a temporary data directory, the
generated configuration the gateway uses), makes one session's audio with ``storage.janus.AudioRooms``
(the stage, an AudioBridge room; its mix RTP-forwarded to a PIN-protected Streaming mountpoint) and
connects, with aiortc on this machine:

- the host and three speakers to the stage, each publishing a sine tone of its own (220, 330, 440, 550 Hz);
- N listeners, receive-only, at a ladder of N (0, 10, 25, 50, 75, 100, 125, 150, 200, …), spread over
  ``--workers`` client processes. Each listener decodes every frame (``track.recv()``), counts them and
  measures the level; its audio is intact when it received at least 95 % of the window's 20-ms frames
  and the level is not silence.

Two designs, in the same run, the same listeners:

- ``stream`` (the design chosen, ``docs/audio.md``): listeners watch the Streaming mountpoint, which
  relays the stage's one encoded mix to each of them without decoding or encoding;
- ``bridge`` (the baseline, "everyone in one AudioBridge"): listeners join the stage itself as muted
  participants, and AudioBridge encodes a mix for each of them.

Per step: Janus's CPU (psutil, the process's user + system time over the window, in cores) and its
hottest thread's, the clients' CPU (the speakers' process, the listener processes and their event
loops), the machine's and the rest (``other_cores``: the machine may be shared), and each listener's
frames and level. A design's ladder stops at the first step where a listener's audio is not intact, or
where a listener process's event loop fills a core (further steps would measure the client), or at
``--max-listeners``; a saturated machine is noted (``limit``: who used most of it) but does not stop it.
CPU per listener is the least-squares slope of Janus's CPU over N on the intact steps; the ratio is the
baseline's over the chosen design's.

ICE: Janus gathers its host candidates itself (its ``ice_enforce_list`` does not make it offer
127.0.0.1: it skips loopback interfaces and offers the machine's own address, e.g. 192.0.2.2 here), and
aioice leaves 127.0.0.1 out of its own. So the clients gather on exactly the IPv4 addresses Janus offers
in its first SDP (local addresses: the packets never leave the kernel); Janus's candidates are in its
SDP and aiortc puts its own in its SDP too, so nobody trickles.

Output: a line per step, a table, ``results/bench_audio.json``, ``results/bench_audio.png`` (Janus CPU
against N for both designs, the clients' dashed) and a last line of JSON with the figures. Janus and the
client processes are stopped by pid at the end (``left_behind`` names any that outlived it; exit 1).

    python loadtest/bench_audio.py [--quick] [--max-listeners N] [--window 10] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import itertools
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(ROOT))

EVENT_ID = 7001
EPOCH = 1
STAGE = {1: 220.0, 2: 330.0, 3: 440.0, 4: 550.0}  # the host and three speakers: user id -> tone (Hz)
LISTENER_ID0 = 100_000  # listeners' user ids (their stage tokens, in the baseline)
RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms at 48 kHz
TONE_AMPLITUDE = 0.15  # of full scale, per speaker
INTACT_SHARE = 0.95  # of the window's 20-ms frames, for every listener
SILENT_RMS = 200.0  # int16 RMS under this is silence (the stage's mix of four tones is ~4,500)
RMS_EVERY = 5  # the level is measured on every fifth frame (the frames are all counted)
SATURATED = 0.92  # a share of the machine's cores (or of one core, for one process) that is "saturated"
LADDER = (0, 10, 25, 50, 75, 100, 125, 150, 200, 250, 300, 400, 500, 600, 800, 1000)
QUICK_LADDER = (0, 5, 10, 20)
DESIGNS = ("stream", "bridge")
CONNECT_CONCURRENCY = 8  # listeners set up at once, per client process


def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the clients (aiortc)


def gather_on(addresses: list[str]) -> None:
    """aioice gathers its host candidates on ``addresses`` only (by itself it never offers 127.0.0.1)."""
    import aioice.ice

    def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return list(addresses) if use_ipv4 else []

    aioice.ice.get_host_addresses = host_addresses


def peer_connection() -> Any:
    from aiortc import RTCConfiguration, RTCPeerConnection

    return RTCPeerConnection(RTCConfiguration(iceServers=[]))  # no STUN: aiortc's default is Google's


def jsep(pc: Any) -> dict:
    return {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}


def make_tone(hz: float) -> Any:
    """An audio track that plays a sine of ``hz`` in real time, 20 ms per frame, mono s16 at 48 kHz."""
    import numpy as np
    from aiortc.mediastreams import AudioStreamTrack
    from av import AudioFrame

    class Tone(AudioStreamTrack):
        def __init__(self) -> None:
            super().__init__()
            self.sent = 0
            self.t0: float | None = None

        async def recv(self) -> AudioFrame:
            if self.t0 is None:
                self.t0 = time.monotonic()
            else:
                wait = self.t0 + self.sent / RATE - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            t = (np.arange(FRAME_SAMPLES) + self.sent) / RATE
            wave = (TONE_AMPLITUDE * 32767 * np.sin(2 * np.pi * hz * t)).astype(np.int16)
            frame = AudioFrame.from_ndarray(wave.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = RATE
            frame.pts = self.sent
            frame.time_base = fractions.Fraction(1, RATE)
            self.sent += FRAME_SAMPLES
            return frame

    return Tone()


class JanusClient:
    """One WebSocket to Janus's API and one Janus session with many handles (a handle per peer).
    Requests are matched to their answer by transaction (an asynchronous plugin request's answer is the
    event after its ack); other events are counted, hang-ups apart."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.ids = itertools.count(1)
        self.waiting: dict[str, asyncio.Future[dict]] = {}
        self.session: int | None = None
        self.events = 0
        self.hangups = 0
        self.ws: Any = None
        self.tasks: list[asyncio.Task] = []

    async def open(self) -> None:
        import websockets

        self.ws = await websockets.connect(
            self.url, subprotocols=["janus-protocol"], max_size=16 << 20, ping_interval=None, max_queue=4096
        )
        self.tasks.append(asyncio.create_task(self._read()))
        self.session = (await self.call({"janus": "create"}))["data"]["id"]
        self.tasks.append(asyncio.create_task(self._keepalive()))

    async def _read(self) -> None:
        import websockets

        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                message = json.loads(raw)
                if message.get("janus") == "ack":
                    continue
                future = self.waiting.pop(message.get("transaction") or "", None)
                if future is not None and not future.done():
                    future.set_result(message)
                    continue
                self.events += 1
                if message.get("janus") == "hangup":
                    self.hangups += 1
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(ConnectionError("janus closed the connection"))

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(20)  # Janus drops a session after 60 s without a request
            with contextlib.suppress(Exception):
                await self.call({"janus": "keepalive"})

    async def call(self, message: dict, timeout_s: float = 30.0) -> dict:
        from storage.janus import JanusError

        transaction = f"t{next(self.ids)}"
        future: asyncio.Future[dict] = asyncio.get_running_loop().create_future()
        self.waiting[transaction] = future
        payload = {**message, "transaction": transaction, "token": self.token}
        if self.session is not None:
            payload["session_id"] = self.session
        try:
            await self.ws.send(json.dumps(payload))
            answer = await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            raise JanusError(0, f"no answer to {message} in {timeout_s} s") from None
        finally:
            self.waiting.pop(transaction, None)
        if answer.get("janus") == "error":
            error = answer.get("error") or {}
            raise JanusError(int(error.get("code", 0)), str(error.get("reason")))
        data = (answer.get("plugindata") or {}).get("data") or {}
        if "error_code" in data:
            raise JanusError(int(data["error_code"]), str(data.get("error")))
        return answer

    async def attach(self, plugin: str) -> int:
        return int((await self.call({"janus": "attach", "plugin": plugin}))["data"]["id"])

    async def message(self, handle: int, body: dict, sdp: dict | None = None) -> dict:
        request: dict = {"janus": "message", "handle_id": handle, "body": body}
        if sdp is not None:
            request["jsep"] = sdp
        return await self.call(request)

    async def detach(self, handle: int) -> None:
        with contextlib.suppress(Exception):
            await self.call({"janus": "detach", "handle_id": handle}, timeout_s=10.0)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()


class Peer:
    """One client PeerConnection and its Janus handle; a receiving one counts what it decodes."""

    def __init__(self, client: JanusClient) -> None:
        self.client = client
        self.pc = peer_connection()
        self.handle: int | None = None
        self.frames = 0
        self.samples = 0
        self.square_sum = 0.0  # sum over measured frames of the frame's mean square
        self.measured = 0
        self.consumer: asyncio.Task | None = None
        self.pc.on("track", self._on_track)

    def _on_track(self, track: Any) -> None:
        self.consumer = asyncio.ensure_future(self._consume(track))

    async def _consume(self, track: Any) -> None:
        import numpy as np
        from aiortc.mediastreams import MediaStreamError

        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                self.frames += 1
                self.samples += frame.samples
                if self.frames % RMS_EVERY == 0:
                    pcm = frame.to_ndarray().astype(np.float32)
                    self.square_sum += float(np.mean(pcm * pcm))
                    self.measured += 1

    def snapshot(self) -> list:
        return [self.samples, self.square_sum, self.measured, self.pc.connectionState == "connected"]

    async def close(self) -> None:
        if self.consumer is not None:
            self.consumer.cancel()
        with contextlib.suppress(Exception):
            await self.pc.close()
        if self.handle is not None:
            await self.client.detach(self.handle)


async def watch(client: JanusClient, keys: Any) -> Peer:
    """A listener of the chosen design: receive-only on the session's Streaming mountpoint."""
    from aiortc import RTCSessionDescription

    from storage.janus import STREAMING

    peer = Peer(client)
    try:
        peer.handle = await client.attach(STREAMING)
        offer = await client.message(
            peer.handle, {"request": "watch", "id": EVENT_ID, "pin": keys.listen_pin(EVENT_ID, EPOCH)}
        )
        await peer.pc.setRemoteDescription(RTCSessionDescription(**offer["jsep"]))
        await peer.pc.setLocalDescription(await peer.pc.createAnswer())
        await client.message(peer.handle, {"request": "start"}, jsep(peer.pc))
        return peer
    except BaseException:
        await peer.close()
        raise


async def join_stage(client: JanusClient, keys: Any, user_id: int, tone_hz: float | None) -> Peer:
    """On the stage (AudioBridge): a speaker publishing a tone (send-only), or, with no tone, a muted
    receive-only participant — a listener of the baseline design."""
    from aiortc import RTCSessionDescription

    from storage.janus import AUDIOBRIDGE

    peer = Peer(client)
    try:
        peer.handle = await client.attach(AUDIOBRIDGE)
        if tone_hz is None:
            peer.pc.addTransceiver("audio", direction="recvonly")
        else:
            peer.pc.addTransceiver(make_tone(tone_hz), direction="sendonly")
        await peer.pc.setLocalDescription(await peer.pc.createOffer())
        body = {
            "request": "join",
            "room": EVENT_ID,
            "id": user_id,
            "token": keys.stage_token(EVENT_ID, user_id),
            "muted": tone_hz is None,
        }
        answer = await client.message(peer.handle, body, jsep(peer.pc))
        await peer.pc.setRemoteDescription(RTCSessionDescription(**answer["jsep"]))
        return peer
    except BaseException:
        await peer.close()
        raise


async def janus_addresses(client: JanusClient, keys: Any) -> list[str]:
    """The IPv4 host candidates Janus offers (one watch of the mountpoint, then hung up), where they are
    this machine's own addresses; 127.0.0.1 when there is none."""
    import psutil

    from storage.janus import STREAMING

    handle = await client.attach(STREAMING)
    try:
        offer = await client.message(
            handle, {"request": "watch", "id": EVENT_ID, "pin": keys.listen_pin(EVENT_ID, EPOCH)}
        )
    finally:
        await client.detach(handle)
    local = {a.address for addrs in psutil.net_if_addrs().values() for a in addrs}
    found = []
    for line in offer["jsep"]["sdp"].splitlines():
        parts = line.split()
        if line.startswith("a=candidate:") and len(parts) > 7 and parts[7] == "host":
            address = parts[4]
            if "." in address and address in local and address not in found:
                found.append(address)
    return found or ["127.0.0.1"]


async def listen(client: JanusClient, keys: Any, design: str, user_id: int, gate: asyncio.Semaphore) -> Peer:
    async with gate:
        if design == "stream":
            return await watch(client, keys)
        return await join_stage(client, keys, user_id, None)


# --------------------------------------------------------------------------- a listener process


async def worker() -> int:
    """A client process: reads one JSON command a line on stdin, answers one JSON line on stdout."""
    import psutil

    from storage.janus import JanusKeys

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def reply(message: dict) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    init = json.loads(await reader.readline())
    keys = JanusKeys(init["url"], init["token_secret"], init["admin_key"])
    gather_on(init["addresses"])
    client = JanusClient(keys.url, keys.core_token())
    await client.open()
    me = psutil.Process()
    loop_thread = threading.main_thread().native_id  # aiortc decodes in threads of its own
    peers: list[Peer] = []
    reply({"ready": True, "pid": os.getpid()})
    try:
        while line := await reader.readline():
            command = json.loads(line)
            op = command["op"]
            if op == "add":
                gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
                made = await asyncio.gather(
                    *(listen(client, keys, command["design"], u, gate) for u in command["ids"]),
                    return_exceptions=True,
                )
                errors = [repr(m) for m in made if isinstance(m, BaseException)]
                peers.extend(m for m in made if isinstance(m, Peer))
                reply({"connected": len(made) - len(errors), "failed": len(errors), "errors": errors[:3]})
            elif op == "snap":
                cpu = me.cpu_times()
                threads = {t.id: t.user_time + t.system_time for t in me.threads()}
                reply(
                    {
                        "t": time.monotonic(),
                        "cpu": cpu.user + cpu.system,
                        "loop_cpu": threads.get(loop_thread, 0.0),
                        "peers": [p.snapshot() for p in peers],
                        "hangups": client.hangups,
                        "events": client.events,
                    }
                )
            elif op == "clear":
                await asyncio.gather(*(p.close() for p in peers))
                reply({"cleared": len(peers)})
                peers = []
            elif op == "quit":
                break
    finally:
        await asyncio.gather(*(p.close() for p in peers), return_exceptions=True)
        await client.close()
    return 0


class Worker:
    """A listener process (this script with ``--worker``), in a session of its own, stopped by pid."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.pid = proc.pid

    @classmethod
    async def start(cls) -> Worker:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
            start_new_session=True,
            limit=1 << 24,
        )
        return cls(proc)

    async def ask(self, message: dict, timeout_s: float = 60.0) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        await self.proc.stdin.drain()
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout_s)
        if not line:
            raise RuntimeError(f"listener process {self.pid} exited ({self.proc.returncode})")
        return json.loads(line)

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.ask({"op": "quit"}, 5)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.proc.wait(), 20)
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()


# --------------------------------------------------------------------------- measuring


class Meter:
    """CPU of Janus (and its hottest thread), of the clients and of the machine, and every listener's
    audio, between two snapshots."""

    def __init__(self, janus_pid: int, workers: list[Worker]) -> None:
        import psutil

        self.janus = psutil.Process(janus_pid)
        self.me = psutil.Process()
        self.workers = workers

    async def snapshot(self) -> dict:
        import psutil

        answers = await asyncio.gather(*(w.ask({"op": "snap"}) for w in self.workers))
        janus, me = self.janus.cpu_times(), self.me.cpu_times()
        machine = psutil.cpu_times()
        return {
            "t": time.monotonic(),
            "janus": janus.user + janus.system,
            "janus_threads": {t.id: t.user_time + t.system_time for t in self.janus.threads()},
            "speakers": me.user + me.system,
            "machine_busy": sum(machine) - machine.idle - getattr(machine, "iowait", 0.0),
            "workers": answers,
        }

    @staticmethod
    def between(a: dict, b: dict, n: int) -> dict:
        wall = b["t"] - a["t"]
        janus = (b["janus"] - a["janus"]) / wall
        hottest = max(
            (v - a["janus_threads"].get(k, 0.0) for k, v in b["janus_threads"].items()), default=0.0
        )
        speakers = (b["speakers"] - a["speakers"]) / wall
        workers = [
            (wb["cpu"] - wa["cpu"]) / (wb["t"] - wa["t"])
            for wa, wb in zip(a["workers"], b["workers"], strict=True)
        ]
        loops = [
            (wb["loop_cpu"] - wa["loop_cpu"]) / (wb["t"] - wa["t"])
            for wa, wb in zip(a["workers"], b["workers"], strict=True)
        ]
        machine = (b["machine_busy"] - a["machine_busy"]) / wall
        received, levels, intact = [], [], 0
        for wa, wb in zip(a["workers"], b["workers"], strict=True):
            seconds = wb["t"] - wa["t"]
            for pa, pb in zip(wa["peers"], wb["peers"], strict=False):
                share = (pb[0] - pa[0]) / (seconds * RATE)
                measured = pb[2] - pa[2]
                rms = ((pb[1] - pa[1]) / measured) ** 0.5 if measured else 0.0
                received.append(share)
                levels.append(rms)
                intact += share >= INTACT_SHARE and rms >= SILENT_RMS and pb[3]
        clients = speakers + sum(workers)
        return {
            "listeners": n,
            "listeners_seen": len(received),
            "window_s": round(wall, 2),
            "janus_cores": round(janus, 4),
            "janus_hottest_thread_cores": round(hottest / wall, 4),
            "clients_cores": round(clients, 4),
            "speakers_process_cores": round(speakers, 4),
            "listener_process_cores": [round(w, 4) for w in workers],
            "listener_loop_cores": [round(w, 4) for w in loops],
            "machine_busy_cores": round(machine, 4),
            "other_cores": round(max(0.0, machine - janus - clients), 4),
            "intact_listeners": intact,
            "intact": intact == n and len(received) == n,
            "received_share": _spread(received),
            "rms": _spread(levels),
            "hangups": sum(
                wb["hangups"] - wa["hangups"] for wa, wb in zip(a["workers"], b["workers"], strict=True)
            ),
        }


def _spread(values: list[float]) -> dict | None:
    if not values:
        return None
    return {
        "min": round(min(values), 4),
        "median": round(statistics.median(values), 4),
        "max": round(max(values), 4),
    }


def limit_of(step: dict, cores: int) -> str | None:
    """What saturated at this step, if anything: a listener process's event loop (one core: the clients
    limit, going on would measure them), one Janus thread, or the machine (and who used most of it: Janus,
    the clients, or other load on this shared machine)."""
    if max(step["listener_loop_cores"], default=0.0) >= SATURATED:
        return "clients: a listener process's event loop used a whole core"
    if step["janus_hottest_thread_cores"] >= SATURATED:
        return "janus: one of its threads used a whole core"
    if step["machine_busy_cores"] >= SATURATED * cores:
        users = {
            "janus": step["janus_cores"],
            "clients": step["clients_cores"],
            "other load": step["other_cores"],
        }
        top = max(users, key=lambda k: users[k])
        shares = ", ".join(f"{k} {v:.2f}" for k, v in users.items())
        return f"machine CPU saturated ({step['machine_busy_cores']:.2f} of {cores} cores: {shares}; most: {top})"
    return None


def slope(steps: list[dict], key: str) -> float | None:
    """Least-squares slope of ``key`` over the number of listeners, on the intact steps."""
    points = [(s["listeners"], s[key]) for s in steps if s["intact"]]
    if len(points) < 2:
        return None
    mx = statistics.fmean(x for x, _ in points)
    my = statistics.fmean(y for _, y in points)
    var = sum((x - mx) ** 2 for x, _ in points)
    if not var:
        return None
    return sum((x - mx) * (y - my) for x, y in points) / var


async def flowing(workers: list[Worker], timeout_s: float = 20.0) -> None:
    """Until every listener is connected and has decoded audio (or ``timeout_s``: the step will say)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answers = await asyncio.gather(*(w.ask({"op": "snap"}) for w in workers))
        if all(p[0] > 0 and p[3] for a in answers for p in a["peers"]):
            return
        await asyncio.sleep(0.2)


async def ladder(design: str, rungs: list[int], args, workers: list[Worker], rooms, meter: Meter) -> dict:
    cores = os.cpu_count() or 1
    steps: list[dict] = []
    have = 0
    stopped = "max_listeners"
    try:
        for n in rungs:
            t0 = time.perf_counter()
            if n > have:
                ids = list(range(LISTENER_ID0 + have, LISTENER_ID0 + n))
                if design == "bridge":  # the listeners' stage tokens go on the room's allowed list
                    await rooms.speakers(EVENT_ID, [*STAGE, *range(LISTENER_ID0, LISTENER_ID0 + n)])
                parts = [ids[i :: len(workers)] for i in range(len(workers))]
                answers = await asyncio.gather(
                    *(
                        w.ask({"op": "add", "design": design, "ids": part}, 60 + 2.0 * len(part))
                        for w, part in zip(workers, parts, strict=True)
                    )
                )
                failed = sum(a["failed"] for a in answers)
                if failed:
                    log(f"  {design}: {failed} listeners failed to connect: {answers}")
                have = n
            connect_s = time.perf_counter() - t0
            await flowing(workers)
            await asyncio.sleep(args.settle)
            before = await meter.snapshot()
            await asyncio.sleep(args.window)
            after = await meter.snapshot()
            step = Meter.between(before, after, n)
            step["connect_s"] = round(connect_s, 2)
            step["limit"] = limit_of(step, cores)
            steps.append(step)
            received = step["received_share"] or {}
            log(
                f"  {design:>6} N={n:>5}: janus {step['janus_cores'] * 100:6.1f} % "
                f"(hottest thread {step['janus_hottest_thread_cores'] * 100:5.1f} %), "
                f"clients {step['clients_cores'] * 100:6.1f} %, machine {step['machine_busy_cores'] * 100:6.1f} %; "
                f"intact {step['intact_listeners']}/{n}, frames min {received.get('min', 1):.3f}, "
                f"connect {connect_s:.1f} s" + (f"; {step['limit']}" if step["limit"] else "")
            )
            if not step["intact"]:
                stopped = "audio broke: " + (step["limit"] or "nothing saturated (see the step)")
                break
            if step["limit"] and not step["limit"].startswith("machine"):
                stopped = step["limit"]  # one process at a whole core: further rungs measure it, not Janus
                break
    finally:
        await asyncio.gather(*(w.ask({"op": "clear"}, 120) for w in workers), return_exceptions=True)
        if design == "bridge":
            with contextlib.suppress(Exception):
                await rooms.speakers(EVENT_ID, list(STAGE))
        await asyncio.sleep(1.0)
    intact = [s["listeners"] for s in steps if s["intact"]]
    per_listener = slope(steps, "janus_cores")
    clients_per_listener = slope(steps, "clients_cores")
    return {
        "steps": steps,
        "largest_intact": max(intact) if intact else None,
        "stopped": stopped,
        "janus_cpu_pct_per_listener": round(per_listener * 100, 4) if per_listener is not None else None,
        "clients_cpu_pct_per_listener": (
            round(clients_per_listener * 100, 4) if clients_per_listener is not None else None
        ),
        "listeners_per_janus_core": round(1 / per_listener) if per_listener and per_listener > 0 else None,
    }


async def stage_ready(rooms, timeout_s: float = 30.0) -> list[dict]:
    """The host and speakers are on the stage with their media up."""
    deadline = time.monotonic() + timeout_s
    while True:
        participants = await rooms.participants(EVENT_ID)
        ready = [p for p in participants if p.get("setup") and p.get("id") in STAGE]
        if len(ready) == len(STAGE) or time.monotonic() > deadline:
            return participants
        await asyncio.sleep(0.25)


async def bench(args, root: Path, pids: dict[str, int]) -> dict:
    from storage.janus import AudioRooms
    from storage.services import JanusService, janus_keys
    from storage.settings import Settings

    settings = Settings(data_dir=root, janus_rtp_ports=args.rtp_ports)
    janus = JanusService(settings)
    workers: list[Worker] = []
    speakers: list[Peer] = []
    rooms = control = None
    janus.start()
    try:
        proc = janus.process()
        assert proc is not None
        pids["janus"] = proc.pid
        keys = janus_keys(settings, janus.url())
        assert keys is not None
        rooms = AudioRooms(keys, timeout_s=10.0)
        await rooms.ensure(EVENT_ID, list(STAGE), EPOCH)
        control = JanusClient(keys.url, keys.core_token())
        await control.open()
        addresses = await janus_addresses(control, keys)
        gather_on(addresses)
        log(f"janus pid {proc.pid} at {keys.url}; ICE on {addresses}")
        for user_id, hz in STAGE.items():
            speakers.append(await join_stage(control, keys, user_id, hz))
        participants = await stage_ready(rooms)
        log(f"stage: {participants}")
        init = {
            "url": keys.url,
            "token_secret": keys.token_secret,
            "admin_key": keys.admin_key,
            "addresses": addresses,
        }
        for i in range(args.workers):
            workers.append(await Worker.start())
            pids[f"listeners_{i}"] = workers[-1].pid
            ready = await workers[-1].ask(init, 60)
            assert ready.get("ready"), ready
        meter = Meter(proc.pid, workers)
        rungs = [n for n in (QUICK_LADDER if args.quick else LADDER) if n <= args.max_listeners]
        if args.max_listeners not in rungs and args.max_listeners > max(rungs):
            rungs.append(args.max_listeners)
        designs = {}
        for design in DESIGNS:
            log(f"{design}: listeners {rungs}, {args.window:g} s each")
            designs[design] = await ladder(design, rungs, args, workers, rooms, meter)
        stream, bridge = designs["stream"], designs["bridge"]
        ratio = None
        if stream["janus_cpu_pct_per_listener"] and bridge["janus_cpu_pct_per_listener"]:
            ratio = round(bridge["janus_cpu_pct_per_listener"] / stream["janus_cpu_pct_per_listener"], 2)
        return {
            "machine": {"cpus": os.cpu_count()},
            "versions": versions(janus.binary()),
            "settings": {
                "quick": args.quick,
                "window_s": args.window,
                "settle_s": args.settle,
                "workers": args.workers,
                "max_listeners": args.max_listeners,
                "stage": {str(k): v for k, v in STAGE.items()},
                "intact": f">= {INTACT_SHARE:.0%} of 20-ms frames and RMS >= {SILENT_RMS:g} for every listener",
                "ice_addresses": addresses,
            },
            "designs": designs,
            "bridge_vs_stream_cpu_per_listener": ratio,
        }
    finally:
        for worker in workers:
            await worker.stop()
        for peer in speakers:
            await peer.close()
        if control is not None:
            await control.close()
        if rooms is not None:
            with contextlib.suppress(Exception):
                await rooms.destroy(EVENT_ID)
            await rooms.close()
        janus.stop()


def versions(janus_bin: str) -> dict:
    import subprocess

    import aiortc

    out = subprocess.run([janus_bin, "--version"], capture_output=True, text=True, timeout=10).stdout
    janus = next((line.split(":", 1)[1].strip() for line in out.splitlines() if "version" in line), "?")
    return {"janus": janus, "aiortc": aiortc.__version__}


def plot(result: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(8, 4.5))
    colors = {"stream": "#2f6f4f", "bridge": "#a04040"}
    labels = {"stream": "stage + Streaming (chosen)", "bridge": "everyone in one AudioBridge"}
    for design, data in result["designs"].items():
        steps = data["steps"]
        xs = [s["listeners"] for s in steps]
        ax.plot(
            xs,
            [s["janus_cores"] * 100 for s in steps],
            "o-",
            color=colors[design],
            label=f"Janus: {labels[design]}",
        )
        ax.plot(
            xs,
            [s["clients_cores"] * 100 for s in steps],
            ":",
            color=colors[design],
            alpha=0.6,
            label=f"aiortc clients ({design})",
        )
        broken = [s for s in steps if not s["intact"]]
        if broken:
            ax.plot(
                [s["listeners"] for s in broken],
                [s["janus_cores"] * 100 for s in broken],
                "x",
                color="black",
                markersize=10,
            )
    ax.set_xlabel("listeners (one session: host + 3 speakers on the stage)")
    ax.set_ylabel("CPU, % of one core")
    ratio = result.get("bridge_vs_stream_cpu_per_listener")
    ax.set_title(
        "Janus CPU per listener: "
        + ", ".join(f"{d} {v['janus_cpu_pct_per_listener'] or 0:.2f} %" for d, v in result["designs"].items())
        + (f" (×{ratio})" if ratio else "")
        + "\n× = audio not intact",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def left_behind(pids: dict[str, int]) -> list[str]:
    """Every process this run started that still runs, killed (by pid) and named."""
    import psutil

    alive = []
    for name, pid in pids.items():
        try:
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            alive.append(f"{name} {pid} {' '.join(proc.cmdline())[:120]}")
            proc.kill()
        except psutil.Error:
            continue
    return alive


async def run(args, root: Path, pids: dict[str, int]) -> dict:
    # Stopped with SIGTERM: unwind like Ctrl-C, so Janus and the listener processes are stopped too.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await bench(args, root, pids)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="listeners 0, 5, 10, 20; 3-s windows (< 2 min)")
    parser.add_argument(
        "--max-listeners", type=int, default=None, help="the ladder's last rung (default: no cap)"
    )
    parser.add_argument("--window", type=float, default=None, help="seconds measured per step (10; quick 3)")
    parser.add_argument("--settle", type=float, default=None, help="seconds before each window (3; quick 2)")
    parser.add_argument("--workers", type=int, default=2, help="listener processes (2)")
    parser.add_argument("--rtp-ports", default="42000-47999", help="Janus's RTP/ICE port range")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return asyncio.run(worker())
    args.window = args.window or (3.0 if args.quick else 10.0)
    args.settle = args.settle or (2.0 if args.quick else 3.0)
    if args.max_listeners is None:
        args.max_listeners = max(QUICK_LADDER if args.quick else LADDER)

    root = Path(tempfile.mkdtemp(prefix="bench-audio-"))
    pids: dict[str, int] = {}
    t0 = time.perf_counter()
    try:
        result = asyncio.run(run(args, root, pids))
    finally:
        behind = left_behind(pids)
        shutil.rmtree(root, ignore_errors=True)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    result["processes_seen"] = pids
    result["left_behind"] = behind

    log("")
    log(
        f"{'design':>7}  {'janus %/listener':>16}  {'clients %/listener':>18}  {'largest N intact':>16}  stopped"
    )
    for design, d in result["designs"].items():
        log(
            f"{design:>7}  {d['janus_cpu_pct_per_listener']!s:>16}  {d['clients_cpu_pct_per_listener']!s:>18}  "
            f"{d['largest_intact']!s:>16}  {d['stopped']}"
        )
    log(f"bridge / stream, Janus CPU per listener: {result['bridge_vs_stream_cpu_per_listener']}x")
    if behind:
        log(f"LEFT BEHIND (killed): {behind}")
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "bench_audio.json").write_text(json.dumps(result, indent=2) + "\n")
    result["plot"] = plot(result, args.results / "bench_audio.png")
    summary = {
        "janus_cpu_pct_per_listener_stream": result["designs"]["stream"]["janus_cpu_pct_per_listener"],
        "janus_cpu_pct_per_listener_bridge": result["designs"]["bridge"]["janus_cpu_pct_per_listener"],
        "bridge_vs_stream_cpu_per_listener": result["bridge_vs_stream_cpu_per_listener"],
        "largest_intact_stream": result["designs"]["stream"]["largest_intact"],
        "largest_intact_bridge": result["designs"]["bridge"]["largest_intact"],
        "stopped_stream": result["designs"]["stream"]["stopped"],
        "stopped_bridge": result["designs"]["bridge"]["stopped"],
        "left_behind": behind,
        "seconds": result["seconds"],
    }
    print(json.dumps(summary))
    return 1 if behind else 0


if __name__ == "__main__":
    sys.exit(main())
