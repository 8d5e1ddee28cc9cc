"""The engine.io websocket of the gateway, without permessage-deflate, and refusing malformed frames.

aiohttp compresses every frame when a client offers permessage-deflate (browsers and Node's
socket.io-client do): each socket then holds a zlib compressor and decompressor (~300 KB) and every
fan-out frame is deflated once per socket. Chat frames are small; neither is worth it here.

A frame engine.io or Socket.IO cannot decode (``4\x00garbage``, ``42`` + ``[`` × 5000, a bad binary
attachment, an undecodable polling body) is the client's fault: the socket is dropped and one
rate-limited line is logged (``gateway.core.logs.client_error``), where the libraries would log a traceback or
answer 500. Every other socket and the gateway carry on.
"""

import asyncio
import base64
import binascii
import json
import logging

from aiohttp.web import WebSocketResponse
from engineio import async_socket as engineio_async_socket
from engineio import exceptions as engineio_exceptions
from engineio import json as engineio_json
from engineio import packet as engineio_packet
from engineio import payload as engineio_payload
from engineio.async_drivers import aiohttp as eio_aiohttp
from socketio import packet as socketio_packet

from actors.domain.errors import DomainError
from gateway.core.logs import client_error
from gateway.schemas.common import storable

from .server import refusal

log = logging.getLogger(__name__)

# Exceptions decoding a client's bytes can raise: a client error. Anything else is the server's.
MALFORMED = (ValueError, TypeError, KeyError, IndexError, AttributeError, UnicodeError, binascii.Error)
ENGINEIO_TYPES = frozenset("0123456")  # open, close, ping, pong, message, upgrade, noop


class UncompressedWebSocket(eio_aiohttp.WebSocket):
    async def __call__(self, environ):
        request = environ["aiohttp.request"]
        self._sock = WebSocketResponse(max_msg_size=self.server.max_http_buffer_size, compress=False)
        await self._sock.prepare(request)
        # The engine.io socket this websocket serves (its handler is a bound method of it) learns its
        # transport, so room deliveries can write prepared frames straight to it (see delivery.py).
        owner = self._owner = getattr(self.handler, "__self__", None)
        if owner is not None:
            owner.direct_transport = request.transport
            owner.websocket = self  # so a socket dropped for a malformed packet closes its connection
        self.environ = environ
        await self.handler(self)
        return self._sock

    async def wait(self):
        """The next frame; None (the client is treated as gone) for one engine.io cannot decode."""
        frame = await super().wait()
        if isinstance(frame, str) and not _decodable(frame):
            client_error("malformed_frame", "engine.io frame refused, socket closed", frame=frame[:40])
            return None
        return frame

    async def send(self, message):
        await super().send(message)
        owner = getattr(self, "_owner", None)
        if owner is not None:
            # Packets the writer took from the queue and has not written yet: while any remain, a
            # direct write could overtake them (delivery.py checks this).
            owner.in_flight = max(0, getattr(owner, "in_flight", 1) - 1)


def use_uncompressed_websockets(eio_server) -> None:
    # engine.io picks its websocket class from the async driver table; give this server its own copy.
    eio_server._async = {**eio_server._async, "websocket": UncompressedWebSocket}


def _decodable(frame: str) -> bool:
    """Whether engine.io's ``Packet.decode`` takes this text frame without raising: it reads the first
    character as the packet type (``int()``, so empty, ``x`` or ``²`` raise) and ``b…`` as base64."""
    if not frame:
        return False
    if frame[0] == "b":
        try:
            base64.b64decode(frame[1:])
        except (binascii.Error, ValueError):
            return False
        return True
    return frame[0] in ENGINEIO_TYPES


