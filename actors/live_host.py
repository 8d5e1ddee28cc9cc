"""``LiveHost``: the live sessions of a room shard, hosted with the rooms they belong to.

Membership and timeouts come from the session's room, the same rules as sending a message, so a ban or
a leave is seen at once. Changes within ``LIVE_COALESCE_S`` go out together as one ``live:update`` (a
join storm is one frame per listener, not one per joiner). Answers are success payloads (plain dicts)
or ``DomainError``.

Durability, the way the room writer does it for messages: a flush first stores the records of everything
it takes (one insert into the session's journal, ``storage.live_store``), then publishes, then answers the
actions it carried — an acknowledged vote is stored, and nothing is broadcast that is not. When the store
refuses or times out, the flush's actions are refused with ``unavailable``, nothing is published, and the
session is dropped from memory: its next use reloads what was stored, so the state never runs ahead of the
journal. A session not in memory (the shard restarted, possibly on another node) is restored from the
journal on first use — a join, an action, a leave, or the state query — with its version continuing.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from storage.janus import AudioRooms
from storage.live_store import SNAPSHOT_EVERY, Journal, LiveStore, LiveStoreError, StaleWriter

from .domain.errors import DomainError
from .domain.live_session import LiveSession
from .domain.room import Member, Room
from .fanout import Fanout
from .hosting import TaskSet, every

log = logging.getLogger(__name__)

LIVE_COALESCE_S = 0.005
SNAPSHOT_MAX_AGE_S = 3600.0  # a quiet session still gets a fresh snapshot hourly (retention counts from it)
PURGE_EVERY_S = 3600.0
LIVE_STORE_UNAVAILABLE = "live session store unavailable; retry"
AUDIO_SYNC_S = 1.5  # one attempt to bring Janus in line; past it the broadcast goes out and a retry follows
AUDIO_RETRY_MAX_S = 30.0
AUDIO_RETRIES_ENDED = 40  # an ended session's rooms stop being destroyed after ~15 minutes of failures
# Records that change who may be heard or listen (or whether anyone may): Janus must follow them.
AUDIO_RECORDS = frozenset({"role", "remove", "end"})

# action -> what it does to the session; a non-None answer is returned under the name in RESULT_NAMES.
_ACTIONS: dict[str, Callable[[LiveSession, int, dict], Any]] = {
    "hand": lambda s, user, a: s.hand(user, a["raised"]),
    "promote": lambda s, user, a: s.promote(user, a["user_id"], a["role"]),
    "ask": lambda s, user, a: s.ask(user, a["text"], a.get("anonymous", False)),
    "upvote": lambda s, user, a: s.upvote(user, a["question_id"]),
    "answer": lambda s, user, a: s.answer(user, a["question_id"]),
    "poll": lambda s, user, a: s.poll(user, a["question"], a["options"]),
    "vote": lambda s, user, a: s.vote(user, a["poll_id"], a["option"]),
    "close_poll": lambda s, user, a: s.close_poll(user, a["poll_id"]),
    "pin": lambda s, user, a: s.pin(user, a["text"]),
    "end": lambda s, user, a: s.end(user),
    "moderate": lambda s, user, a: s.moderate(user, a["enabled"]),
    "approve": lambda s, user, a: s.approve(user, a["question_id"]),
    "dismiss": lambda s, user, a: s.dismiss(user, a["question_id"]),
    # A read, answered to the caller alone: how a pending question's text reaches the host and its author.
    "pending": lambda s, user, a: s.pending_questions(user),
}
RESULT_NAMES = {"ask": "question_id", "poll": "poll_id", "end": "summary", "pending": "questions"}


def not_live(event_id: int) -> DomainError:
    return DomainError("not_found", f"event {event_id} is not live")


def store_unavailable() -> DomainError:
    return DomainError("unavailable", LIVE_STORE_UNAVAILABLE)


@dataclass(eq=False)
class Hosted:
    """A live session in memory and what its host needs to store it."""

    session: LiveSession
    journal: int  # the newest stored journal entry
    snapshot_journal: int  # the newest entry that carries the whole state
    snapshot_at: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiters: list[asyncio.Future[DomainError | None]] = field(default_factory=list)
    due: bool = False  # a flush is scheduled
    writing: bool = False  # a flush is storing what it took
    lost: bool = False  # a store write failed: this copy is no longer the session; the next use reloads

    def snapshot_due(self, journal: int) -> bool:
        return (
            self.session.status != "live"
            or journal - self.snapshot_journal >= SNAPSHOT_EVERY
            or time.time() - self.snapshot_at >= SNAPSHOT_MAX_AGE_S
        )


class LiveHost:
    def __init__(
        self,
        room: Callable[[int], Awaitable[Room]],
        member: Callable[[int, int], Awaitable[Member]],
        fanout: Fanout,
        counters: Counter[str],
        tasks: TaskSet,
        db: Callable[[], Any],
        store_timeout_s: float = 2.0,
        audio: AudioRooms | None = None,
    ) -> None:
        self._room = room  # activates the room of a session
        self._member = member  # (room_id, user_id) -> the member, or DomainError
        self.fanout = fanout
        self.counters = counters
        self.tasks = tasks
        self.store = LiveStore(db, store_timeout_s)  # db: the shard's MongoDB database, once it is open
        self.sessions: dict[int, Hosted] = {}  # event_id -> its live session (ended ones are not kept)
        self._loading: dict[int, asyncio.Task[Hosted | None]] = {}
        self._purging: asyncio.Task | None = None
        # Live sessions' audio on Janus (None: no media server). What was applied there, per session in
        # memory: its listening epoch (a session that is not here is asked again, after a restart).
        self.audio = audio
        if audio is not None:
            audio.on_talking = self._talking
        self._audio_epochs: dict[int, tuple[int, int]] = {}  # event -> (Janus connection, epoch) applied
        self._audio_retrying: set[int] = set()

    # -- finding a session: in memory, else restored from the store ----------------------------
    async def _get(self, event_id: int) -> Hosted | None:
        """The session (live, or ended as stored), restoring it once however many callers ask at once;
        None when none was ever stored. Raises ``LiveStoreError``."""
        hosted = self.sessions.get(event_id)
        if hosted is not None:
            return hosted
        task = self._loading.get(event_id)
        if task is None:
            task = self._loading[event_id] = asyncio.get_running_loop().create_task(self._load(event_id))
            task.add_done_callback(
                lambda t: self._loading.pop(event_id, None) if self._loading.get(event_id) is t else None
            )
        return await asyncio.shield(task)

    async def _load(self, event_id: int) -> Hosted | None:
        self._start_purging()
        journal: Journal | None = await self.store.load(event_id)
        if journal is None:
            return None
        session = LiveSession.from_dict(journal.state)
        session.replay(journal.records)
        if session.version != journal.version:  # a bug, not an outage: keep the version from going back
            log.error(
                "live session %s replayed to version %s, stored %s",
                event_id,
                session.version,
                journal.version,
            )
            self.counters["live_restore_mismatches"] += 1
            session.version = max(session.version, journal.version)
        hosted = Hosted(session, journal.journal, journal.snapshot_journal, journal.snapshot_ts)
        if session.status == "live" and event_id not in self.sessions:
            self.sessions[event_id] = hosted
            self.counters["live_restores"] += 1
            # The host that died may have stored a change it never applied on Janus: say it all again.
            self._audio_later(hosted)
        return self.sessions.get(event_id, hosted)

    async def _live(self, event_id: int) -> Hosted | DomainError:
        try:
            hosted = await self._get(event_id)
        except LiveStoreError as exc:
            log.warning("live session %s could not be loaded: %s", event_id, exc)
            return store_unavailable()
        if hosted is None or hosted.session.status != "live":
            return not_live(event_id)
        return hosted

    def _start_purging(self) -> None:
        if self._purging is None:
            self._purging = self.tasks.spawn(every(PURGE_EVERY_S, self.store.purge, "live store purge"))

    # -- the calls --------------------------------------------------------------------------
    async def start(self, event_id: int, room_id: int, host_id: int) -> dict | DomainError:
        try:
            previous = await self._get(event_id)
        except LiveStoreError:
            return store_unavailable()
        if previous is not None and previous.session.status == "live":
            return {"state": previous.session.state()}
        try:
            room = await self._room(room_id)
        except DomainError as err:
            return err
        # A session started again after an ended one continues its journal and version: both only rise.
        session = LiveSession(
            event_id,
            room_id,
            host_id,
            club_id=room.club_id,
            version=previous.session.version if previous else 0,
        )
        hosted = Hosted(session, previous.journal if previous else 0, 0, 0.0)
        self.sessions[event_id] = hosted
        refused = await self._flush(hosted, force=True)  # the session exists once it is stored
        return refused or {"state": session.state()}

    async def join(self, event_id: int, user_id: int, socket_key: str) -> dict | DomainError:
        hosted = await self._live(event_id)
        if isinstance(hosted, DomainError):
            return hosted
        session = hosted.session
        try:
            await self._member(session.room_id, user_id)
            session.join(user_id, socket_key)
        except DomainError as err:
            return err
        if (
            self.audio is not None
            and not self._audio_applied(event_id)
            and event_id not in self._audio_retrying  # Janus is failing: joins do not wait on it
        ):
            async with hosted.lock:  # e.g. Janus restarted and forgot the room: made again before the answer
                await self._audio(hosted)
        state = session.state()  # what this join saw: stored once the wait below returns
        pending = session.pending_questions(user_id)  # the joiner's own answer: the host's review queue
        refused = await self._stored(hosted)
        return refused or {"state": state, "pending": pending, "audio_epoch": session.audio_epoch}

    def leave(self, items: list[tuple[int, int, str]]) -> None:
        for event_id, user_id, socket_key in items:
            hosted = self.sessions.get(event_id)
            if hosted is None:
                # Not in memory (the shard restarted): the stored session may still list this socket.
                self.tasks.spawn(self._leave_restored(event_id, user_id, socket_key))
            elif hosted.session.status == "live" and hosted.session.leave(user_id, socket_key):
                self._changed(hosted)

    async def _leave_restored(self, event_id: int, user_id: int, socket_key: str) -> None:
        hosted = await self._live(event_id)
        if not isinstance(hosted, DomainError) and hosted.session.leave(user_id, socket_key):
            self._changed(hosted)

    async def act(self, event_id: int, user_id: int, action: str, args: dict) -> dict | DomainError:
        """One change to a live session, answered once it is stored; everyone in it gets the change as
        ``live:update``."""
        hosted = await self._live(event_id)
        if isinstance(hosted, DomainError):
            return await self._ended_again(event_id, user_id) if action == "end" else hosted
        session = hosted.session
        try:
            if action != "end":
                await self._may_act(session, user_id)
            do = _ACTIONS.get(action)
            if do is None:
                return DomainError("invalid", f"unknown live action {action}")
            answer = do(session, user_id, args)
        except DomainError as err:
            return err
        # An end is stored at once: the summary and the last changes go out before the REST answer.
        refused = await (self._flush(hosted) if session.status == "ended" else self._stored(hosted))
        if refused is not None:
            return refused
        return {RESULT_NAMES[action]: answer} if action in RESULT_NAMES else {}

    async def _ended_again(self, event_id: int, user_id: int) -> dict | DomainError:
        """``end`` of a session whose end is already stored (the gateway died before recording it on the
        event): the host gets the stored summary again, so ending stays retryable."""
        try:
            hosted = await self._get(event_id)
        except LiveStoreError:
            return store_unavailable()
        if hosted is None or hosted.session.status != "ended":
            return not_live(event_id)
        if hosted.session.role(user_id) != "host":
            return DomainError("forbidden", "only the host can do that")
        return {"summary": hosted.session.summary()}

    async def _may_act(self, session: LiveSession, user_id: int) -> None:
        member = await self._member(session.room_id, user_id)
        if member.muted_until and member.muted_until > time.time():
            raise DomainError("forbidden", "you are timed out in this club")
        if user_id not in session.present:
            raise DomainError("forbidden", "join the live session first")

    def state(self, event_id: int) -> dict | None:
        """The state of a session in memory (None if it is not: see ``restored_state``)."""
        hosted = self.sessions.get(event_id)
        if hosted is None:
            return None
        return {**hosted.session.state(), "present_users": sorted(hosted.session.attendees)}

    async def restored_state(self, event_id: int) -> dict | None | DomainError:
        """The state, restoring the session first when it is not in memory."""
        hosted = await self._live(event_id)
        if isinstance(hosted, DomainError):
            return None if hosted.code == "not_found" else hosted
        return self.state(event_id)

    def remove(self, club_id: int, user_id: int) -> None:
        """A user left or was banned from a club: out of its live sessions at once, whatever their sockets do.
        (A session not in memory is not loaded for this: its join and act check the membership anyway.)"""
        for hosted in self.sessions.values():
            session = hosted.session
            if session.club_id == club_id and session.status == "live" and session.remove(user_id):
                self._changed(hosted)

    # -- store, then publish, then answer ------------------------------------------------------
    async def _stored(self, hosted: Hosted) -> DomainError | None:
        """Wait until everything this session did so far is stored (None), or the refusal."""
        if not hosted.session.pending_records() and not hosted.writing and not hosted.due:
            return None
        waiter: asyncio.Future[DomainError | None] = asyncio.get_running_loop().create_future()
        hosted.waiters.append(waiter)
        self._changed(hosted)
        return await waiter

    def _changed(self, hosted: Hosted) -> None:
        if hosted.due:
            return
        hosted.due = True

        def flush() -> None:
            hosted.due = False
            self.tasks.spawn(self._flush(hosted))

        asyncio.get_running_loop().call_later(LIVE_COALESCE_S, flush)

    async def _flush(self, hosted: Hosted, force: bool = False) -> DomainError | None:
        """Store what the session recorded since the last flush (one insert), publish its changes, answer
        the actions waiting for it. One flush of a session at a time: two stores or publishes in flight
        could overtake each other, and a listener that gets version N+k before N drops both as a gap."""
        session = hosted.session
        async with hosted.lock:
            waiters, hosted.waiters = hosted.waiters, []
            if hosted.lost:
                return self._answer(waiters, store_unavailable())
            records = session.take_records()
            version, changes = session.take_changes()
            if not records and not force:
                return self._answer(waiters, None)
            journal = hosted.journal + 1
            snapshot = force or hosted.snapshot_due(journal)
            # Taken in the same step as the records, so the snapshot is exactly the state after them.
            state = session.to_dict() if snapshot else None
            ended = session.status != "live"
            hosted.writing = True
            try:
                await self.store.append(session.event_id, journal, version, records, state, ended)
            except LiveStoreError as exc:
                return self._answer(waiters, self._lost(hosted, exc))
            finally:
                hosted.writing = False
            hosted.journal = journal
            self.counters["live_journal_writes"] += 1
            if snapshot:
                hosted.snapshot_journal, hosted.snapshot_at = journal, time.time()
                self.tasks.spawn(self._trim(session.event_id, journal))
            if ended and self.sessions.get(session.event_id) is hosted:
                del self.sessions[session.event_id]
            # Janus follows before anyone hears of the change: a demoted speaker is off the stage, and a
            # promoted one's token works, by the time their client sees the new role.
            if force or any(r["k"] in AUDIO_RECORDS for r in records):
                await self._audio(hosted)
            if changes:
                await self._publish(session.event_id, version, changes)
            return self._answer(waiters, None)

    # -- audio: Janus kept in line with the stage ------------------------------------------------
    async def _audio(self, hosted: Hosted, retry: bool = True) -> bool:
        """Apply the session's stage (who may speak, the listening epoch, live or ended) on Janus: True when
        done. Bounded; a failure is retried in the background with backoff, never forever in the caller."""
        if self.audio is None:
            return True
        session = hosted.session
        event_id = session.event_id
        try:
            async with asyncio.timeout(AUDIO_SYNC_S):
                if session.status != "live":
                    await self.audio.destroy(event_id)
                    self._audio_epochs.pop(event_id, None)
                    return True
                stage = session.stage()
                await self.audio.ensure(event_id, stage, session.audio_epoch)
                await self.audio.speakers(event_id, stage)
                await self.audio.monitor(event_id)
                generation = self.audio.janus.generation
                applied = self._audio_epochs.get(event_id)
                known = applied[1] if applied and applied[0] == generation else None
                if known is None:
                    known = await self.audio.listen_epoch(event_id)
                if known != session.audio_epoch:
                    await self.audio.rekey(event_id, session.audio_epoch)
                self._audio_epochs[event_id] = (generation, session.audio_epoch)
                self.counters["live_audio_syncs"] += 1
                return True
        # Whatever Janus did, the session goes on: without audio for a moment, until a retry works.
        except Exception as exc:
            self._audio_epochs.pop(event_id, None)
            self.counters["live_audio_errors"] += 1
            log.warning("live session %s audio not applied on Janus: %s", event_id, exc)
            if retry:
                self._audio_later(hosted)
            return False

    def _talking(self, event_id: int, user_id: int, talking: bool) -> None:
        hosted = self.sessions.get(event_id)
        if hosted is None or hosted.session.status != "live":
            return
        self.counters["live_speaking_events"] += 1
        self.tasks.spawn(self._speaking(event_id, user_id, talking))

    async def _speaking(self, event_id: int, user_id: int, talking: bool) -> None:
        try:
            await self.fanout.live_speaking(event_id, user_id, talking)
        except Exception as exc:  # a lost indicator is corrected by the next change of that speaker
            log.debug("live:speaking not published: %s", exc)

    def _audio_applied(self, event_id: int) -> bool:
        applied = self._audio_epochs.get(event_id)
        return self.audio is not None and applied is not None and applied[0] == self.audio.janus.generation

    def _audio_later(self, hosted: Hosted) -> None:
        event_id = hosted.session.event_id
        if self.audio is None or event_id in self._audio_retrying:
            return
        self._audio_retrying.add(event_id)

        async def retry() -> None:
            delay = 0.25
            try:
                ended = hosted.session.status != "live"
                for _ in range(AUDIO_RETRIES_ENDED) if ended else itertools.count():
                    await asyncio.sleep(delay)
                    if hosted.lost or (
                        hosted.session.status == "live" and self.sessions.get(event_id) is not hosted
                    ):
                        return  # another copy of the session is in charge now
                    async with hosted.lock:
                        if await self._audio(hosted, retry=False):
                            return
                    delay = min(delay * 2, AUDIO_RETRY_MAX_S)
            finally:
                self._audio_retrying.discard(event_id)

        self.tasks.spawn(retry())

    def _lost(self, hosted: Hosted, exc: LiveStoreError) -> DomainError:
        """A write failed: what this copy holds past the journal was never stored, so it goes; nothing of
        it is published, and the next use of the session reloads the journal."""
        event_id = hosted.session.event_id
        hosted.lost = True
        if self.sessions.get(event_id) is hosted:
            del self.sessions[event_id]
        if isinstance(exc, StaleWriter):
            self.counters["live_stale_writes"] += 1
            log.error("live session %s was written by another host; reloading it: %s", event_id, exc)
        else:
            self.counters["live_store_errors"] += 1
            log.warning("live session %s not stored: %s", event_id, exc)
        return store_unavailable()

    @staticmethod
    def _answer(
        waiters: list[asyncio.Future[DomainError | None]], result: DomainError | None
    ) -> DomainError | None:
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(result)
        return result

    async def _publish(self, event_id: int, version: int, changes: list[dict]) -> None:
        update = {"event_id": event_id, "version": version, "changes": changes}
        try:
            await self.fanout.live_update(event_id, update)
        except Exception as exc:  # listeners see the gap in version and re-join for the whole state
            self.counters["live_publish_errors"] += 1
            log.warning("live update publish failed: %s", exc)

    async def _trim(self, event_id: int, snapshot_journal: int) -> None:
        try:
            await self.store.trim(event_id, snapshot_journal)
        except LiveStoreError as exc:  # the next snapshot trims these too
            log.warning("live journal of %s not trimmed: %s", event_id, exc)
