"""Internal events a gateway publishes through the Socket.IO Redis manager so that every gateway acts on
them for its own sockets (``gateway.socket.delivery`` receives them; clients never see them)."""

from __future__ import annotations

KICK_EVENT = "clubhub:kick"  # a user's sockets leave rooms (ban, leave): delivered to every gateway
REVOKE_EVENT = "clubhub:revoke"  # a login was revoked: its sockets on every gateway are closed
