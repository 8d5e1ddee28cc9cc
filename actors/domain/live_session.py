"""``LiveSession``: an event's live session as a plain state machine (no Ray, no I/O).

Roles host / speaker / audience (like a Stage channel or a Clubhouse room), raised hands in the order
they were raised, Q&A with one upvote per user and questions sorted by votes, polls with one vote per
user and live tallies, a pinned announcement. A refused change raises ``DomainError`` (the
domain's one refusal type) with a contract error code.

``state()`` is the whole session, sent once to a joiner. Every accepted change after that is recorded as a
small *change* (the one question, poll, hand, role, pin or head count that changed) and raises ``version`` by
one; the host drains them with ``take_changes()`` and broadcasts them as ``live:update``. Sending the whole
state on each change cost O(questions) bytes per change per participant: 300 questions of 500 characters
made 26 MB of frames for one listener. Every collection is bounded (questions per member and per session,
polls, option counts), so neither the state nor the summary can grow without limit.

Durability (the host stores before it broadcasts): each command first *decides* (validates, may refuse), then
turns what it decided into a *record* — a small plain fact such as ``{"k": "vote", "p": 3, "u": 42, "o": 1}``,
carrying its own timestamp — and *applies* it. Applying is the only code that changes the state, and it is
deterministic, so ``replay(records)`` on a ``from_dict()`` snapshot rebuilds exactly the session that recorded
them, version included. ``take_records()`` drains the records for the host to store; ``to_dict()`` is the whole
state for a snapshot. Records, not the broadcast changes, are what is stored: a change carries a question's
vote *count*, a record says *who* voted, which is what keeps "one vote per user" true after a restore.

Hosts' extras. *Moderated Q&A*: while ``moderated`` is on, a question from anyone but the host is *pending*:
out of ``state()`` and the summary until the host approves it (or dismisses it: then it is gone). Every change
reaches every listener, so the change a pending question makes is ``{kind: "pending", question_id, status,
count}`` with neither text nor author; its text reaches only the host and its author, who ask for it
(``pending_questions``). *Anonymous questions*: the author stays in the state (the open-question limit
counts it, and its author sees it in ``pending_questions``), but no view shows who asked; the gateway
records the real author in the club's audit log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import DomainError

MAX_QUESTION = 500
MAX_PIN = 500
MAX_POLL_OPTIONS = 10
MAX_OPEN_QUESTIONS_PER_MEMBER = 5
MAX_QUESTIONS = 200
MAX_POLLS = 50


@dataclass
class Question:
    id: int
    author_id: int
    text: str
    ts: float
    voters: set[int] = field(default_factory=set)
    answered: bool = False
    anonymous: bool = False
    pending: bool = False  # asked while Q&A was moderated, not yet approved: host and author only

    def view(self) -> dict:
        return {
            "question_id": self.id,
            "author_id": None if self.anonymous else self.author_id,
            "text": self.text,
            "votes": len(self.voters),
            "answered": self.answered,
            "anonymous": self.anonymous,
        }


@dataclass
class Poll:
    id: int
    question: str
    options: list[str]
    votes: dict[int, int] = field(default_factory=dict)  # user -> option index
    closed: bool = False

    def tallies(self) -> list[int]:
        counts = [0] * len(self.options)
        for option in self.votes.values():
            counts[option] += 1
        return counts

    def view(self) -> dict:
        return {
            "poll_id": self.id,
            "question": self.question,
            "options": self.options,
            "tallies": self.tallies(),
            "closed": self.closed,
        }


@dataclass
class LiveSession:
    event_id: int
    room_id: int
    host_id: int
    status: str = "live"
    roles: dict[int, str] = field(default_factory=dict)  # user -> host | speaker (others: audience)
    present: dict[int, set[str]] = field(default_factory=dict)  # user -> sockets in the session
    attendees: set[int] = field(default_factory=set)
    peak_audience: int = 0
    hands: dict[int, float] = field(default_factory=dict)  # insertion order = order raised
    questions: dict[int, Question] = field(default_factory=dict)
    polls: dict[int, Poll] = field(default_factory=dict)
    pinned: str | None = None
    moderated: bool = False  # new questions wait for the host's approval
    started_at: float = field(default_factory=time.time)
    club_id: int | None = None
    ended_at: float | None = None
    version: int = 0
    # Rises when someone who may have been listening is removed: the audio stream is re-keyed with it
    # (storage.janus), so whoever was removed stops hearing the session at once.
    audio_epoch: int = 0
    _changes: list = field(default_factory=list)  # recorded since the last take_changes()
    _records: list = field(default_factory=list)  # recorded since the last take_records()
    _next_id: int = 0

    def __post_init__(self) -> None:
        self.roles[self.host_id] = "host"

    def _changed(self, change: dict) -> None:
        self.version += 1
        self._changes.append(change)

    def take_changes(self) -> tuple[int, list[dict]]:
        """The changes recorded since the last call and the version after the last of them."""
        changes, self._changes = self._changes, []
        return self.version, changes

    def take_records(self) -> list[dict]:
        """The records of every accepted change since the last call, in order (what the host stores)."""
        records, self._records = self._records, []
        return records

    def pending_records(self) -> int:
        return len(self._records)

    def _do(self, record: dict) -> None:
        self._apply(record)
        self._records.append(record)

    def replay(self, records: list[dict]) -> None:
        """Apply stored records (after ``from_dict`` of the snapshot before them). The changes they make
        are not news to anyone: dropped, but the version rises exactly as it did."""
        for record in records:
            self._apply(record)
        self._changes.clear()

    def _presence_change(self, user_id: int, online: bool) -> None:
        self._changed(
            {
                "kind": "presence",
                "user_id": user_id,
                "online": online,
                "present": len(self.present),
                "audience_count": self.audience_count(),
            }
        )

    def role(self, user_id: int) -> str:
        return self.roles.get(user_id, "audience")

    def _live(self) -> None:
        if self.status != "live":
            raise DomainError("conflict", "the live session has ended")

    def _host(self, user_id: int) -> None:
        self._live()
        if self.role(user_id) != "host":
            raise DomainError("forbidden", "only the host can do that")

    # -- presence --------------------------------------------------------------------------
    def join(self, user_id: int, socket_key: str) -> None:
        self._live()
        if socket_key not in self.present.get(user_id, ()):
            self._do({"k": "join", "u": user_id, "s": socket_key})

    def leave(self, user_id: int, socket_key: str) -> bool:
        if socket_key not in self.present.get(user_id, ()):
            return False
        self._do({"k": "leave", "u": user_id, "s": socket_key})
        return True

    def remove(self, user_id: int) -> bool:
        """The user may no longer be here (banned, left the club): gone with every socket, off the stage.
        True when anything changed. Their questions stay, as a deleted account's messages do."""
        if self.roles.get(user_id) != "speaker" and user_id not in self.present:
            return False
        self._do({"k": "remove", "u": user_id})
        return True

    def stage(self) -> list[int]:
        """Who may be heard: the host, then the speakers."""
        return [self.host_id, *sorted(u for u, r in self.roles.items() if r == "speaker")]

    def audience_count(self) -> int:
        return sum(1 for u in self.present if self.role(u) == "audience")

    # -- stage -----------------------------------------------------------------------------
    def hand(self, user_id: int, raised: bool) -> None:
        self._live()
        if raised:
            if self.role(user_id) != "audience":
                raise DomainError("invalid", "you are already on stage")
            if user_id in self.hands:
                return
        elif user_id not in self.hands:
            return
        self._do({"k": "hand", "u": user_id, "raised": raised, "ts": time.time()})

    def promote(self, actor_id: int, user_id: int, role: str) -> None:
        self._host(actor_id)
        if role not in ("speaker", "audience"):
            raise DomainError("invalid", "role must be speaker or audience")
        if user_id == self.host_id:
            raise DomainError("invalid", "the host stays host")
        if user_id not in self.present:
            raise DomainError("not_found", "that user is not in the session")
        self._do({"k": "role", "u": user_id, "role": role})

    # -- Q&A -------------------------------------------------------------------------------
    def ask(self, user_id: int, text: str, anonymous: bool = False) -> int:
        self._live()
        text = (text or "").strip()
        if not text:
            raise DomainError("invalid", "a question needs text")
        if len(text) > MAX_QUESTION:
            raise DomainError("too_large", f"a question holds at most {MAX_QUESTION} characters")
        mine = sum(1 for q in self.questions.values() if q.author_id == user_id and not q.answered)
        if mine >= MAX_OPEN_QUESTIONS_PER_MEMBER:
            raise DomainError(
                "rate_limited",
                f"you already have {mine} open questions; ask more once the host has answered some",
            )
        if len(self.questions) >= MAX_QUESTIONS:
            raise DomainError("conflict", f"this session has reached its {MAX_QUESTIONS} questions")
        question_id = self._next_id + 1
        record = {"k": "ask", "q": question_id, "u": user_id, "text": text, "ts": time.time()}
        # Flags only when set: records of older sessions had neither, and replay reads them as False.
        if anonymous:
            record["anon"] = True
        if self.moderated and self.role(user_id) != "host":
            record["pending"] = True
        self._do(record)
        return question_id

    def _published(self, question_id: int) -> Question:
        """A question everyone may see; a pending one is as unknown as a missing one (no probing)."""
        q = self.questions.get(question_id)
        if q is None or q.pending:
            raise DomainError("not_found", f"no question {question_id}")
        return q

    def upvote(self, user_id: int, question_id: int) -> None:
        self._live()
        q = self._published(question_id)
        if user_id in q.voters:
            return  # one upvote per user: a second one changes nothing
        self._do({"k": "upvote", "q": question_id, "u": user_id})

    def answer(self, actor_id: int, question_id: int) -> None:
        self._host(actor_id)
        q = self.questions.get(question_id)
        if q is None:
            raise DomainError("not_found", f"no question {question_id}")
        if q.pending:
            raise DomainError("conflict", "approve the question before answering it")
        if not q.answered:
            self._do({"k": "answer", "q": question_id})

    # -- moderated Q&A ---------------------------------------------------------------------------
    def moderate(self, actor_id: int, enabled: bool) -> None:
        """Switching moderation off publishes nothing by itself: what is pending stays for the host."""
        self._host(actor_id)
        if bool(enabled) != self.moderated:
            self._do({"k": "moderate", "on": bool(enabled)})

    def _pending(self, actor_id: int, question_id: int) -> Question | None:
        self._host(actor_id)
        q = self.questions.get(question_id)
        if q is None:
            raise DomainError("not_found", f"no question {question_id}")
        return q if q.pending else None

    def approve(self, actor_id: int, question_id: int) -> None:
        if self._pending(actor_id, question_id) is not None:
            self._do({"k": "approve", "q": question_id})

    def dismiss(self, actor_id: int, question_id: int) -> None:
        if self._pending(actor_id, question_id) is None:
            raise DomainError("conflict", "only a question awaiting approval can be dismissed")
        self._do({"k": "dismiss", "q": question_id})

    def pending_count(self) -> int:
        return sum(1 for q in self.questions.values() if q.pending)

    def pending_questions(self, viewer_id: int) -> list[dict]:
        """The pending questions ``viewer_id`` may read, oldest first: all of them for the host, its own
        for anyone else."""
        self._live()
        host = self.role(viewer_id) == "host"
        return [
            {**q.view(), "mine": q.author_id == viewer_id}
            for q in self.questions.values()
            if q.pending and (host or q.author_id == viewer_id)
        ]

    # -- polls -----------------------------------------------------------------------------
    def poll(self, actor_id: int, question: str, options: list[str]) -> int:
        self._host(actor_id)
        question = (question or "").strip()
        options = [o.strip() for o in options if isinstance(o, str) and o.strip()]
        if not question or len(options) < 2:
            raise DomainError("invalid", "a poll needs a question and at least two options")
        if len(options) > MAX_POLL_OPTIONS or len(set(options)) != len(options):
            raise DomainError("invalid", f"2–{MAX_POLL_OPTIONS} different options")
        if len(self.polls) >= MAX_POLLS:
            raise DomainError("conflict", f"this session has reached its {MAX_POLLS} polls")
        poll_id = self._next_id + 1
        self._do({"k": "poll", "p": poll_id, "question": question, "options": options})
        return poll_id

    def vote(self, user_id: int, poll_id: int, option: int | str) -> None:
        self._live()
        p = self.polls.get(poll_id)
        if p is None:
            raise DomainError("not_found", f"no poll {poll_id}")
        if p.closed:
            raise DomainError("conflict", "the poll is closed")
        index = p.options.index(option) if isinstance(option, str) and option in p.options else option
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(p.options):
            raise DomainError("invalid", "no such option")
        if user_id in p.votes:
            raise DomainError("conflict", "you have already voted in this poll")
        self._do({"k": "vote", "p": poll_id, "u": user_id, "o": index})

    def close_poll(self, actor_id: int, poll_id: int) -> None:
        self._host(actor_id)
        p = self.polls.get(poll_id)
        if p is None:
            raise DomainError("not_found", f"no poll {poll_id}")
        if not p.closed:
            self._do({"k": "close", "p": poll_id})

    def pin(self, actor_id: int, text: str) -> None:
        self._host(actor_id)
        text = (text or "").strip()
        if len(text) > MAX_PIN:
            raise DomainError("too_large", f"a pinned announcement holds at most {MAX_PIN} characters")
        self._do({"k": "pin", "text": text or None})

    # -- views -----------------------------------------------------------------------------
    def _visible_questions(self) -> list[Question]:
        visible = (q for q in self.questions.values() if not q.pending)
        return sorted(visible, key=lambda q: (-len(q.voters), q.ts))

    def state(self) -> dict:
        questions = self._visible_questions()
        return {
            "event_id": self.event_id,
            "room_id": self.room_id,
            "status": self.status,
            "host_id": self.host_id,
            "speakers": sorted(u for u, r in self.roles.items() if r == "speaker"),
            "audience_count": self.audience_count(),
            "present": len(self.present),
            "hands": list(self.hands),
            "questions": [q.view() for q in questions],
            "polls": [p.view() for p in self.polls.values()],
            "pinned": self.pinned,
            "moderated": self.moderated,
            "pending_count": self.pending_count(),
            "version": self.version,
        }

    def end(self, actor_id: int) -> dict:
        self._host(actor_id)
        self._do({"k": "end", "ts": time.time()})
        return self.summary()

    def summary(self) -> dict:
        questions = self._visible_questions()  # never approved: never published
        return {
            "attendance": len(self.attendees),
            "peak_audience": self.peak_audience,
            "duration_s": round((self.ended_at or time.time()) - self.started_at),
            "questions": [
                {"text": q.text, "votes": len(q.voters), "answered": q.answered} for q in questions
            ],
            "polls": [
                {"question": p.question, "options": p.options, "tallies": p.tallies()}
                for p in self.polls.values()
            ],
        }

    # -- applying records (the only code that changes the state) ------------------------------
    def _apply(self, r: dict) -> None:
        on = _APPLY.get(r["k"])
        if on is None:
            raise ValueError(f"unknown live record {r['k']!r}")
        on(self, r)

    def _on_join(self, r: dict) -> None:
        user_id = r["u"]
        sockets = self.present.setdefault(user_id, set())
        first = not sockets
        sockets.add(r["s"])
        self.attendees.add(user_id)
        self.peak_audience = max(self.peak_audience, self.audience_count())
        if first:
            self._presence_change(user_id, True)

    def _on_leave(self, r: dict) -> None:
        user_id = r["u"]
        sockets = self.present.get(user_id, set())
        sockets.discard(r["s"])
        if not sockets:
            self.present.pop(user_id, None)
            self.hands.pop(user_id, None)
            self._presence_change(user_id, False)

    def _on_remove(self, r: dict) -> None:
        user_id = r["u"]
        if self.roles.get(user_id) == "speaker":
            del self.roles[user_id]
            self._role_change(user_id, "audience")
        if user_id in self.present:
            del self.present[user_id]
            self.hands.pop(user_id, None)
            self.audio_epoch += 1
            self._presence_change(user_id, False)

    def _on_hand(self, r: dict) -> None:
        if r["raised"]:
            self.hands[r["u"]] = r["ts"]
        else:
            self.hands.pop(r["u"], None)
        self._changed({"kind": "hand", "user_id": r["u"], "raised": r["raised"]})

    def _on_role(self, r: dict) -> None:
        if r["role"] == "speaker":
            self.roles[r["u"]] = "speaker"
            self.hands.pop(r["u"], None)
        else:
            self.roles.pop(r["u"], None)
        self._role_change(r["u"], r["role"])

    def _on_ask(self, r: dict) -> None:
        q = Question(r["q"], r["u"], r["text"], r["ts"], anonymous=r.get("anon", False))
        q.pending = r.get("pending", False)
        self.questions[q.id] = q
        self._next_id = max(self._next_id, q.id)
        if q.pending:
            self._pending_change(q.id, "new")
        else:
            self._changed({"kind": "question", "question": q.view()})

    def _pending_change(self, question_id: int, status: str) -> None:
        # Everyone gets this one: no text, no author (the host fetches those; see pending_questions).
        self._changed(
            {"kind": "pending", "question_id": question_id, "status": status, "count": self.pending_count()}
        )

    def _on_moderate(self, r: dict) -> None:
        self.moderated = r["on"]
        self._changed({"kind": "moderation", "moderated": self.moderated})

    def _on_approve(self, r: dict) -> None:
        q = self.questions[r["q"]]
        q.pending = False
        self._pending_change(q.id, "approved")
        self._changed({"kind": "question", "question": q.view()})

    def _on_dismiss(self, r: dict) -> None:
        del self.questions[r["q"]]
        self._pending_change(r["q"], "dismissed")

    def _on_upvote(self, r: dict) -> None:
        q = self.questions[r["q"]]
        q.voters.add(r["u"])
        self._changed({"kind": "question", "question": q.view()})

    def _on_answer(self, r: dict) -> None:
        q = self.questions[r["q"]]
        q.answered = True
        self._changed({"kind": "question", "question": q.view()})

    def _on_poll(self, r: dict) -> None:
        p = Poll(r["p"], r["question"], list(r["options"]))
        self.polls[p.id] = p
        self._next_id = max(self._next_id, p.id)
        self._changed({"kind": "poll", "poll": p.view()})

    def _on_vote(self, r: dict) -> None:
        p = self.polls[r["p"]]
        p.votes[r["u"]] = r["o"]
        self._changed({"kind": "poll", "poll": p.view()})

    def _on_close(self, r: dict) -> None:
        p = self.polls[r["p"]]
        p.closed = True
        self._changed({"kind": "poll", "poll": p.view()})

    def _on_pin(self, r: dict) -> None:
        self.pinned = r["text"]
        self._changed({"kind": "pin", "pinned": self.pinned})

    def _on_end(self, r: dict) -> None:
        self.status = "ended"
        self.ended_at = r["ts"]
        for p in self.polls.values():
            if not p.closed:
                p.closed = True
                self._changed({"kind": "poll", "poll": p.view()})
        self._changed({"kind": "status", "status": "ended"})

    def _role_change(self, user_id: int, role: str) -> None:
        self._changed(
            {"kind": "role", "user_id": user_id, "role": role, "audience_count": self.audience_count()}
        )

    # -- snapshot ----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The whole state as plain data (lists, string keys: a MongoDB document), changes not yet taken
        excluded. Orders that matter (hands raised, questions and polls asked) are kept as list order."""
        return {
            "event_id": self.event_id,
            "room_id": self.room_id,
            "host_id": self.host_id,
            "club_id": self.club_id,
            "status": self.status,
            "roles": [[u, r] for u, r in self.roles.items()],
            "present": [[u, sorted(sockets)] for u, sockets in self.present.items()],
            "attendees": sorted(self.attendees),
            "peak_audience": self.peak_audience,
            "hands": [[u, ts] for u, ts in self.hands.items()],
            "questions": [
                {
                    "id": q.id,
                    "author_id": q.author_id,
                    "text": q.text,
                    "ts": q.ts,
                    "voters": sorted(q.voters),
                    "answered": q.answered,
                    "anonymous": q.anonymous,
                    "pending": q.pending,
                }
                for q in self.questions.values()
            ],
            "polls": [
                {
                    "id": p.id,
                    "question": p.question,
                    "options": list(p.options),
                    "votes": [[u, o] for u, o in p.votes.items()],
                    "closed": p.closed,
                }
                for p in self.polls.values()
            ],
            "pinned": self.pinned,
            "moderated": self.moderated,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "version": self.version,
            "next_id": self._next_id,
            "audio_epoch": self.audio_epoch,
        }

    @classmethod
    def from_dict(cls, d: dict) -> LiveSession:
        s = cls(
            event_id=d["event_id"],
            room_id=d["room_id"],
            host_id=d["host_id"],
            status=d["status"],
            roles={u: r for u, r in d["roles"]},
            present={u: set(sockets) for u, sockets in d["present"]},
            attendees=set(d["attendees"]),
            peak_audience=d["peak_audience"],
            hands={u: ts for u, ts in d["hands"]},
            questions={
                q["id"]: Question(
                    q["id"],
                    q["author_id"],
                    q["text"],
                    q["ts"],
                    set(q["voters"]),
                    q["answered"],
                    # snapshots stored before moderation and anonymity lack these
                    q.get("anonymous", False),
                    q.get("pending", False),
                )
                for q in d["questions"]
            },
            polls={
                p["id"]: Poll(
                    p["id"], p["question"], list(p["options"]), {u: o for u, o in p["votes"]}, p["closed"]
                )
                for p in d["polls"]
            },
            pinned=d["pinned"],
            moderated=d.get("moderated", False),
            started_at=d["started_at"],
            club_id=d["club_id"],
            ended_at=d.get("ended_at"),
            version=d["version"],
            audio_epoch=d.get("audio_epoch", 0),  # snapshots from before audio have none
        )
        s._next_id = d["next_id"]
        return s


# record kind -> how it changes the state
_APPLY: dict[str, Callable[[LiveSession, dict], None]] = {
    "join": LiveSession._on_join,
    "leave": LiveSession._on_leave,
    "remove": LiveSession._on_remove,
    "hand": LiveSession._on_hand,
    "role": LiveSession._on_role,
    "ask": LiveSession._on_ask,
    "upvote": LiveSession._on_upvote,
    "answer": LiveSession._on_answer,
    "poll": LiveSession._on_poll,
    "vote": LiveSession._on_vote,
    "close": LiveSession._on_close,
    "pin": LiveSession._on_pin,
    "end": LiveSession._on_end,
    "moderate": LiveSession._on_moderate,
    "approve": LiveSession._on_approve,
    "dismiss": LiveSession._on_dismiss,
}
