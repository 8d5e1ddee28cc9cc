"""The container image runs: built by deploy/docker/build.sh (what `make image` runs; cached layers make a
rebuild take seconds), started as `clubhub demo` with the embedded services inside, read-only root filesystem,
no capabilities and its port published on the host's loopback. Through that port a member signs up (the
verification link comes from the dev mailbox, read inside the container: `clubhub mailbox`), logs in, makes a
club and sends a message over Socket.IO that a second socket receives; then SIGTERM stops the container
cleanly (exit 0, the embedded services stopped).

The engine is Docker where `docker info` answers, else podman, installed with apt-get when missing; the test is
skipped, saying why, only when neither can be had.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import aiohttp
import pytest
from support.chat import ChatClient
from support.members import Api, Member, unique_email
from support.secret_audit import remember
from support.wait import wait_for

from storage.services import free_port

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "deploy" / "docker" / "build.sh"
CONTAINERS_CONF = REPO / "deploy" / "docker" / "containers.conf"
BUILD_TIMEOUT_S = 3600  # a machine without a layer cache downloads Ray, LightGBM and the npm tree
READY_TIMEOUT_S = 240
STOP_TIMEOUT_S = 60


def version() -> str:
    match = re.search(r"^version\s*=\s*(\S+)", (REPO / "setup.cfg").read_text(), re.MULTILINE)
    assert match
    return match.group(1)


def engine_or_skip() -> tuple[str, dict[str, str]]:
    """The engine's command and the environment to run it with."""
    env = dict(os.environ)
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "info"], capture_output=True, check=False).returncode == 0:
        return docker, env
    env.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
    podman = shutil.which("podman")
    if podman is None:
        podman = install_podman()
    return podman, env


