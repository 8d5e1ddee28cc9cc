"""Live sessions' audio on the Janus WebRTC Server: the keys, the tokens and an async client of its API.

The shape (``docs/audio.md``): each live session has an AudioBridge room, the *stage*, that only its host
and speakers join — AudioBridge decodes their Opus, mixes it and encodes it once per participant — and
the room's mix is forwarded over RTP (loopback) to a Streaming mountpoint that the audience watches.
The Streaming plugin relays the same packets to every listener without decoding or encoding anything,
and a listener's PeerConnection there is receive-only: the audience has no path to publish at all.

Every secret is derived here, in one place, from the Janus secrets the gateway and the actors share
(``JanusKeys``): the room secret (kick, allowed list, destroy; never leaves the server), the per-user
stage token (AudioBridge's ``allowed`` list holds the tokens of the host and current speakers only),
and the mountpoint's PIN, which changes with the session's ``audio_epoch`` (a member removed from the
session while listening re-keys the stream: everyone else re-watches with the new PIN, they cannot).
Browsers also need a core token for Janus's own ``token_auth``: HMAC-SHA1 signed, short-lived.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import websockets
from websockets.typing import Subprotocol

log = logging.getLogger(__name__)

AUDIOBRIDGE = "janus.plugin.audiobridge"
STREAMING = "janus.plugin.streaming"
PLUGINS = (AUDIOBRIDGE, STREAMING)
CORE_TOKEN_TTL_S = 6 * 3600  # a browser asks for fresh credentials (live:join) when it reconnects
KEEPALIVE_S = 25.0  # Janus drops a session after 60 s without a request
# Errors that mean "already gone": destroying twice, or kicking someone who left, is success.
NO_SUCH_ROOM = {485, 455}  # AudioBridge, Streaming
NO_SUCH_USER = {492}
# The server's own participant on each stage: it sends nothing and is never kicked; it is there to hear
# AudioBridge's talking events, which go to the room's participants only.
MONITOR_ID = 2**53 - 1


class JanusError(Exception):
    """Janus refused a request (``code`` is its error code) or did not answer in time (``code`` 0)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"janus {code}: {reason}")
        self.code = code
        self.reason = reason


def _mac(key: str, data: str, length: int = 32) -> str:
    digest = hmac.new(key.encode(), data.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:length]


@dataclass(frozen=True)
class JanusKeys:
    """The Janus secrets (``token_secret``: core token_auth; ``admin_key``: the plugins' admin key, also
    the root every per-session secret is derived from)."""

    url: str
    token_secret: str
    admin_key: str

    def core_token(self, ttl_s: int = CORE_TOKEN_TTL_S, now: float | None = None) -> str:
        """A token Janus's ``token_auth_secret`` accepts for the two plugins, until it expires."""
        expiry = int((now if now is not None else time.time()) + ttl_s)
        data = f"{expiry},janus,{','.join(PLUGINS)}"
        signature = hmac.new(self.token_secret.encode(), data.encode(), hashlib.sha1).digest()
        return f"{data}:{base64.b64encode(signature).decode()}"

    def room_secret(self, event_id: int) -> str:
        return _mac(self.admin_key, f"room:{event_id}")

    def stage_token(self, event_id: int, user_id: int) -> str:
        """What user ``user_id`` passes to join session ``event_id``'s stage (valid while on the allowed list)."""
        return _mac(self.admin_key, f"stage:{event_id}:{user_id}", 24)

    def monitor_token(self, event_id: int) -> str:
        return _mac(self.admin_key, f"monitor:{event_id}", 24)

    def listen_pin(self, event_id: int, epoch: int) -> str:
        return _mac(self.admin_key, f"listen:{event_id}:{epoch}", 24)


