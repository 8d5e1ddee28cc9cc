"""``SessionShard``: a Ray actor hosting many users' ``Session`` objects.

It knows every socket of a user across gateways (so "online" means any tab on any gateway), keeps
read markers (write-through to Redis, which ``GET /me/unread`` reads) and tells a user's other
sockets when one of them read something (``read:updated``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import ray

from storage import keys

from .config import ActorConfig
from .domain.session import Session
from .fanout import Fanout
from .hosting import Activations, OpenOnce, TaskSet, every


class SessionShardHost:
    def __init__(self, index: int, config: ActorConfig | Mapping[str, Any]) -> None:
        self.index = index
        self.config = ActorConfig.of(config)
        self.host_id = f"session-shard-{index}"
        # Ray runs __init__ again when it restarts the shard: /metrics shows each restart as a new start time.
        self.started = time.time()
        self.tasks = TaskSet()
        self.sessions: Activations[int, Session] = Activations(self._activate)
        self._open = OpenOnce(self._connect)

    async def _connect(self) -> None:
        from storage.redis import connect_redis

        self.redis = connect_redis(self.config.redis_url)
        self.fanout = Fanout(self.redis, self.config.channel, self.host_id)
        self.tasks.spawn(every(self.config.housekeeping_s, self.sweep, "session shard"))

    async def _activate(self, user_id: int) -> Session:
        s = Session(user_id)
        raw = await self.redis.hgetall(keys.read_marks(user_id))  # type: ignore[misc]
        s.read_seq = {int(k): int(v) for k, v in raw.items()}
        return s

    async def connect(self, user_id: int, socket_key: str) -> dict:
        await self._open()
        s = await self.sessions(user_id)
        return {"online_now": s.connect(socket_key), "sockets": len(s.sockets)}

    async def disconnect(self, user_id: int, socket_key: str) -> dict:
        await self._open()
        s = self.sessions.get(user_id)
        offline = s.disconnect(socket_key) if s else False
        return {"offline_now": offline}

    async def read(self, user_id: int, room_id: int, seq: int, skip_sid: str | None) -> dict:
        await self._open()
        s = await self.sessions(user_id)
        if s.mark_read(room_id, seq):
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hset(keys.read_marks(user_id), str(room_id), str(seq))
                self.fanout.read_updated_in(pipe, user_id, room_id, seq, skip_sid)
                await pipe.execute()
        return {"seq": s.read_seq.get(room_id, 0)}

    async def online(self, user_ids: list[int]) -> list[int]:
        await self._open()
        return [u for u in user_ids if (s := self.sessions.get(u)) is not None and s.online]

    async def sweep(self) -> dict:
        swept = await self.sessions.sweep(self.redis, self.config.session_idle_s)
        return {"dead_gateways": swept.dead_gateways, "evicted": swept.evicted}

    async def stats(self) -> dict:
        return {
            "shard": self.index,
            "active_sessions": len(self.sessions),
            "online_users": sum(1 for s in self.sessions.values() if s.online),
            # Where Ray placed (or, after a node died, re-placed) this shard: /metrics shows it.
            "node": ray.get_runtime_context().get_node_id() if ray.is_initialized() else None,
            "started": self.started,
        }

    async def ping(self) -> str:
        await self._open()
        return "pong"


# Typed as Any: Ray's stubs type a handle's methods as the plain methods, without ``.remote``.
SessionShard: Any = ray.remote(SessionShardHost)
