"""``Session``: one user's live state across gateways, as a plain class (no Ray, no I/O).

It knows the user's sockets (every tab and device, on any gateway), so the user is online while at
least one is open; the last-read seq per room (never moving backwards); and the per-user send budget.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    """``rate`` tokens per second up to ``burst``; a send takes one."""

    rate: float
    burst: float
    tokens: float = -1.0
    updated: float = 0.0

    def take(self, now: float, cost: float = 1.0) -> float:
        """0.0 if allowed (and taken), else the seconds to wait until it would be."""
        if self.tokens < 0:
            self.tokens, self.updated = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= cost:
            self.tokens -= cost
            return 0.0
        return (cost - self.tokens) / self.rate


@dataclass
class Session:
    user_id: int
    sockets: set[str] = field(default_factory=set)  # "<gateway_id>/<sid>"
    read_seq: dict[int, int] = field(default_factory=dict)
    last_active: float = field(default_factory=time.monotonic)

    @property
    def online(self) -> bool:
        return bool(self.sockets)

    def connect(self, socket_key: str) -> bool:
        """True when this socket brings the user online."""
        was_online = self.online
        self.sockets.add(socket_key)
        self.last_active = time.monotonic()
        return not was_online

    def disconnect(self, socket_key: str) -> bool:
        """True when this was the user's last socket (the user goes offline)."""
        if socket_key not in self.sockets:
            return False
        self.sockets.discard(socket_key)
        self.last_active = time.monotonic()
        return not self.sockets

    def drop_gateway(self, gateway_id: str) -> bool:
        """Forget the sockets of a dead gateway; True when that took the user offline."""
        before = self.online
        self.sockets = {s for s in self.sockets if not s.startswith(gateway_id + "/")}
        return before and not self.online

    def socket_keys(self) -> set[str]:
        return self.sockets

    def mark_read(self, room_id: int, seq: int) -> bool:
        """Move the read marker forward; False when it is not ahead of what was read already."""
        if seq <= self.read_seq.get(room_id, 0):
            return False
        self.read_seq[room_id] = seq
        self.last_active = time.monotonic()
        return True

    def idle_for(self, now_monotonic: float) -> float:
        return 0.0 if self.sockets else now_monotonic - self.last_active
