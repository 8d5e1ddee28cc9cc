"""``MessageStore``: a room shard's reads and writes of stored messages (MongoDB) and its audit entries.

Messages are stored with their ``message_id`` as ``_id`` and the sender's ``client_id``; the unique
indexes on (room_id, seq) and (room_id, client_id) make a retried insert a duplicate, never a second copy.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, UpdateOne

from storage.mongo import retry_once

from .domain.errors import DomainError
from .domain.room import MAX_PINS, REPLAY_LIMIT, PlannedSend, PlannedUpdate, Room


class MessageStore:
    def __init__(self, messages: Any, audit_log: Any) -> None:
        self.messages = messages
        self.audit_log = audit_log

    async def load_position(self, room: Room) -> None:
        """Set the room's last seq and rev from what is stored (after activation or a failed write)."""
        last = await retry_once(
            lambda: self.messages.find_one(
                {"room_id": room.room_id}, sort=[("seq", DESCENDING)], projection={"seq": 1}
            )
        )
        top = await retry_once(
            lambda: self.messages.find_one(
                {"room_id": room.room_id}, sort=[("rev", DESCENDING)], projection={"rev": 1}
            )
        )
        room.last_seq = last["seq"] if last else 0
        room.rev = max(room.last_seq, top["rev"] if top else 0)
        if room.recent and room.recent[-1]["seq"] != room.last_seq:
            room.recent.clear()

    async def range(self, room_id: int, after: int, upto: int) -> list[dict]:
        """Messages with after < seq <= upto, ascending."""
        if upto <= after:
            return []

        async def read() -> list[dict]:
            query = {"room_id": room_id, "seq": {"$gt": after, "$lte": upto}}
            cursor = self.messages.find(query).sort("seq", ASCENDING)
            return [message_of(d) async for d in cursor]

        return await retry_once(read)

    async def changed_since(self, room_id: int, upto_seq: int, since_rev: int) -> list[dict]:
        """Messages up to ``upto_seq`` changed after ``since_rev`` (edits, deletes, reactions a client missed)."""
        query = {"room_id": room_id, "seq": {"$lte": upto_seq}, "rev": {"$gt": since_rev}}
        cursor = self.messages.find(query).sort("seq", ASCENDING).limit(REPLAY_LIMIT)
        return [message_of(d) async for d in cursor]

    async def fetch(self, room_id: int, seq: int) -> dict:
        doc = await self.messages.find_one({"room_id": room_id, "seq": seq})
        if doc is None:
            raise DomainError("not_found", f"no message {seq} in room {room_id}")
        return message_of(doc)

    async def insert(self, sends: list[PlannedSend]) -> None:
        docs = [document_of(p) for p in sends]
        # Retried once on a dead pooled connection: if the first attempt did land, the unique indexes
        # turn the retry into a duplicate-key error (the writer's conflict path), never a second copy.
        await retry_once(lambda: self.messages.insert_many(docs, ordered=True))

    async def update(self, changes: list[tuple[int, PlannedUpdate]]) -> None:
        """``changes``: (room_id, planned update); ``$set`` makes the retry idempotent."""
        requests = [
            UpdateOne({"room_id": rid, "seq": p.message["seq"]}, {"$set": p.fields}) for rid, p in changes
        ]
        await retry_once(lambda: self.messages.bulk_write(requests, ordered=True))

    async def pins(self, room_id: int) -> dict[int, dict]:
        """The room's pinned seqs and their ``pinned`` records (a room holds at most ``MAX_PINS``)."""
        query = {"room_id": room_id, "pinned.at": {"$gt": 0}}
        cursor = self.messages.find(query, projection={"seq": 1, "pinned": 1}).limit(MAX_PINS * 2)
        return {d["seq"]: d["pinned"] async for d in cursor}

    async def pinned(self, room_id: int, seqs: list[int]) -> list[dict]:
        if not seqs:
            return []
        cursor = self.messages.find({"room_id": room_id, "seq": {"$in": seqs}}).sort("seq", ASCENDING)
        return [message_of(d) async for d in cursor if d.get("pinned")]

    async def thread(self, room_id: int, root_seq: int, after_seq: int, limit: int) -> list[dict]:
        """Replies in the thread of ``root_seq`` after ``after_seq``, ascending."""

        async def read() -> list[dict]:
            query = {"room_id": room_id, "thread_root_seq": root_seq, "seq": {"$gt": after_seq}}
            cursor = self.messages.find(query).sort("seq", ASCENDING).limit(limit)
            return [message_of(d) async for d in cursor]

        return await retry_once(read)

    async def last_messages(self, room_ids: list[int]) -> dict[int, dict]:
        """Each room's newest message (rooms with none are left out)."""
        out = {}
        for room_id in room_ids:
            doc = await self.messages.find_one({"room_id": room_id}, sort=[("seq", DESCENDING)])
            if doc is not None:
                out[room_id] = message_of(doc)
        return out

    async def acks_of(self, room_id: int, client_ids: Iterable[str]) -> dict[str, dict]:
        """The stored acks of sends already stored under these client_ids."""
        acks = {}
        query = {"room_id": room_id, "client_id": {"$in": list(client_ids)}}
        async for doc in self.messages.find(query):
            acks[doc["client_id"]] = {
                "seq": doc["seq"],
                "rev": doc["rev"],
                "message_id": str(doc["_id"]),
                "ts": doc["ts"],
            }
        return acks

    async def audit(self, entries: list[dict]) -> None:
        await retry_once(lambda: self.audit_log.insert_many(entries))


def new_message_id() -> str:
    return str(ObjectId())


def document_of(p: PlannedSend) -> dict:
    doc = dict(p.message)
    doc["_id"] = ObjectId(doc.pop("message_id"))
    doc["client_id"] = p.client_id
    return doc


def message_of(doc: dict) -> dict:
    """A stored document as the contract's message."""
    msg = {k: v for k, v in doc.items() if k not in ("_id", "client_id")}
    msg["message_id"] = str(doc["_id"])
    msg.setdefault("reactions", {})
    if not msg.get("pinned"):  # unpinned: stored as null
        msg.pop("pinned", None)
    if not msg.get("attachments"):  # none, or a deleted message's: stored as []
        msg.pop("attachments", None)
    if "deleted" in msg:
        msg["deleted"] = bool(msg["deleted"])  # some MongoDB-wire servers return booleans as 0/1
    return msg
