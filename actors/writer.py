"""The group-commit writer of a room shard: one loop that orders and stores every change.

Whatever is pending — from every gateway — is taken as one batch and handled in rounds: each round
*plans* the batch's ops room by room on a tentative cursor (nothing committed), stores the planned sends
with one ``insert_many`` and the changes with one ``bulk_write``, *commits* to the rooms only what was
stored, publishes, and only then answers. A conflict (a client_id already stored, a seq taken by an
earlier life of the shard) answers the duplicates and plans the rest again, up to ``MAX_ROUNDS``.
Ordering, gapless seqs and durable acks all follow from that one loop.

Each op is answered with a success payload (a plain dict) or a ``DomainError``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from pymongo.errors import BulkWriteError, PyMongoError

from .domain.errors import DomainError
from .domain.room import PlannedSend, PlannedUpdate, Room
from .fanout import notice_entry, notifies
from .hosting import Activations, TaskSet
from .members import MemberDirectory
from .messages import MessageStore, new_message_id

log = logging.getLogger(__name__)

MAX_BATCH = 1024
MAX_ROUNDS = 3
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
RETRY_SAME_CLIENT_ID = "message store unavailable; retry with the same client_id"

Result = dict[str, Any] | DomainError
Publish = Callable[[list[dict], list[dict], Sequence[dict]], Awaitable[None]]


def unavailable(message: str = RETRY_SAME_CLIENT_ID) -> DomainError:
    return DomainError("unavailable", message)


# -- the ops a gateway sends -----------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    kind: ClassVar[str] = "send"
    room_id: int
    user_id: int
    client_id: str
    text: str
    reply_to_seq: int | None = None


@dataclass(frozen=True)
class Edit:
    kind: ClassVar[str] = "edit"
    room_id: int
    user_id: int
    seq: int
    text: str | None


@dataclass(frozen=True)
class Delete:
    kind: ClassVar[str] = "delete"
    room_id: int
    user_id: int
    seq: int


@dataclass(frozen=True)
class React:
    room_id: int
    user_id: int
    seq: int
    emoji: str
    add: bool

    @property
    def kind(self) -> str:
        return "react_add" if self.add else "react_remove"


Op = Send | Edit | Delete | React


def parse_op(op: Mapping[str, Any]) -> Op:
    """An op dict from the gateway (``kind`` plus its fields) as a typed op."""
    kind = op.get("kind")
    try:
        if kind == "send":
            return Send(op["room_id"], op["user_id"], op["client_id"], op["text"], op.get("reply_to_seq"))
        if kind == "edit":
            return Edit(op["room_id"], op["user_id"], op["seq"], op.get("text"))
        if kind == "delete":
            return Delete(op["room_id"], op["user_id"], op["seq"])
        if kind in ("react_add", "react_remove"):
            return React(op["room_id"], op["user_id"], op["seq"], op["emoji"], kind == "react_add")
    except KeyError as exc:
        raise DomainError("invalid", f"{kind} needs {exc.args[0]}") from None
    raise DomainError("invalid", f"unknown operation {kind!r}")


# -- a batch in flight -------------------------------------------------------------------------------


@dataclass(eq=False)
class Pending:
    op: Op
    future: asyncio.Future[Result]
    planned: PlannedSend | PlannedUpdate | None = None
    result: Result | None = None
    dup_of: Pending | None = None  # the same client_id sent earlier in the same batch
    committed: bool = False  # a stored send the conflict path already committed to its room
    # (received by the gateway, sent on by its batcher), epoch seconds: the first stages of the message's trace.
    at: tuple[float, float] | None = None


@dataclass
class Cursor:
    """Tentative seq/rev of a room while a round is planned (nothing committed yet)."""

    seq: int
    rev: int
    sends: dict[int, dict] = field(default_factory=dict)  # seq -> message planned in this round
    client_ids: dict[str, Pending] = field(default_factory=dict)
    changed: dict[int, dict] = field(default_factory=dict)  # seq -> tentative message after updates

    def message(self, seq: int) -> dict | None:
        return self.changed.get(seq) or self.sends.get(seq)


def by_room(entries: Iterable[Pending]) -> dict[int, list[Pending]]:
    grouped: dict[int, list[Pending]] = defaultdict(list)
    for e in entries:
        grouped[e.op.room_id].append(e)
    return grouped


def moderation_entry(room: Room, e: Pending) -> dict | None:
    """A moderator deleting someone else's message is a moderation action (an audit entry)."""
    assert e.planned is not None
    author = e.planned.message["author"]["id"]
    if not isinstance(e.op, Delete) or author == e.op.user_id:
        return None
    return {
        "club_id": room.club_id,
        "actor_id": e.op.user_id,
        "action": "delete_message",
        "target_user_id": author,
        "reason": "",
        "ts": datetime.now(UTC),
        "details": {"room_id": room.room_id, "seq": e.planned.message["seq"]},
    }


