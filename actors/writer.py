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

from .domain.automod import AutoModRefusal
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
# (new batches, changed messages, notice entries, room events as (room_id, event, data))
Publish = Callable[[list[dict], list[dict], Sequence[dict], Sequence[tuple]], Awaitable[None]]


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
    thread_root_seq: int | None = None
    attachments: tuple[dict, ...] = ()


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


@dataclass(frozen=True)
class Pin:
    room_id: int
    user_id: int
    seq: int
    add: bool

    @property
    def kind(self) -> str:
        return "pin" if self.add else "unpin"


Op = Send | Edit | Delete | React | Pin


def parse_op(op: Mapping[str, Any]) -> Op:
    """An op dict from the gateway (``kind`` plus its fields) as a typed op."""
    kind = op.get("kind")
    try:
        if kind == "send":
            return Send(
                op["room_id"],
                op["user_id"],
                op["client_id"],
                op["text"],
                op.get("reply_to_seq"),
                op.get("thread_root_seq"),
                tuple(op.get("attachments") or ()),
            )
        if kind == "edit":
            return Edit(op["room_id"], op["user_id"], op["seq"], op.get("text"))
        if kind == "delete":
            return Delete(op["room_id"], op["user_id"], op["seq"])
        if kind in ("react_add", "react_remove"):
            return React(op["room_id"], op["user_id"], op["seq"], op["emoji"], kind == "react_add")
        if kind in ("pin", "unpin"):
            return Pin(op["room_id"], op["user_id"], op["seq"], kind == "pin")
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
    pins_added: int = 0  # pins planned minus unpins planned (the room's bound counts them)

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


