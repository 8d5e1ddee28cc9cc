"""One set of real services and one Ray instance per test session.

The services are the project's own embedded ones, started under a temporary data dir (or the
external ones named by ``CLUBHUB_*_URL``); nothing is mocked.
"""
from __future__ import annotations

import email
import email.policy
import itertools
import os
import re
import time
import uuid
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web

from actors import runtime
from gateway.app import create_app, runner_options
from gateway.backends import BACKENDS, Backends
from storage.services import Services, free_port
from storage.settings import Settings

# Every log line of the run is audited for passwords and tokens (tests/secret_audit.py).
pytest_plugins = ["secret_audit"]
pytest.register_assert_rewrite("secret_audit")
from secret_audit import remember  # noqa: E402


class Inbox:
    """Mail received by a real SMTP server (aiosmtpd) running for the test session."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(msg)
        return "250 Message accepted for delivery"

    async def wait_for(self, to: str, count: int = 1, timeout: float = 10.0):
        async def arrived():
            mine = [m for m in self.messages if m["To"] == to]
            return mine if len(mine) >= count else None

        return (await wait_for(arrived, timeout=timeout))[-1]

    @staticmethod
    def token_of(message) -> str:
        match = re.search(r"/verify\?token=([A-Za-z0-9_-]+)", message.get_content())
        assert match, message.get_content()
        remember(match.group(1))
        return match.group(1)


@pytest.fixture(scope="session")
def smtp():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.url = f"smtp://127.0.0.1:{controller.port}"
    yield inbox
    controller.stop()


@pytest.fixture(scope="session")
def settings(tmp_path_factory, smtp) -> Settings:
    # A burst of 40 lets tests send a few dozen messages in a row; the flood test goes past it.
    return Settings(data_dir=tmp_path_factory.mktemp("clubhub-data"), ray_num_cpus=os.cpu_count() or 2,
                    smtp_url=smtp.url, user_msg_burst=40, housekeeping_s=1.0, metrics_port=0,
                    socket_connect_timeout_s=3.0,
                    # Most test clients share 127.0.0.1: per-address limits are tested with addresses of their own.
                    ip_event_rate=1e6, ip_event_burst=1e6, max_sockets_per_ip=1000)


@pytest.fixture(scope="session")
def services(settings):
    svc = Services(settings)
    started = svc.up()
    yield svc
    svc.down(started)


@pytest.fixture(scope="session")
def ray_cluster(settings):
    started = runtime.start_ray(settings)
    yield runtime.gcs_address()
    if started:
        runtime.stop_ray()


@dataclass
class Gateway:
    url: str
    app: web.Application
    runner: web.AppRunner | None = None  # to add a listener on another address (tests/test_hardening.py)

    @property
    def backends(self) -> Backends:
        return self.app[BACKENDS]


@pytest.fixture(scope="session")
async def gateway(settings, services, ray_cluster):
    app = create_app(settings)
    runner = web.AppRunner(app, **runner_options(settings))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield Gateway(f"http://127.0.0.1:{port}", app, runner)
    await runner.cleanup()


_source_addresses = itertools.count(2)


def loopback_source() -> str:
    """A distinct 127.x.y.z source address, so per-address rate limits of one test never bleed
    into another (all of 127.0.0.0/8 is this machine's loopback)."""
    n = next(_source_addresses)
    return f"127.0.{n // 250}.{n % 250 + 2}"


def client_session(base_url: str, source: str | None = None) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(local_addr=(source or loopback_source(), 0))
    # unsafe: accept cookies from an IP-address host (the refresh cookie of 127.0.0.1).
    return aiohttp.ClientSession(base_url=base_url, connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True))


@pytest.fixture
async def http(gateway):
    async with client_session(gateway.url) as session:
        yield session


@dataclass
class Member:
    user_id: int
    email: str
    password: str
    display_name: str
    token: str


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.org"


async def make_member(base_url: str, mailbox, display_name: str = "Tester") -> Member:
    """A verified, logged-in member made through the public API: signup, mail, verify, login.
    ``mailbox`` is the session's SMTP ``Inbox`` or an async function email -> token."""
    email_addr, password = unique_email(), "correct horse battery"
    async with client_session(base_url) as http:
        resp = await http.post("/api/v1/auth/signup",
                               json={"email": email_addr, "password": password, "display_name": display_name})
        assert resp.status == 201, await resp.text()
        user_id = (await resp.json())["user_id"]
        if isinstance(mailbox, Inbox):
            token = Inbox.token_of(await mailbox.wait_for(email_addr))
        else:
            token = await mailbox(http, email_addr)
        resp = await http.post("/api/v1/auth/verify", json={"token": token})
        assert resp.status == 200, await resp.text()
        resp = await http.post("/api/v1/auth/login", json={"email": email_addr, "password": password})
        assert resp.status == 200, await resp.text()
        access = (await resp.json())["access_token"]
        remember(password, token, access, *(c.value for c in http.cookie_jar if c.key == "clubhub_refresh"))
    return Member(user_id, email_addr, password, display_name, access)


@pytest.fixture
async def member(gateway, smtp) -> Member:
    return await make_member(gateway.url, smtp)


async def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    """Poll an async predicate until it returns a truthy value or the deadline passes."""
    import asyncio

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await predicate()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")
