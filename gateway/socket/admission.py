"""Socket admission: what one client can hold open on a gateway."""

from __future__ import annotations

import asyncio


class SocketAdmission:
    """Bounds what one client can hold open on a gateway.

    * engine.io sessions per client address (counted at the engine.io handshake, so sessions that never
      connect the Socket.IO namespace count too; refused with 401 past ``max_per_ip``);
    * Socket.IO connections per user (``admit_user``; the connect handler refuses past ``max_per_user``);
    * an engine.io session that has not connected the namespace within ``connect_timeout_s`` is closed
      (otherwise it would be kept until the ping timeout, holding a queue and a task).
    """

    def __init__(self, sio, max_per_ip: int, max_per_user: int, connect_timeout_s: float, client_ip) -> None:
        self.sio = sio
        self.max_per_ip = max_per_ip
        self.max_per_user = max_per_user
        self.connect_timeout_s = connect_timeout_s
        self.client_ip = client_ip  # environ -> address
        self.per_ip: dict[str, int] = {}
        self.ip_of: dict[str, str] = {}  # eio_sid -> address
        self.per_user: dict[int, int] = {}
        self.refused = 0
        self._closing: set[asyncio.Task] = set()  # referenced until done (the loop keeps weak references)

    def install(self) -> None:
        connect, disconnect = self.sio._handle_eio_connect, self.sio._handle_eio_disconnect

        async def on_connect(eio_sid, environ):
            ip = self.client_ip(environ)
            if self.per_ip.get(ip, 0) >= self.max_per_ip:
                self.refused += 1
                return False  # engine.io answers the handshake with 401
            self.per_ip[ip] = self.per_ip.get(ip, 0) + 1
            self.ip_of[eio_sid] = ip
            asyncio.get_running_loop().call_later(self.connect_timeout_s, self._check_connected, eio_sid)
            return await connect(eio_sid, environ)

        async def on_disconnect(eio_sid, reason):
            ip = self.ip_of.pop(eio_sid, None)
            if ip is not None:
                left = self.per_ip.get(ip, 1) - 1
                if left > 0:
                    self.per_ip[ip] = left
                else:
                    self.per_ip.pop(ip, None)
            return await disconnect(eio_sid, reason)

        # engine.io calls these through its handler table, registered by socketio.AsyncServer.__init__.
        self.sio.eio.on("connect", on_connect)
        self.sio.eio.on("disconnect", on_disconnect)

    def _check_connected(self, eio_sid: str) -> None:
        if eio_sid in self.ip_of and self.sio.manager.sid_from_eio_sid(eio_sid, "/") is None:
            task = asyncio.ensure_future(self.sio.eio.disconnect(eio_sid))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    def admit_user(self, user_id: int) -> bool:
        if self.per_user.get(user_id, 0) >= self.max_per_user:
            self.refused += 1
            return False
        self.per_user[user_id] = self.per_user.get(user_id, 0) + 1
        return True

    def user_left(self, user_id: int) -> None:
        left = self.per_user.get(user_id, 1) - 1
        if left > 0:
            self.per_user[user_id] = left
        else:
            self.per_user.pop(user_id, None)