def automod_entry(room: Room, e: Pending, refusal: AutoModRefusal) -> dict:
    """A send or edit the club's auto-moderation refused: audited like a moderator's action (by the
    system: ``actor_id`` None), with the start of the text as evidence."""
    op = e.op
    text = getattr(op, "text", "") or ""
    return {
        "club_id": room.club_id,
        "actor_id": None,
        "action": "automod_refused",
        "target_user_id": op.user_id,
        "reason": refusal.rule,
        "ts": datetime.now(UTC),
        "details": {"room_id": room.room_id, "op": op.kind, "rule": refusal.rule, "text": text[:200]},
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

    async def publish(
        self, new: list[dict], updated: list[dict], notices: Sequence[dict] = (), events: Sequence[tuple] = ()
    ) -> None:
        async with self._publish_lock:  # the sweep republishes too: batches go out in seq order
            await self._publish(new, updated, notices, events)

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
        stored_sends, retry = await self._store_sends(rooms, sends)
        stored_at = time.time()
        stored_updates = await self._store_updates(rooms, planned, stored_sends)
        new = self._commit_sends(rooms, stored_sends, now, stored_at)
        await self._commit_updates(rooms, stored_updates)
        retry += self._answer_duplicates(todo)
        changed = [p for _, p in stored_updates]
        notices = self._notices(rooms, new, [p.message for p in changed if p.notify])
        events = self._pin_events(rooms, stored_updates)
        await self.publish(new, [p.message for p in changed], notices, events)
        return retry

    @staticmethod
    def _pin_events(rooms: dict[int, Room], stored: list[tuple[Pending, PlannedUpdate]]) -> list[tuple]:
        """``room:pins`` for each room whose pins changed (a pin, an unpin, a pinned message deleted)."""
        changed = dict.fromkeys(e.op.room_id for e, p in stored if "pinned" in p.fields)
        out = []
        for room_id in changed:
            room = rooms[room_id]
            out.append(
                (room_id, "room:pins", {"room_id": room_id, "rev": room.rev, "pins": room.pinned_seqs()})
            )
        return out

    @staticmethod
    def _notices(rooms: dict[int, Room], new: list[dict], edited: list[dict]) -> list[dict]:
        """Notice entries for the notifier: new messages with mentions or a reply, edits adding mentions
        (off the hot path: the notifier resolves recipients and creates the notifications)."""
        out = []
        fresh = [(m, True) for b in new for m in b["messages"]]
        for m, is_new in fresh + [(m, False) for m in edited]:
            room = rooms[m["room_id"]]
            dm = room.is_dm and is_new  # every new message of a DM notifies its other people
            if not notifies(m) and not dm:
                continue
            replied = room.cached(m["reply_to_seq"]) if m.get("reply_to_seq") else None
            entry = notice_entry(m, room.club_id, replied["author"]["id"] if replied else None)
            if dm:
                entry["dm"] = 1
            out.append(entry)
        return out

    async def _plan(self, rooms: dict[int, Room], todo: list[Pending], now: float) -> list[Pending]:
        cursors: dict[int, Cursor] = {}
        planned: list[Pending] = []
        refused: list[dict] = []
        for e in todo:
            room = rooms[e.op.room_id]
            cur = cursors.get(room.room_id)
            if cur is None:
                cur = cursors[room.room_id] = Cursor(room.last_seq, room.rev)
            try:
                if await self._plan_one(e, room, cur, now):
                    planned.append(e)
            except AutoModRefusal as err:
                e.result = DomainError(err.code, err.message)
                refused.append(automod_entry(room, e, err))
            except DomainError as err:
                e.result = err
            except PyMongoError:
                e.result = unavailable()
        if refused:
            await self._audit(refused)
        return planned

    async def _plan_one(self, e: Pending, room: Room, cur: Cursor, now: float) -> bool:
        """Plan ``e`` on the cursor; False when it was answered without anything to store."""
        op = e.op
        if isinstance(op, Send):
            root = None
            if op.thread_root_seq is not None:
                if not (1 <= op.thread_root_seq <= cur.seq):
                    raise DomainError(
                        "invalid", f"thread_root_seq {op.thread_root_seq} is not a message of this room"
                    )
                root = await self._message(room, cur, op.thread_root_seq)
            return self._plan_send(e, op, room, cur, now, root)
        message = await self._message(room, cur, op.seq)
        planned: PlannedUpdate | None
        if isinstance(op, Pin):
            if room.pins is None:
                room.pins = await self.store.pins(room.room_id)
            planned = room.plan_pin(op.user_id, message, op.add, cur.rev + 1, now, cur.pins_added)
            if planned is None:  # already pinned, or not pinned
                e.result = {}
                return False
            cur.pins_added += 1 if op.add else -1
        elif isinstance(op, Edit):
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

    async def _message(self, room: Room, cur: Cursor, seq: int) -> dict:
        """A message as this round sees it: planned earlier in the round, in the ring, or stored."""
        message = cur.message(seq) or room.cached(seq)
        return message if message is not None else await self.store.fetch(room.room_id, seq)

    @staticmethod
    def _plan_send(e: Pending, op: Send, room: Room, cur: Cursor, now: float, root: dict | None) -> bool:
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
            root,
            list(op.attachments),
        )
        cur.seq, cur.rev = cur.seq + 1, cur.rev + 1
        cur.client_ids[op.client_id] = e
        cur.sends[cur.seq] = planned.message
        if planned.root is not None:  # the root's change takes the next rev
            cur.rev += 1
            cur.changed[planned.root.message["seq"]] = planned.root.message
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
        self, rooms: dict[int, Room], planned: list[Pending], stored_sends: list[Pending]
    ) -> list[tuple[Pending, PlannedUpdate]]:
        """Store the edits, deletes, reactions and pins, and the thread roots of the stored replies, in
        the order they were planned (a root's reply count and a later edit of it keep their revs in
        order); returns what was stored."""
        sent = {id(e) for e in stored_sends}
        sent_ok = {(e.op.room_id, e.planned.message["seq"]) for e in stored_sends if e.planned is not None}
        writes: list[tuple[Pending, PlannedUpdate]] = []
        for e in planned:
            if isinstance(e.planned, PlannedSend):
                if e.planned.root is not None and id(e) in sent:
                    writes.append((e, e.planned.root))
                continue
            assert isinstance(e.planned, PlannedUpdate)
            seq = e.planned.message["seq"]
            # An update to a message sent in a failed insert cannot be stored either.
            if (e.op.room_id, seq) in sent_ok or seq <= rooms[e.op.room_id].last_seq:
                writes.append((e, e.planned))
            else:
                e.result = unavailable()
        if not writes:
            return []
        try:
            await self.store.update([(e.op.room_id, p) for e, p in writes])
        except PyMongoError as exc:
            log.warning("update failed: %s", exc)
            for e, p in writes:
                if p is e.planned:
                    e.result = unavailable()
                else:  # the reply is stored and acked; its root's count stays behind by one
                    self.counters["thread_root_update_lost"] += 1
            return []
        return writes

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

    async def _commit_updates(
        self, rooms: dict[int, Room], stored: list[tuple[Pending, PlannedUpdate]]
    ) -> None:
        moderation = []
        for e, planned in stored:
            room = rooms[e.op.room_id]
            room.commit_update(planned)
            if planned is not e.planned:
                continue  # a thread root: its reply was answered as a send
            e.result = {}
            entry = moderation_entry(room, e)
            if entry is not None:
                moderation.append(entry)
        if moderation:
            await self._audit(moderation)

    async def _audit(self, entries: list[dict]) -> None:
        try:
            await self.store.audit(entries)
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
