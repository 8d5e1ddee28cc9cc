"""Members made through the public API, HTTP clients bound to distinct loopback addresses, and a
member's REST client."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass

import aiohttp

from support.mail import Inbox
from support.secret_audit import remember

_source_addresses = itertools.count(2)


def loopback_source() -> str:
    """A distinct 127.x.y.z source address, so per-address rate limits of one test never bleed
    into another (all of 127.0.0.0/8 is this machine's loopback)."""
    n = next(_source_addresses)
    return f"127.0.{n // 250}.{n % 250 + 2}"


def client_session(base_url: str, source: str | None = None) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(local_addr=(source or loopback_source(), 0))
    # unsafe: accept cookies from an IP-address host (the refresh cookie of 127.0.0.1). A request that
    # gets no answer fails after two minutes (aiohttp's default is five): a hung gateway should fail a
    # test with its URL, not run into the suite's timeout, whose dump cannot say which request hung.
    return aiohttp.ClientSession(
        base_url=base_url,
        connector=connector,
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        timeout=aiohttp.ClientTimeout(total=120),
    )


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
        resp = await http.post(
            "/api/v1/auth/signup",
            json={"email": email_addr, "password": password, "display_name": display_name},
        )
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


class Api:
    """A member's REST client."""

    def __init__(self, http, member):
        self.http, self.member = http, member
        self.auth = {"Authorization": f"Bearer {member.token}"}

    async def call(self, method, path, json=None, params=None, expect=None):
        resp = await self.http.request(method, f"/api/v1{path}", json=json, params=params, headers=self.auth)
        body = await resp.json() if resp.status != 204 else None
        if expect is not None:
            assert resp.status == expect, (method, path, resp.status, body)
        return resp.status, body
