"""``SessionShard``: a Ray actor hosting many users' ``Session`` objects.

It knows every socket of a user across gateways (so "online" means any tab on any gateway), keeps
read markers (write-through to Redis, which ``GET /me/unread`` reads) and tells a user's other
sockets when one of them read something (``read:updated``).
"""
from __future__ import annotations

import asyncio
import logging
import time

import ray

from .housekeeping import dead_gateways, every
from .room_shard import pubsub_message
from .domain.session import Session

log = logging.getLogger(__name__)

READ_KEY = "clubhub:read:"
SESSION_IDLE_S = 600.0


class SessionShardHost:
    def __init__(self, index: int, config: dict) -> None:
        self.index = index
        self.config = config
        self.sessions: dict[int, Session] = {}
        self._ready: asyncio.Future | None = None
        self.host_id = f"session-shard-{index}"

    async def _ensure(self) -> None:
        if self._ready is None:
            from storage.redis import connect_redis

            self.redis = connect_redis(self.config["redis_url"])
            self.channel = self.config["channel"]
            self._ready = asyncio.get_running_loop().create_future()
            self._ready.set_result(True)
            self._housekeeper = asyncio.create_task(
                every(self.config.get("housekeeping_s", 5.0), self.sweep, "session shard"))
        await self._ready

    async def session(self, user_id: int) -> Session:
        s = self.sessions.get(user_id)
        if s is None:
            s = Session(user_id)
            raw = await self.redis.hgetall(READ_KEY + str(user_id))
            s.read_seq = {int(k): int(v) for k, v in raw.items()}
            # another activation may have won while we awaited Redis
            s = self.sessions.setdefault(user_id, s)
        return s

    async def connect(self, user_id: int, socket_key: str) -> dict:
        await self._ensure()
        s = await self.session(user_id)
        return {"online_now": s.connect(socket_key), "sockets": len(s.sockets)}

    async def disconnect(self, user_id: int, socket_key: str) -> dict:
        await self._ensure()
        s = self.sessions.get(user_id)
        offline = s.disconnect(socket_key) if s else False
        return {"offline_now": offline}

    async def read(self, user_id: int, room_id: int, seq: int, skip_sid: str | None) -> dict:
        await self._ensure()
        s = await self.session(user_id)
        if s.mark_read(room_id, seq):
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hset(READ_KEY + str(user_id), room_id, seq)
                pipe.publish(self.channel, pubsub_message("read:updated", {"room_id": room_id, "seq": seq},
                                                          f"user:{user_id}", skip_sid=skip_sid, host_id=self.host_id))
                await pipe.execute()
        return {"ok": True, "seq": s.read_seq.get(room_id, 0)}

    async def online(self, user_ids: list[int]) -> list[int]:
        await self._ensure()
        return [u for u in user_ids if (s := self.sessions.get(u)) is not None and s.online]

    async def sweep(self) -> dict:
        dead = await dead_gateways(self.redis, (k for s in self.sessions.values() for k in s.sockets))
        for gw in dead:
            for s in self.sessions.values():
                s.drop_gateway(gw)
        now = time.monotonic()
        idle_s = self.config.get("session_idle_s", SESSION_IDLE_S)
        evicted = [u for u, s in self.sessions.items() if s.idle_for(now) > idle_s]
        for u in evicted:
            del self.sessions[u]
        return {"dead_gateways": dead, "evicted": evicted}

    async def stats(self) -> dict:
        return {"shard": self.index, "active_sessions": len(self.sessions),
                "online_users": sum(1 for s in self.sessions.values() if s.online)}

    async def ping(self) -> str:
        await self._ensure()
        return "pong"


SessionShard = ray.remote(SessionShardHost)
