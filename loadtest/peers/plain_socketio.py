"""The minimal broadcast chat on plain python-socketio (aiohttp + uvloop): the baseline of the chat
benchmark. No auth, no storage, no ordering guarantees: fan-out alone."""
import sys

import socketio
import uvloop
from aiohttp import web

sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*")
app = web.Application()
sio.attach(app)


@sio.on("join")
async def join(sid, data):
    await sio.enter_room(sid, str(data["room"]))
    return {"ok": True}


@sio.on("send")
async def send(sid, data):
    await sio.emit("message", {"room": data["room"], "text": data["text"]}, room=str(data["room"]))
    return {"ok": True}


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, loop=uvloop.new_event_loop())
