"""Interactions (impressions, clicks, dwell and reels' play/watch/complete/skip from clients; joins, RSVPs,
attendance from the server): appended to the stream the interaction consumer actor turns into stored facts
and feed signals."""

from __future__ import annotations

import logging
import time
import uuid

from actors.domain.errors import DomainError
from actors.fanout import append_interactions
from gateway.core.ratelimit import INTERACTIONS_PER_MINUTE, RateLimiter
from storage import keys
from storage.visibility import first_invisible_item

log = logging.getLogger(__name__)


class Interactions:
    def __init__(self, redis) -> None:
        self.redis = redis
        self.limiter = RateLimiter(redis)

    async def record(self, user_id: int, items: list[dict], source: str = "client") -> int:
        """Append interactions; the number accepted.

        A client's batch (``source="client"``) is rate limited per user and refused with ``not_found`` (naming
        the first one) when any item is one the caller cannot see; nothing of a refused batch is stored. Ids
        are namespaced: ``u<user_id>:<client id>`` for a client's, ``s:<id>`` for the server's, so an id stays
        idempotent for its owner and no one can take over another user's or the server's id.
        """
        client = source == "client"
        if client:
            await self.limiter.enforce(
                [keys.interactions_by_user(user_id)], INTERACTIONS_PER_MINUTE, 60, "interaction batches"
            )
            hidden = await first_invisible_item(user_id, [(it["item_type"], it["item_id"]) for it in items])
            if hidden is not None:
                raise DomainError("not_found", f"no such {hidden[0]}: {hidden[1]}")
        namespace = f"u{user_id}:" if client else "s:"
        now = repr(time.time())
        await append_interactions(
            self.redis,
            [
                {
                    "id": namespace + (it.get("interaction_id") or uuid.uuid4().hex),
                    "user_id": user_id,
                    "item_type": it["item_type"],
                    "item_id": it["item_id"],
                    "kind": it["kind"],
                    "ts": now,
                    "source": source,
                    "dwell_ms": it.get("dwell_ms"),
                    "watch_ms": it.get("watch_ms"),
                }
                for it in items
            ],
        )
        return len(items)

    async def signal(
        self, user_id: int, item_type: str, item_id: int, kind: str, interaction_id: str | None = None
    ) -> None:
        """A server-side signal (a room joined, an RSVP, a club joined, a live session attended), best effort;
        stored under ``s:<interaction_id>`` (a fresh id when none is given)."""
        item = {"item_type": item_type, "item_id": item_id, "kind": kind, "interaction_id": interaction_id}
        try:
            await self.record(user_id, [item], "server")
        except Exception as exc:
            log.warning("signal not recorded: %s", exc)
