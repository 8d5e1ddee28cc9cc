"""``clubhub run`` end to end: a cold start to ready, then a signal stops everything it started."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import psutil
import pytest
import socketio
from support.members import make_member
from support.processes import processes_using
from support.wait import wait_for

from storage.services import free_port

CLUBHUB = str(Path(sys.executable).parent / "clubhub")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_run_until_signal_leaves_no_process(tmp_path, sig):
    data = tmp_path / "data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLUBHUB_", "RAY_"))}
    env["CLUBHUB_DATA_DIR"] = str(data)
    log_path = tmp_path / "gateway.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([CLUBHUB, "run", "--port", str(port)], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:

            async def ready():
                assert proc.poll() is None, log_path.read_text()[-3000:]
                try:
                    async with http.get(f"{url}/readyz") as resp:
                        return resp.status == 200
                except aiohttp.ClientError:
                    return False

            started = time.monotonic()
            await wait_for(ready, timeout=120, interval=0.25)
            print(f"cold start to ready: {time.monotonic() - started:.1f}s")
        family = psutil.Process(proc.pid).children(recursive=True)
        assert family, "services and Ray run as children of the gateway"

        member = await make_member(url, dev_mailbox_token)
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(url, transports=["websocket"], auth={"token": member.token})
        assert client.connected

        proc.send_signal(sig)
        assert await _exit_code(proc, 60) == 0, log_path.read_text()[-3000:]

        async def client_closed():
            return not client.connected

        await wait_for(client_closed, timeout=10)

        async def family_gone():
            return not [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]

        await wait_for(family_gone, timeout=30)
        assert processes_using(data) == []
    finally:
        if proc.poll() is None:
            proc.kill()

    # Our own log lines are JSON objects, one per line.
    ours = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    messages = [entry["msg"] for entry in ours]
    assert "backends ready" in messages and "stopped embedded services" in messages


async def _exit_code(proc: subprocess.Popen, timeout: float) -> int:
    async def exited():
        return proc.poll() is not None

    await wait_for(exited, timeout=timeout)
    return proc.returncode


async def dev_mailbox_token(http: aiohttp.ClientSession, email: str) -> str:
    """Without CLUBHUB_SMTP_URL in dev, the verification mail lands in the dev mailbox."""
    resp = await http.get("/api/v1/dev/mailbox", params={"email": email})
    assert resp.status == 200, await resp.text()
    (mail,) = (await resp.json())["messages"]
    assert mail["to"] == email and mail["link"] and "/verify?token=" in mail["link"]
    token = mail["link"].split("token=")[1]
    assert token in mail["body"]
    return token