def install_podman() -> str:
    sudo = [] if os.geteuid() == 0 else [shutil.which("sudo") or ""]
    if not sudo[0] and sudo:
        pytest.skip("podman cannot be installed: it is missing, this is not root and there is no sudo")
    if sudo and subprocess.run([*sudo, "-n", "true"], capture_output=True, check=False).returncode != 0:
        pytest.skip("podman cannot be installed: it is missing and sudo needs a password")
    if shutil.which("apt-get") is None:
        pytest.skip("podman cannot be installed: it is missing and there is no apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    packages = ["podman", "buildah", "runc", "catatonit"]
    install = [*sudo, "apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    proc = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        subprocess.run([*sudo, "apt-get", "update", "-q"], capture_output=True, env=env, check=False)
        proc = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    podman = shutil.which("podman")
    if podman is None:
        pytest.skip(
            f"podman cannot be installed: apt-get said: {(proc.stderr or proc.stdout).strip()[-500:]}"
        )
    return podman


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> tuple[str, str, dict[str, str]]:
    engine, env = engine_or_skip()
    tag = f"clubholohub:{version()}"
    log_path = tmp_path_factory.mktemp("image") / "build.log"
    started = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.run(
            ["bash", str(BUILD)],
            cwd=REPO,
            env={**env, "CLUBHUB_IMAGE": tag},
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
    output = log_path.read_text()
    assert proc.returncode == 0, f"deploy/docker/build.sh failed:\n{output[-6000:]}"
    print(f"image {tag} built in {time.monotonic() - started:.0f} s")
    print("\n".join(line for line in output.splitlines() if line.startswith("make image:")))
    return engine, tag, env


def engine_run(
    engine: str, env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [engine, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


async def test_the_image_serves_chat_and_stops_cleanly(image):
    engine, tag, env = image
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    name = f"clubhub-image-test-{uuid.uuid4().hex[:8]}"
    run = [
        "run",
        "--detach",
        "--name",
        name,
        # As the Helm chart runs it: a read-only root (the volumes /data and /tmp are writable), no capabilities.
        "--read-only",
        "--cap-drop=ALL",
        "--security-opt=no-new-privileges",
        "--shm-size=512m",  # Ray's object store
        "--publish",
        f"127.0.0.1:{port}:8080",
        "--env",
        f"CLUBHUB_PUBLIC_URL={url}",
        "--env",
        "CLUBHUB_RAY_NUM_CPUS=2",
        tag,
        "demo",
    ]
    try:
        started = engine_run(engine, env, *run)
        # A container that failed to start may still exist (created): the finally removes it too.
        assert started.returncode == 0, started.stderr
        await exercise(engine, env, name, url)
        stopped_at = time.monotonic()
        kill = engine_run(engine, env, "kill", "--signal", "TERM", name)
        assert kill.returncode == 0, kill.stderr
        waited = engine_run(engine, env, "wait", name, timeout=STOP_TIMEOUT_S)
        logs = container_logs(engine, env, name)
        assert waited.returncode == 0, waited.stderr
        assert waited.stdout.strip().splitlines()[-1] == "0", (
            f"exit code {waited.stdout.strip()}:\n{logs[-4000:]}"
        )
        print(f"stopped in {time.monotonic() - stopped_at:.1f} s after SIGTERM")
        messages = [entry.get("msg") for entry in json_lines(logs)]
        for expected in ("shutting down", "sockets closed", "stopped local ray", "stopped embedded services"):
            assert expected in messages, f"no {expected!r} in the container's log:\n{logs[-4000:]}"
        assert not [e for e in json_lines(logs) if e.get("level") in ("error", "critical")], logs[-4000:]
    finally:
        engine_run(engine, env, "rm", "--force", "--volumes", name)


async def exercise(engine: str, env: dict[str, str], name: str, url: str) -> None:
    async with aiohttp.ClientSession() as http:

        async def ready():
            state = engine_run(engine, env, "inspect", "--format", "{{.State.Running}}", name).stdout.strip()
            assert state == "true", f"the container stopped:\n{container_logs(engine, env, name)[-4000:]}"
            try:
                async with http.get(f"{url}/readyz") as resp:
                    return resp.status == 200
            except aiohttp.ClientError:
                return False

        began = time.monotonic()
        await wait_for(ready, timeout=READY_TIMEOUT_S, interval=1.0)
        print(f"container ready in {time.monotonic() - began:.0f} s")

    async def mailbox(http, email: str) -> str:
        async def link():
            out = engine_run(engine, env, "exec", name, "clubhub", "mailbox", "--json", email)
            mails = json.loads(out.stdout) if out.returncode == 0 else []
            return mails[0]["link"] if mails else None

        found = await wait_for(link, timeout=30, interval=0.5)
        return re.search(r"token=([A-Za-z0-9_-]+)", found).group(1)

    member = await sign_up(url, mailbox)
    async with aiohttp.ClientSession(base_url=url) as http:
        api = Api(http, member)
        _, club = await api.call(
            "POST",
            "/clubs",
            json={"name": f"image-{uuid.uuid4().hex[:6]}", "description": "", "visibility": "public"},
            expect=201,
        )
        _, rooms = await api.call("GET", f"/clubs/{club['id']}/rooms", expect=200)
        room_id = rooms["rooms"][0]["id"]
    sender, receiver = ChatClient(url, member.token), ChatClient(url, member.token)
    try:
        await sender.connect()
        await receiver.connect()
        await receiver.join(room_id)
        await sender.join(room_id)
        ack = await sender.send(room_id, "hello from the container")
        assert ack["ok"] and ack["seq"] == 1, ack
        await receiver.wait_seqs(room_id, 1)
        assert receiver.messages[room_id][0]["text"] == "hello from the container"
    finally:
        await asyncio.gather(sender.close(), receiver.close())


async def sign_up(url: str, mailbox) -> Member:
    """Signup, the dev mailbox's link, verify, login: from 127.0.0.1 itself (a published loopback port is
    forwarded for that source address, not for the rest of 127.0.0.0/8 that support.members uses)."""
    email, password = unique_email("image"), "correct horse battery"
    async with aiohttp.ClientSession(base_url=url) as http:
        resp = await http.post(
            "/api/v1/auth/signup",
            json={"email": email, "password": password, "display_name": "Container Tester"},
        )
        assert resp.status == 201, await resp.text()
        user_id = (await resp.json())["user_id"]
        token = await mailbox(http, email)
        resp = await http.post("/api/v1/auth/verify", json={"token": token})
        assert resp.status == 200, await resp.text()
        resp = await http.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert resp.status == 200, await resp.text()
        access = (await resp.json())["access_token"]
    remember(password, token, access)
    return Member(user_id, email, password, "Container Tester", access)


def container_logs(engine: str, env: dict[str, str], name: str) -> str:
    out = engine_run(engine, env, "logs", name)
    return out.stdout + out.stderr


def json_lines(text: str) -> list[dict]:
    entries = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return entries