class SafeJson:
    """engine.io's JSON module (which bounds integer literals), except that nesting too deep for the
    parser (``[`` × 5000) is a ``ValueError`` like any other bad JSON, not a ``RecursionError``."""

    dumps = staticmethod(engineio_json.dumps)
    JSONDecodeError = json.JSONDecodeError

    @staticmethod
    def loads(*args, **kwargs):
        try:
            return engineio_json.loads(*args, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


async def _handle_post_request(self, environ):
    """engine.io's long-polling POST, where a body that does not decode drops the socket (engine.io
    answers 400 and disconnects on an ``EngineIOError``) instead of logging a traceback."""
    length = int(environ.get("CONTENT_LENGTH", "0"))
    if length > self.server.max_http_buffer_size:
        raise engineio_exceptions.ContentTooLongError()
    body = await environ["wsgi.input"].read(length)
    try:
        packets = engineio_payload.Payload(encoded_payload=body.decode("utf-8")).packets
        if any(str(pkt.packet_type) not in ENGINEIO_TYPES for pkt in packets):
            raise ValueError("unknown engine.io packet type")
    except MALFORMED:
        client_error("malformed_frame", "engine.io polling body refused, socket closed", frame=body[:40])
        await drop(self)  # before engine.io's own disconnect, which waits for a GET to drain the queue
        raise engineio_exceptions.EngineIOError() from None
    for pkt in packets:
        await self.receive(pkt)


async def drop(socket) -> None:
    """Close an engine.io socket now: ``AsyncServer.disconnect`` would wait until the client fetched its
    close packet (a long-polling client that never does would hold the request forever), and a
    websocket would stay open until the client's next frame."""
    if socket.closed or socket.closing:
        return
    await socket.close(wait=False, reason=socket.server.reason.SERVER_DISCONNECT)
    websocket = getattr(socket, "websocket", None)
    if websocket is not None:
        await websocket.close()


def refuse_malformed_packets(sio) -> None:
    """Make the server drop, with one log line, a socket whose frame engine.io or Socket.IO cannot decode.

    The websocket transport checks frames in ``UncompressedWebSocket.wait``; this covers JSON nested
    too deeply (both packet layers), long-polling bodies, and Socket.IO packets that do not decode
    (``4\x00garbage``: packet type ``\x00``; ``42{}``: an event that is not a list; a binary
    attachment whose placeholder is wrong). Event handlers run as their own tasks, so an exception
    that escapes Socket.IO's message handler comes from decoding the client's packet.
    """
    engineio_packet.Packet.json = SafeJson
    socketio_packet.Packet.json = SafeJson
    engineio_async_socket.AsyncSocket.handle_post_request = _handle_post_request
    eio = sio.eio
    handle_message = eio.handlers["message"]

    async def on_message(eio_sid, data):
        try:
            await handle_message(eio_sid, data)
        except MALFORMED as exc:
            sample = data[:40] if isinstance(data, (str, bytes)) else type(data).__name__
            client_error(
                "malformed_packet", f"Socket.IO packet refused, socket closed: {exc}"[:200], frame=sample
            )
            sio._binary_packet.pop(eio_sid, None)
            socket = eio.sockets.get(eio_sid)
            if socket is not None:
                await drop(socket)

    eio.on("message", on_message)

    handle_event = sio._handle_event

    async def on_event(eio_sid, namespace, id, data):
        # Checked before Socket.IO looks the name up (a list as a name is unhashable) and calls the
        # handler with every argument (a handler takes one payload): both would fail in a task of
        # their own, with a traceback and no answer.
        if (
            not (isinstance(data, list) and data and isinstance(data[0], str))
            or data[0] in sio.reserved_events
        ):
            raise ValueError("an event is a list that starts with the name of a client event")
        problem = f"{data[0]} takes one payload" if len(data) > 2 else None
        if problem is None:
            try:
                storable(data[1:])  # the REST rule: no lone surrogates, no NUL (see schemas.common.storable)
            except DomainError as exc:
                problem = exc.message
        if problem is not None:
            namespace = namespace or "/"
            sid = sio.manager.sid_from_eio_sid(eio_sid, namespace)
            if id is not None and sid is not None and sio.manager.is_connected(sid, namespace):
                body = refusal(DomainError("invalid", problem))
                await sio._send_packet(
                    eio_sid, sio.packet_class(socketio_packet.ACK, namespace=namespace, data=[body], id=id)
                )
            return
        await handle_event(eio_sid, namespace, id, data)

    sio._handle_event = on_event


async def _poll(self):
    """engine.io's ``AsyncSocket.poll`` without ``asyncio.wait_for``: on Python 3.11 each
    ``wait_for`` wraps the queue read in a new Task, once per frame per socket (a fifth of the gateway's
    CPU under fan-out, measured with py-spy). Same semantics: the next packets, [] when closed,
    ``QueueEmpty`` after ping_interval + ping_timeout without any."""
    queue = self.queue
    try:
        if queue.empty():
            async with asyncio.timeout(self.server.ping_interval + self.server.ping_timeout):
                first = await queue.get()
        else:
            first = queue.get_nowait()
        queue.task_done()
    except (TimeoutError, asyncio.CancelledError):
        raise engineio_exceptions.QueueEmpty() from None
    if first is None:
        return []
    packets = [first]
    while not queue.empty():
        pkt = queue.get_nowait()
        queue.task_done()
        if pkt is None:
            queue.put_nowait(None)
            break
        packets.append(pkt)
    self.in_flight = len(packets)
    return packets


def use_fast_poll() -> None:
    engineio_async_socket.AsyncSocket.poll = _poll
