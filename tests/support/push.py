"""Web Push as a browser and a push service see it: a subscription's key pair and auth secret (RFC 8291),
and a push service on loopback that records what it was sent."""

from __future__ import annotations

import asyncio
import base64
import json
import os

import http_ece
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


class Browser:
    """A browser's side of one subscription: its P-256 key pair and auth secret (RFC 8291)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)

    @property
    def subscription(self) -> dict:
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"endpoint": self.endpoint, "keys": {"p256dh": b64url(point), "auth": b64url(self.auth)}}

    def decrypt(self, body: bytes) -> dict:
        return json.loads(
            http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm")
        )


class PushService:
    """A push service on 127.0.0.1: ``/ok/<name>`` takes a message (201), ``/gone/<name>`` answers 410,
    ``/missing/<name>`` 404, ``/slow/<name>`` answers nothing for a long while."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict, bytes]] = []
        self.url = ""
        self.runner: web.AppRunner | None = None
        self.release = asyncio.Event()  # lets the slow handlers end at cleanup

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{kind}/{name}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append((request.path, dict(request.headers), body))
        kind = request.match_info["kind"]
        if kind == "slow":
            try:
                await asyncio.wait_for(self.release.wait(), 30)
            except TimeoutError:
                pass
        status = {"ok": 201, "gone": 410, "missing": 404}.get(kind, 500)
        return web.Response(status=status)

    def to(self, path: str) -> list[tuple[dict, bytes]]:
        return [(h, b) for p, h, b in self.received if p == path]
