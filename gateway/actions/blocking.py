"""Messages by someone the reader blocked: still delivered (seqs stay gapless), marked ``author_blocked: true``.

``mark_blocked`` is the one function that marks, used everywhere a message reaches a reader: live delivery
(``gateway.socket.delivery``), the ``room:join`` replay, ``message:history`` and ``GET /rooms/{id}/messages``.
``BlockSets`` keeps the block sets of the users connected to this gateway (loaded at connect, replaced when
a ``blocks:changed`` event for the user passes through the gateway, dropped with the user's last socket), so
live delivery never queries the database; a reader with no socket here is looked up.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from storage import safety

BLOCKS_EVENT = "blocks:changed"  # to the user's sockets: {blocks: [user ids]}


def blocks_any(messages: Iterable[dict], blocked: Collection[int]) -> bool:
    """True when one of ``messages`` is by someone in ``blocked``."""
    return bool(blocked) and any(m.get("author", {}).get("id") in blocked for m in messages)


def mark_blocked(messages: list[dict], blocked: Collection[int]) -> list[dict]:
    """``messages`` as the reader who blocked ``blocked`` sees them: those by a blocked author are copies
    with ``author_blocked: True``, the others the same objects (the list itself is returned when nothing
    is marked)."""
    if not blocks_any(messages, blocked):
        return messages
    return [
        {**m, "author_blocked": True} if m.get("author", {}).get("id") in blocked else m for m in messages
    ]


class BlockSets:
    """The block sets of this gateway's connected users; bounded by them (``safety.BLOCKS_MAX`` each)."""

    def __init__(self) -> None:
        self.sockets: dict[int, set[str]] = {}  # user -> its sockets on this gateway
        self.user_of: dict[str, int] = {}  # socket -> user
        self.sets: dict[int, frozenset[int]] = {}  # user -> blocked ids (non-empty ones only)

    async def connected(self, user_id: int, sid: str) -> None:
        first = user_id not in self.sockets
        self.sockets.setdefault(user_id, set()).add(sid)
        self.user_of[sid] = user_id
        if first:
            self._set(user_id, await safety.blocked_by(user_id))

    def disconnected(self, sid: str) -> None:
        user_id = self.user_of.pop(sid, None)
        if user_id is None:
            return
        sids = self.sockets.get(user_id)
        if sids is not None:
            sids.discard(sid)
            if not sids:
                del self.sockets[user_id]
                self.sets.pop(user_id, None)

    def changed(self, user_id: int, blocked: Iterable[int]) -> None:
        """A ``blocks:changed`` for the user passed through: its new set, if it has sockets here."""
        if user_id in self.sockets:
            self._set(user_id, frozenset(int(b) for b in blocked))

    def _set(self, user_id: int, blocked: frozenset[int]) -> None:
        if blocked:
            self.sets[user_id] = blocked
        else:
            self.sets.pop(user_id, None)

    def of_socket(self, sid: str) -> frozenset[int]:
        """The blocked ids of a socket's user (empty: none, or not a socket of this gateway)."""
        if not self.sets:
            return frozenset()
        user_id = self.user_of.get(sid)
        return self.sets.get(user_id, frozenset()) if user_id is not None else frozenset()

    async def of_user(self, user_id: int) -> frozenset[int]:
        """From memory for a user connected here, else from the database."""
        if user_id in self.sockets:
            return self.sets.get(user_id, frozenset())
        return await safety.blocked_by(user_id)