class Janus:
    """One WebSocket connection to Janus's API with one Janus session and a handle on each plugin;
    requests are matched to answers by transaction. ``request`` is bounded by ``timeout_s``; a lost
    connection fails every waiting request and the next request reconnects."""

    def __init__(self, keys: JanusKeys, timeout_s: float = 2.0, token: str | None = None) -> None:
        self.keys = keys
        self.timeout_s = timeout_s
        self._fixed_token = token  # a member's client holds a token it was given, not the secret
        self._token = ""
        self._ws: Any = None
        self._session: int | None = None
        self._handles: dict[str, int] = {}
        self._waiting: dict[str, asyncio.Future[dict]] = {}
        self._ids = itertools.count(1)
        self._connecting: asyncio.Lock | None = None
        self._tasks: list[asyncio.Task] = []
        # Rises with every new connection: a Janus that restarted has forgotten its rooms, so whatever
        # was applied on an older connection is to be applied again.
        self.generation = 0
        # A plugin event nobody asked for (a handle's ``sender`` id, its data): talking, kicked...
        self.on_event: Callable[[int, dict], None] | None = None

    async def _send(self, message: dict) -> dict:
        transaction = f"t{next(self._ids)}"
        future: asyncio.Future[dict] = asyncio.get_running_loop().create_future()
        self._waiting[transaction] = future
        try:
            await self._ws.send(json.dumps({**message, "transaction": transaction, "token": self._token}))
            return await asyncio.wait_for(future, self.timeout_s)
        except TimeoutError:
            raise JanusError(0, f"no answer to {message.get('janus')} in {self.timeout_s}s") from None
        except websockets.ConnectionClosed as exc:
            raise JanusError(0, f"connection lost: {exc}") from None
        finally:
            self._waiting.pop(transaction, None)

    async def _connect(self) -> None:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._ws is not None:
                return
            self._token = self._fixed_token or self.keys.core_token()
            try:
                ws = await asyncio.wait_for(
                    websockets.connect(
                        self.keys.url,
                        subprotocols=[Subprotocol("janus-protocol")],
                        max_size=4 << 20,
                        ping_interval=None,
                    ),
                    self.timeout_s,
                )
            except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
                raise JanusError(0, f"cannot reach {self.keys.url}: {exc}") from None
            self._ws = ws
            self.generation += 1
            self._tasks = [asyncio.create_task(self._read(ws))]
            try:
                created = await self._send({"janus": "create"})
                self._session = created["data"]["id"]
                for plugin in PLUGINS:
                    attached = await self._send(
                        {"janus": "attach", "plugin": plugin, "session_id": self._session}
                    )
                    self._handles[plugin] = attached["data"]["id"]
            except (JanusError, KeyError, TypeError) as exc:
                await self._drop(ws)
                raise JanusError(0, f"no Janus session: {exc}") from None
            self._tasks.append(asyncio.create_task(self._keepalive(ws)))

    async def _read(self, ws: Any) -> None:
        try:
            async for raw in ws:
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue
                if message.get("janus") == "ack":
                    continue  # the answer follows (plugin requests here are all synchronous)
                future = self._waiting.get(message.get("transaction", ""))
                if future is not None and not future.done():
                    future.set_result(message)
                elif message.get("janus") == "event" and self.on_event is not None:
                    data = (message.get("plugindata") or {}).get("data") or {}
                    self.on_event(int(message.get("sender") or 0), data)
        except websockets.ConnectionClosed:
            pass
        finally:
            await self._drop(ws)

    async def _keepalive(self, ws: Any) -> None:
        while self._ws is ws:
            await asyncio.sleep(KEEPALIVE_S)
            with contextlib.suppress(JanusError):
                await self._send({"janus": "keepalive", "session_id": self._session})

    async def _drop(self, ws: Any) -> None:
        if self._ws is not ws:
            return
        self._ws, self._session, self._handles = None, None, {}
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(JanusError(0, "connection lost"))
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        self._tasks = []
        with contextlib.suppress(Exception):
            await ws.close()

    async def attach(self, plugin: str) -> int:
        """Another handle on ``plugin`` (one AudioBridge handle is one participant in one room)."""
        if self._ws is None:
            await self._connect()
        attached = await self._send({"janus": "attach", "plugin": plugin, "session_id": self._session})
        return int(attached["data"]["id"])

    async def request(self, plugin: str, body: dict, handle: int | None = None) -> dict:
        """A plugin request on the plugin's shared handle (or ``handle``); its ``data`` on success, else
        ``JanusError``."""
        if self._ws is None:
            await self._connect()
        answer = await self._send(
            {
                "janus": "message",
                "session_id": self._session,
                "handle_id": handle if handle is not None else self._handles[plugin],
                "body": body,
            }
        )
        if answer.get("janus") == "error":
            error = answer.get("error") or {}
            raise JanusError(int(error.get("code", 0)), str(error.get("reason", "error")))
        data = (answer.get("plugindata") or {}).get("data") or {}
        if "error_code" in data:
            raise JanusError(int(data["error_code"]), str(data.get("error", "error")))
        return data

    async def close(self) -> None:
        if self._ws is not None:
            await self._drop(self._ws)


