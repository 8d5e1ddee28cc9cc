"""The engine.io websocket of the gateway, without permessage-deflate.

aiohttp compresses every frame when a client offers permessage-deflate (browsers and Node's
socket.io-client do): each socket then holds a zlib compressor and decompressor (~300 KB) and every
fan-out frame is deflated once per socket. Chat frames are small; neither is worth it here.
"""
from aiohttp.web import WebSocketResponse
from engineio.async_drivers import aiohttp as eio_aiohttp


class UncompressedWebSocket(eio_aiohttp.WebSocket):
    async def __call__(self, environ):
        request = environ["aiohttp.request"]
        self._sock = WebSocketResponse(max_msg_size=self.server.max_http_buffer_size, compress=False)
        await self._sock.prepare(request)
        self.environ = environ
        await self.handler(self)
        return self._sock


def use_uncompressed_websockets(eio_server) -> None:
    # engine.io picks its websocket class from the async driver table; give this server its own copy.
    eio_server._async = {**eio_server._async, "websocket": UncompressedWebSocket}
