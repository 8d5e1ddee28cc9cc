"""The engine.io websocket of the gateway, without permessage-deflate.

aiohttp compresses every frame when a client offers permessage-deflate (browsers and Node's
socket.io-client do): each socket then holds a zlib compressor and decompressor (~300 KB) and every
fan-out frame is deflated once per socket. Chat frames are small; neither is worth it here.
"""
import asyncio

from aiohttp.web import WebSocketResponse
from engineio import async_socket as engineio_async_socket
from engineio import exceptions as engineio_exceptions
from engineio.async_drivers import aiohttp as eio_aiohttp


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
        self.environ = environ
        await self.handler(self)
        return self._sock

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


def text_frame(payload: str) -> bytes:
    """One unmasked, uncompressed WebSocket text frame (RFC 6455 §5.2), as a server sends it: the
    same bytes serve every socket, so a room's packet is framed once, not once per member."""
    data = payload.encode()
    n = len(data)
    if n < 126:
        header = bytes((0x81, n))
    elif n < 65536:
        header = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return header + data