class AudioRooms:
    """The Janus side of live sessions' audio: a stage and a listening stream per session, kept equal to
    what the session says (who may speak, the listening epoch, live or ended). Every call is idempotent,
    so a host that restarts, or retries after a failure, just says the whole truth again."""

    def __init__(
        self, keys: JanusKeys, timeout_s: float = 2.0, talking_packets: int = 25, talking_dbov: int = 55
    ) -> None:
        self.keys = keys
        self.janus = Janus(keys, timeout_s)
        self.janus.on_event = self._event
        # AudioBridge says someone is talking when the average level (dBov: 0 loudest, 127 silence) of
        # their last ``talking_packets`` packets (20 ms each) is below ``talking_dbov``.
        self.talking_packets = talking_packets
        self.talking_dbov = talking_dbov
        # (user_id, talking) per session, from the stage's monitor participant.
        self.on_talking: Callable[[int, int, bool], None] | None = None
        self._monitors: dict[int, tuple[int, int]] = {}  # event -> (Janus connection, monitor handle)
        self._monitored: dict[int, int] = {}  # monitor handle -> event

    def _event(self, handle: int, data: dict) -> None:
        event_id = self._monitored.get(handle)
        if event_id is None or self.on_talking is None:
            return
        kind = data.get("audiobridge")
        if kind in ("talking", "stopped-talking"):
            self._talking(event_id, data.get("id"), kind == "talking")
            return
        # Muting, leaving or being kicked stops the packets, so no "stopped-talking" follows: say it here.
        for key in ("leaving", "kicked"):
            self._talking(event_id, data.get(key), False)
        for participant in data.get("participants") or ():
            if isinstance(participant, dict) and participant.get("muted"):
                self._talking(event_id, participant.get("id"), False)

    def _talking(self, event_id: int, user_id: object, talking: bool) -> None:
        if isinstance(user_id, int) and user_id != MONITOR_ID and self.on_talking is not None:
            self.on_talking(event_id, user_id, talking)

    async def monitor(self, event_id: int) -> None:
        """The server's own participant is on the stage (once per Janus connection), to hear who talks."""
        known = self._monitors.get(event_id)
        if known is not None and known[0] == self.janus.generation:
            return
        handle = await self.janus.attach(AUDIOBRIDGE)
        self._monitored[handle] = event_id
        join = {
            "request": "join",
            "room": event_id,
            "id": MONITOR_ID,
            "token": self.keys.monitor_token(event_id),
            "muted": True,
            "display": "clubhub",
        }
        try:
            try:
                await self.janus.request(AUDIOBRIDGE, join, handle=handle)
            except JanusError as exc:
                if exc.code != 490:  # "ID exists": an earlier host's monitor, whose session is going
                    raise
                await self.kick(event_id, MONITOR_ID)
                await self.janus.request(AUDIOBRIDGE, join, handle=handle)
        except JanusError:
            self._monitored.pop(handle, None)
            raise
        self._monitors[event_id] = (self.janus.generation, handle)
        if len(self._monitored) > 4 * max(len(self._monitors), 256):  # handles of older connections
            live = {h for _, h in self._monitors.values()}
            self._monitored = {h: e for h, e in self._monitored.items() if h in live}

    async def _ab(self, body: dict) -> dict:
        return await self.janus.request(AUDIOBRIDGE, body)

    async def _st(self, body: dict) -> dict:
        return await self.janus.request(STREAMING, body)

    async def ensure(self, event_id: int, speakers: Iterable[int], epoch: int) -> None:
        """The stage exists with ``speakers`` on its allowed list, and its mix reaches the stream."""
        secret = self.keys.room_secret(event_id)
        exists = await self._ab({"request": "exists", "room": event_id})
        if not exists.get("exists"):
            try:
                await self._ab(
                    {
                        "request": "create",
                        "room": event_id,
                        "admin_key": self.keys.admin_key,
                        "secret": secret,
                        "is_private": True,
                        "permanent": False,
                        "sampling_rate": 48000,
                        "audiolevel_event": True,
                        "audio_active_packets": self.talking_packets,
                        "audio_level_average": self.talking_dbov,
                        "allowed": [
                            self.keys.monitor_token(event_id),
                            *(self.keys.stage_token(event_id, u) for u in speakers),
                        ],
                    }
                )
            except JanusError as exc:
                if exc.code != 486:  # "room already exists": another host created it in between
                    raise
        port = await self._stream(event_id, epoch)
        if port is not None:  # a new stream: the stage's mix goes to it (an older forwarder went with it)
            await self._ab(
                {
                    "request": "rtp_forward",
                    "room": event_id,
                    "secret": secret,
                    "admin_key": self.keys.admin_key,
                    "host": "127.0.0.1",
                    "port": port,
                    "ptype": 100,
                    "codec": "opus",
                    "always_on": True,
                }
            )

    async def _stream(self, event_id: int, epoch: int) -> int | None:
        """The mountpoint exists; its port when it was created now (None when it was there already)."""
        secret = self.keys.room_secret(event_id)
        try:
            await self._st({"request": "info", "id": event_id, "secret": secret})
            return None
        except JanusError as exc:
            if exc.code not in NO_SUCH_ROOM:
                raise
        created = await self._st(
            {
                "request": "create",
                "admin_key": self.keys.admin_key,
                "type": "rtp",
                "id": event_id,
                "name": f"live-{event_id}",
                "secret": secret,
                "pin": self.keys.listen_pin(event_id, epoch),
                "metadata": f"epoch={epoch}",
                "is_private": True,
                "permanent": False,
                "media": [{"type": "audio", "mid": "a", "port": 0, "pt": 100, "codec": "opus"}],
            }
        )
        return int(created["stream"]["ports"][0]["port"])

    async def speakers(self, event_id: int, speakers: Iterable[int]) -> None:
        """Exactly ``speakers`` may join the stage; anyone else on it is kicked (their token is gone first,
        so they cannot come back)."""
        secret = self.keys.room_secret(event_id)
        wanted = {self.keys.stage_token(event_id, u): u for u in speakers}
        wanted[self.keys.monitor_token(event_id)] = MONITOR_ID
        current = await self._ab(
            {
                "request": "allowed",
                "action": "add",
                "room": event_id,
                "secret": secret,
                "allowed": list(wanted),
            }
        )
        extra = [t for t in current.get("allowed", []) if t not in wanted]
        if extra:
            await self._ab(
                {
                    "request": "allowed",
                    "action": "remove",
                    "room": event_id,
                    "secret": secret,
                    "allowed": extra,
                }
            )
        await self._ab({"request": "allowed", "action": "enable", "room": event_id, "secret": secret})
        listed = await self._ab({"request": "listparticipants", "room": event_id})
        ids = set(wanted.values())
        for participant in listed.get("participants", []):
            if participant.get("id") not in ids:
                await self.kick(event_id, participant.get("id"))

    async def allowed(self, event_id: int) -> set[str]:
        """The stage's allowed tokens, as Janus holds them."""
        secret = self.keys.room_secret(event_id)
        body = {"request": "allowed", "action": "add", "room": event_id, "secret": secret, "allowed": []}
        return set((await self._ab(body)).get("allowed", []))

    async def kick(self, event_id: int, participant_id: Any) -> None:
        try:
            await self._ab(
                {
                    "request": "kick",
                    "room": event_id,
                    "secret": self.keys.room_secret(event_id),
                    "id": participant_id,
                }
            )
        except JanusError as exc:
            if exc.code not in NO_SUCH_USER:
                raise

    async def listen_epoch(self, event_id: int) -> int | None:
        info = await self._st({"request": "info", "id": event_id, "secret": self.keys.room_secret(event_id)})
        metadata = str((info.get("info") or {}).get("metadata") or "")
        return int(metadata[6:]) if metadata.startswith("epoch=") and metadata[6:].isdigit() else None

    async def rekey(self, event_id: int, epoch: int) -> None:
        """The stream takes the PIN of ``epoch`` and every listener is cut off: the members still in the
        session watch again with the new PIN (their client asks for it), a removed one cannot."""
        secret = self.keys.room_secret(event_id)
        await self._st(
            {
                "request": "edit",
                "id": event_id,
                "secret": secret,
                "new_pin": self.keys.listen_pin(event_id, epoch),
                "new_metadata": f"epoch={epoch}",
            }
        )
        await self._st({"request": "kick_all", "id": event_id, "secret": secret})

    async def destroy(self, event_id: int) -> None:
        """The session ended: the stage and the stream go, and Janus hangs up every peer on them."""
        secret = self.keys.room_secret(event_id)
        known = self._monitors.pop(event_id, None)
        if known is not None:
            self._monitored.pop(known[1], None)
        for plugin, body in (
            (AUDIOBRIDGE, {"request": "destroy", "room": event_id, "secret": secret}),
            (STREAMING, {"request": "destroy", "id": event_id, "secret": secret}),
        ):
            try:
                await self.janus.request(plugin, body)
            except JanusError as exc:
                if exc.code not in NO_SUCH_ROOM:
                    raise

    async def participants(self, event_id: int) -> list[dict]:
        """Who is on the stage now, the server's monitor aside (tests check what Janus itself says)."""
        listed = (await self._ab({"request": "listparticipants", "room": event_id})).get("participants", [])
        return [p for p in listed if p.get("id") != MONITOR_ID]

    async def close(self) -> None:
        await self.janus.close()