class GroupCommitWriter:
    def __init__(
        self,
        rooms: Activations[int, Room],
        store: MessageStore,
        members: MemberDirectory,
        publish: Publish,
        counters: Counter[str],
        tasks: TaskSet,
    ) -> None:
        self.rooms = rooms
        self.store = store
        self.members = members
        self._publish = publish
        self.counters = counters
        self.batch_hist: Counter[int] = Counter()
        self.tasks = tasks
        self.pending: list[Pending] = []
        self._loop: asyncio.Task[None] | None = None
        self._publish_lock = asyncio.Lock()
        self.dirty: set[int] = set()  # rooms whose last seq must be re-read before the next write

    async def apply(self, ops: list[dict], sent_at: float | None = None) -> list[Result]:
        """Sends, edits, deletes and reactions, in order; one answer per op once it is stored.
        ``sent_at``: when the gateway's batcher sent them (with each op's ``received_at``, the start of
        the stage trace a stored batch carries to the gateways)."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Result]] = []
        for raw in ops:
            fut: asyncio.Future[Result] = loop.create_future()
            futures.append(fut)
            received_at = raw.get("received_at")
            at = (received_at, sent_at) if received_at is not None and sent_at is not None else None
            try:
                self.pending.append(Pending(parse_op(raw), fut, at=at))
            except DomainError as err:
                self.counters[f"{raw.get('kind')}:{err.code}"] += 1
                fut.set_result(err)
        if self.pending and (self._loop is None or self._loop.done()):
            self._loop = self.tasks.spawn(self._write_loop())
        return list(await asyncio.gather(*futures))

    async def publish(self, new: list[dict], updated: list[dict], notices: Sequence[dict] = ()) -> None:
        async with self._publish_lock:  # the sweep republishes too: batches go out in seq order
            await self._publish(new, updated, notices)

    async def _write_loop(self) -> None:
        while self.pending:
            batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
            try:
                await self._write(batch)
            except Exception:
                log.exception("room shard write failed")
                for e in batch:
                    if not e.future.done():
                        e.future.set_result(unavailable("internal error while storing; retry"))

    async def _write(self, batch: list[Pending]) -> None:
        self.batch_hist[next((b for b in BATCH_BUCKETS if len(batch) <= b), BATCH_BUCKETS[-1])] += 1
        self.counters["batches"] += 1
        self.counters["batched_ops"] += len(batch)
        rooms = await self._activate(batch)
        await self._reload_dirty(rooms, batch)
        await self._find_new_members(rooms, batch)
        todo = [e for e in batch if e.result is None]
        for _ in range(MAX_ROUNDS):
            if not todo:
                break
            todo = await self._round(rooms, todo)
        for e in todo:
            e.result = unavailable("could not store after retries; retry with the same client_id")
        for e in batch:
            self._answer(e)

    def _answer(self, e: Pending) -> None:
        assert e.result is not None
        code = e.result.code if isinstance(e.result, DomainError) else "ok"
        self.counters[f"{e.op.kind}:{code}"] += 1
        if not e.future.done():
            e.future.set_result(e.result)

    # -- before the rounds ---------------------------------------------------------------------------
    async def _activate(self, batch: list[Pending]) -> dict[int, Room]:
        """The batch's rooms; every op of a room that failed to activate fails alike."""
        rooms: dict[int, Room] = {}
        failed: dict[int, DomainError] = {}
        for rid in dict.fromkeys(e.op.room_id for e in batch):
            try:
                rooms[rid] = await self.rooms(rid)
            except DomainError as err:
                failed[rid] = err
            except PyMongoError:
                failed[rid] = unavailable()
        for e in batch:
            if e.op.room_id in failed:
                e.result = failed[e.op.room_id]
        return rooms

    async def _reload_dirty(self, rooms: dict[int, Room], batch: list[Pending]) -> None:
        try:
            await self._reload_positions(rooms)
        except PyMongoError:
            for e in batch:
                if e.result is None and e.op.room_id in self.dirty:
                    e.result = unavailable()

    async def _reload_positions(self, rooms: dict[int, Room]) -> None:
        for rid in list(self.dirty & set(rooms)):
            await self.store.load_position(rooms[rid])
            self.dirty.discard(rid)

    async def _find_new_members(self, rooms: dict[int, Room], batch: list[Pending]) -> None:
        unknown = {
            (rooms[e.op.room_id].club_id, e.op.user_id)
            for e in batch
            if e.result is None and e.op.user_id not in rooms[e.op.room_id].members
        }
        if unknown:
            await self.members.lookup(unknown, self.rooms.values())

    # -- one round -----------------------------------------------------------------------------------
    async def _round(self, rooms: dict[int, Room], todo: list[Pending]) -> list[Pending]:
        """Plan, store and commit one round; returns the ops to plan again (after a conflict)."""
        now = time.time()
        planned = await self._plan(rooms, todo, now)
        sends = [e for e in planned if isinstance(e.planned, PlannedSend)]
        updates = [e for e in planned if isinstance(e.planned, PlannedUpdate)]
        stored_sends, retry = await self._store_sends(rooms, sends)
        stored_at = time.time()
        stored_updates = await self._store_updates(rooms, updates, stored_sends)
        new = self._commit_sends(rooms, stored_sends, now, stored_at)
        await self._commit_updates(rooms, stored_updates)
        retry += self._answer_duplicates(todo)
        changed = [e.planned for e in stored_updates if isinstance(e.planned, PlannedUpdate)]
        notices = self._notices(rooms, new, [p.message for p in changed if p.notify])
        await self.publish(new, [p.message for p in changed], notices)
        return retry

    @staticmethod
    def _notices(rooms: dict[int, Room], new: list[dict], edited: list[dict]) -> list[dict]:
        """Notice entries for the notifier: new messages with mentions or a reply, edits adding mentions
        (off the hot path: the notifier resolves recipients and creates the notifications)."""
        out = []
        for m in [m for b in new for m in b["messages"]] + edited:
            if not notifies(m):
                continue
            room = rooms[m["room_id"]]
            replied = room.cached(m["reply_to_seq"]) if m.get("reply_to_seq") else None
            out.append(notice_entry(m, room.club_id, replied["author"]["id"] if replied else None))
        return out

    async def _plan(self, rooms: dict[int, Room], todo: list[Pending], now: float) -> list[Pending]:
        cursors: dict[int, Cursor] = {}
        planned: list[Pending] = []
        for e in todo:
            room = rooms[e.op.room_id]
            cur = cursors.get(room.room_id)
            if cur is None:
                cur = cursors[room.room_id] = Cursor(room.last_seq, room.rev)
            try:
                if await self._plan_one(e, room, cur, now):
                    planned.append(e)
            except DomainError as err:
                e.result = err
            except PyMongoError:
                e.result = unavailable()
        return planned

    async def _plan_one(self, e: Pending, room: Room, cur: Cursor, now: float) -> bool:
        """Plan ``e`` on the cursor; False when it was answered without anything to store."""
        op = e.op
        if isinstance(op, Send):
            return self._plan_send(e, op, room, cur, now)
        message = cur.message(op.seq) or room.cached(op.seq)
        if message is None:
            message = await self.store.fetch(room.room_id, op.seq)
        planned: PlannedUpdate | None
        if isinstance(op, Edit):
            planned = room.plan_edit(op.user_id, message, op.text, now, cur.rev + 1)
        elif isinstance(op, Delete):
            planned = room.plan_delete(op.user_id, message, cur.rev + 1)
        else:
            planned = room.plan_reaction(op.user_id, message, op.emoji, op.add, cur.rev + 1, now)
            if planned is None:  # nothing changes: adding a reaction twice, removing one never made
                e.result = {}
                return False
        cur.rev += 1
        cur.changed[op.seq] = planned.message
        e.planned = planned
        return True

    @staticmethod
    def _plan_send(e: Pending, op: Send, room: Room, cur: Cursor, now: float) -> bool:
        known = room.known_ack(op.client_id)
        if known is not None:
            e.result = {**known, "duplicate": True}
            return False
        if op.client_id in cur.client_ids:  # the same send twice in one batch
            e.dup_of = cur.client_ids[op.client_id]
            return False
        planned = room.plan_send(
            op.user_id,
            op.client_id,
            op.text,
            op.reply_to_seq,
            now,
            cur.seq + 1,
            cur.rev + 1,
            new_message_id(),
        )
        cur.seq, cur.rev = cur.seq + 1, cur.rev + 1
        cur.client_ids[op.client_id] = e
        cur.sends[cur.seq] = planned.message
        e.planned = planned
        return True

    async def _store_sends(
        self, rooms: dict[int, Room], sends: list[Pending]
    ) -> tuple[list[Pending], list[Pending]]:
        """The sends stored, and those to plan again."""
        if not sends:
            return [], []
        try:
            await self.store.insert([e.planned for e in sends if isinstance(e.planned, PlannedSend)])
        except BulkWriteError as exc:
            return await self._after_conflict(rooms, sends, exc)
        except PyMongoError as exc:
            log.warning("insert failed: %s", exc)
            for e in sends:
                e.result = unavailable()
                self.dirty.add(e.op.room_id)  # the write may have landed: re-read before reuse
            return [], []
        return sends, []

    async def _after_conflict(
        self, rooms: dict[int, Room], sends: list[Pending], exc: BulkWriteError
    ) -> tuple[list[Pending], list[Pending]]:
        """An ordered insert stopped at a duplicate key: keep what was stored, answer duplicates of an
        earlier client_id with the stored ack, and plan the rest again."""
        inserted = exc.details.get("nInserted", 0)
        stored, rest = sends[:inserted], sends[inserted:]
        retry = []
        for rid, ops in by_room(rest).items():
            acks = await self.store.acks_of(rid, [e.op.client_id for e in ops if isinstance(e.op, Send)])
            for e in ops:
                op = e.op
                if isinstance(op, Send) and (ack := acks.get(op.client_id)) is not None:
                    rooms[rid].remember_ack(op.client_id, ack)
                    e.result = {**ack, "duplicate": True}
                else:
                    e.planned = None
                    retry.append(e)
            self.dirty.add(rid)
        # Commit the stored prefix now; the retry round re-reads the rooms' positions.
        self._commit(rooms, stored, time.time())
        try:
            await self._reload_positions(rooms)
        except PyMongoError:
            pass  # still dirty: re-read before the room's next write
        return stored, retry

    async def _store_updates(
        self, rooms: dict[int, Room], updates: list[Pending], stored_sends: list[Pending]
    ) -> list[Pending]:
        """The edits, deletes and reactions stored."""
        if not updates:
            return []
        # Updates to a message sent in a failed insert cannot be stored either.
        sent_ok = {(e.op.room_id, e.planned.message["seq"]) for e in stored_sends if e.planned is not None}
        writable: list[Pending] = []
        for e in updates:
            assert e.planned is not None
            seq = e.planned.message["seq"]
            if (e.op.room_id, seq) in sent_ok or seq <= rooms[e.op.room_id].last_seq:
                writable.append(e)
            else:
                e.result = unavailable()
        if not writable:
            return []
        try:
            await self.store.update(
                [(e.op.room_id, e.planned) for e in writable if isinstance(e.planned, PlannedUpdate)]
            )
        except PyMongoError as exc:
            log.warning("update failed: %s", exc)
            for e in writable:
                e.result = unavailable()
            return []
        return writable

    # -- commit: only what was stored becomes the rooms' state ---------------------------------------
    def _commit(self, rooms: dict[int, Room], stored: list[Pending], now: float) -> None:
        for rid, entries in by_room(e for e in stored if not e.committed).items():
            rooms[rid].commit_sends([e.planned for e in entries if isinstance(e.planned, PlannedSend)], now)
            for e in entries:
                e.committed = True

    def _commit_sends(
        self, rooms: dict[int, Room], stored: list[Pending], now: float, stored_at: float
    ) -> list[dict]:
        """Commit and answer the stored sends; returns them per room, as published, each batch with the
        trace of its messages' stages so far (``trace``: when each was received and sent on by its
        gateway, when this round planned and stored them), which the gateways complete and measure."""
        self._commit(rooms, stored, now)
        batches = []
        for rid, entries in by_room(stored).items():
            messages = []
            for e in entries:
                assert isinstance(e.planned, PlannedSend)
                e.result = dict(e.planned.ack)
                messages.append(e.planned.message)
            batch: dict[str, Any] = {"room_id": rid, "messages": messages}
            if all(e.at is not None for e in entries):
                batch["trace"] = {
                    "received": [e.at[0] for e in entries if e.at is not None],
                    "sent": [e.at[1] for e in entries if e.at is not None],
                    "planned": now,
                    "stored": stored_at,
                }
            batches.append(batch)
        return batches

    async def _commit_updates(self, rooms: dict[int, Room], stored: list[Pending]) -> None:
        moderation = []
        for e in stored:
            room = rooms[e.op.room_id]
            assert isinstance(e.planned, PlannedUpdate)
            room.commit_update(e.planned)
            e.result = {}
            entry = moderation_entry(room, e)
            if entry is not None:
                moderation.append(entry)
        if moderation:
            try:
                await self.store.audit(moderation)
            except PyMongoError as exc:
                log.warning("audit log write failed: %s", exc)

    @staticmethod
    def _answer_duplicates(todo: list[Pending]) -> list[Pending]:
        """Duplicates inside the batch share the first one's outcome (or wait for its retry)."""
        retry = []
        for e in todo:
            if e.dup_of is None:
                continue
            first, e.dup_of = e.dup_of, None
            if first.result is None:
                retry.append(e)
            elif isinstance(first.result, DomainError):
                e.result = first.result
            else:
                e.result = {**first.result, "duplicate": True}
        return retry
