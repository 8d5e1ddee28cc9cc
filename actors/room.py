"""Moved to ``actors.domain.room``; this re-export stays until the gateway and tests import the new path."""

from actors.domain.room import (
    CLIENT_ID_MEMORY,
    MAX_REACTIONS_PER_MESSAGE,
    MAX_TEXT,
    REPLAY_LIMIT,
    RING_SIZE,
    Member,
    PlannedSend,
    PlannedUpdate,
    Room,
    validate_text,
)

__all__ = [
    "CLIENT_ID_MEMORY",
    "MAX_REACTIONS_PER_MESSAGE",
    "MAX_TEXT",
    "REPLAY_LIMIT",
    "RING_SIZE",
    "Member",
    "PlannedSend",
    "PlannedUpdate",
    "Room",
    "validate_text",
]
