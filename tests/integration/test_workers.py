"""``clubhub run --workers 2``: two gateway processes on one port (SO_REUSEPORT) joined to the session's Ray
and services. Both serve sockets, a message crosses from one worker's client to the other's, long-polling is
refused with a reason, and SIGINT to the supervisor ends every worker and exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time

import aiohttp
import psutil
import pytest
import socketio
from support.chat import CLUBHUB, ChatClient, make_club_room
from support.members import make_member
from support.processes import processes_using, terminate
from support.wait import wait_for

from gateway.app import POLLING_REFUSED
from storage.services import free_port

WORKERS = 2


def free_port_pair() -> int:
    """A port whose next one is free too: worker k serves /metrics on base + k."""
    while True:
        base = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", base + 1))
                return base
            except OSError:
                continue


class Workers:
    """``clubhub run --workers 2`` sharing the session's services and Ray (as GatewayProcess does)."""

    def __init__(self, settings, services, ray_address: str, tmp_path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.metrics_base = free_port_pair()
        urls = services.urls()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLUBHUB_") and k != "RAY_ADDRESS"}
        env.update(
            CLUBHUB_DATA_DIR=str(settings.data_path),
            CLUBHUB_POSTGRES_URL=urls["postgres"],
            CLUBHUB_MONGO_URL=urls["mongo"],
            CLUBHUB_REDIS_URL=urls["redis"],
            CLUBHUB_METRICS_PORT=str(self.metrics_base),
            CLUBHUB_USER_MSG_BURST=str(settings.user_msg_burst),
            CLUBHUB_HOUSEKEEPING_S=str(settings.housekeeping_s),
        )
        self.log = tmp_path / "workers.log"
        argv = [CLUBHUB, "run", "--workers", str(WORKERS), "--port", str(self.port)]
        argv += ["--ray-address", ray_address]
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(argv, env=env, stdout=out, stderr=out)

    def tail(self) -> str:
        return self.log.read_text()[-4000:]

    async def open_sockets(self, http: aiohttp.ClientSession) -> list[float] | None:
        """``clubhub_open_sockets`` of each worker (its own /metrics port), or None while one is not up."""
        counts = []
        for k in range(WORKERS):
            try:
                async with http.get(f"http://127.0.0.1:{self.metrics_base + k}/metrics") as resp:
                    text = await resp.text()
            except aiohttp.ClientError:
                return None
            line = next(x for x in text.splitlines() if x.startswith("clubhub_open_sockets "))
            counts.append(float(line.split()[1]))
        return counts

    async def ready(self, http: aiohttp.ClientSession) -> None:
        async def up():
            assert self.proc.poll() is None, self.tail()
            if await self.open_sockets(http) is None:
                return False
            try:
                async with http.get(f"{self.url}/readyz") as resp:
                    return resp.status == 200
            except aiohttp.ClientError:
                return False

        await wait_for(up, timeout=120, interval=0.25)

    def stop(self) -> None:
        terminate(self.proc, 60)


@pytest.fixture
async def workers(gateway, settings, services, ray_cluster, tmp_path):
    w = Workers(settings, services, ray_cluster, tmp_path)
    try:
        yield w
    finally:
        w.stop()


async def test_two_workers_share_a_port_deliver_across_and_stop_on_sigint(gateway, smtp, workers):
    ada, bob = await make_member(gateway.url, smtp, "Ada"), await make_member(gateway.url, smtp, "Bob")
    room = await make_club_room(ada.user_id, [bob.user_id])
    clients: list[ChatClient] = []
    # A fresh connection per /metrics read: kept-alive ones would not tell the workers apart anyway, and
    # each worker's own port does.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        await workers.ready(http)
        supervisor = psutil.Process(workers.proc.pid)
        worker_procs = supervisor.children()
        assert len(worker_procs) == WORKERS, [p.cmdline() for p in worker_procs]

        # Open sockets one at a time until each worker holds one; which worker took a socket is the one
        # whose open-socket count rose. The kernel spreads connections by address: a handful suffices.
        on: dict[int, ChatClient] = {}
        deadline = time.monotonic() + 60
        while len(on) < WORKERS:
            assert time.monotonic() < deadline and len(clients) < 40, (len(clients), list(on))
            before = await workers.open_sockets(http)
            member = (ada, bob)[len(clients) % 2]
            client = await ChatClient(workers.url, member.token).connect()
            clients.append(client)

            async def counted(before=before):
                now = await workers.open_sockets(http)
                return now is not None and sum(now) == sum(before) + 1 and now

            now = await wait_for(counted, timeout=20)
            worker = next(k for k in range(WORKERS) if now[k] == before[k] + 1)
            on.setdefault(worker, client)
        print(f"sockets opened until both workers held one: {len(clients)}")

        try:
            for client in clients:
                await client.join(room.id)
            first, second = on[0], on[1]
            assert (await first.send(room.id, "from worker 0"))["ok"]
            assert (await second.send(room.id, "from worker 1"))["ok"]
            for client in clients:
                assert await client.wait_seqs(room.id, 2) == [1, 2]
                assert [m["text"] for m in client.messages[room.id]] == ["from worker 0", "from worker 1"]

            # Long-polling is refused with the reason (the kernel does not keep a polling session on one
            # worker), over plain HTTP and through a Socket.IO client that asks for it.
            async with http.get(f"{workers.url}/socket.io/?EIO=4&transport=polling") as resp:
                assert resp.status == 422
                assert (await resp.json())["error"] == {"code": "invalid", "message": POLLING_REFUSED}
            polling = socketio.AsyncClient(reconnection=False)
            with pytest.raises(socketio.exceptions.ConnectionError):
                await polling.connect(workers.url, transports=["polling"], auth={"token": ada.token})

            workers.proc.send_signal(signal.SIGINT)
            assert await asyncio.to_thread(workers.proc.wait, 60) == 0, workers.tail()

            async def workers_gone():
                return not [p for p in worker_procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]

            await wait_for(workers_gone, timeout=30)

            async def clients_closed():
                return all(c.disconnected.is_set() for c in clients)

            await wait_for(clients_closed, timeout=20)
        finally:
            for client in clients:
                await client.close()


async def test_workers_start_and_stop_their_own_services_and_ray(tmp_path):
    """With nothing configured the supervisor starts the embedded services and a local Ray once, leaves Ray's
    address for other gateways, refuses a second run on the busy port, and on SIGTERM stops everything."""
    data = tmp_path / "data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLUBHUB_", "RAY_"))}
    log = tmp_path / "workers.log"
    argv = [CLUBHUB, "run", "--workers", str(WORKERS), "--port", str(port)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, env={**env, "CLUBHUB_DATA_DIR": str(data)}, stdout=out, stderr=out)
    try:

        async def listening():
            assert proc.poll() is None, log.read_text()[-4000:]
            return "workers listening" in log.read_text()

        await wait_for(listening, timeout=240, interval=0.5)
        address = (data / "ray" / "address").read_text().strip()
        assert address.startswith("127.0.0.1:"), address
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/readyz") as resp:
            assert resp.status == 200, await resp.text()
        family = psutil.Process(proc.pid).children(recursive=True)
        assert sum(1 for p in family if p.ppid() == proc.pid and "run" in p.cmdline()) >= WORKERS

        # The port is taken (by workers with SO_REUSEPORT): a second run says so and starts nothing.
        second = subprocess.run(
            argv, env={**env, "CLUBHUB_DATA_DIR": str(tmp_path / "other")}, capture_output=True, text=True
        )
        assert second.returncode == 1 and "cannot listen" in second.stderr, second.stderr
        assert not (tmp_path / "other" / "ray").exists()

        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 120) == 0, log.read_text()[-4000:]

        async def family_gone():
            return not [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]

        await wait_for(family_gone, timeout=30)
        assert processes_using(data) == []
        assert not (data / "ray" / "address").exists()
        assert "stopped embedded services" in log.read_text()
    finally:
        if proc.poll() is None:  # a failed check: still stop what it started
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
