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
"""

from __future__ import annotations

import time
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

    def view(self) -> dict:
        return {
            "question_id": self.id,
            "author_id": self.author_id,
            "text": self.text,
            "votes": len(self.voters),
            "answered": self.answered,
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
    started_at: float = field(default_factory=time.time)
    club_id: int | None = None
    version: int = 0
    _changes: list = field(default_factory=list)  # recorded since the last take_changes()
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

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

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
        sockets = self.present.setdefault(user_id, set())
        first = not sockets
        sockets.add(socket_key)
        self.attendees.add(user_id)
        self.peak_audience = max(self.peak_audience, self.audience_count())
        if first:
            self._presence_change(user_id, True)

    def leave(self, user_id: int, socket_key: str) -> bool:
        sockets = self.present.get(user_id)
        if not sockets or socket_key not in sockets:
            return False
        sockets.discard(socket_key)
        if not sockets:
            del self.present[user_id]
            self.hands.pop(user_id, None)
            self._presence_change(user_id, False)
        return True

    def remove(self, user_id: int) -> bool:
        """The user may no longer be here (banned, left the club): gone with every socket, off the stage.
        True when anything changed. Their questions stay, as a deleted account's messages do."""
        changed = False
        if self.roles.get(user_id) == "speaker":
            del self.roles[user_id]
            self._changed(
                {
                    "kind": "role",
                    "user_id": user_id,
                    "role": "audience",
                    "audience_count": self.audience_count(),
                }
            )
            changed = True
        if user_id in self.present:
            del self.present[user_id]
            self.hands.pop(user_id, None)
            self._presence_change(user_id, False)
            changed = True
        return changed

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
            self.hands[user_id] = time.time()
        elif self.hands.pop(user_id, None) is None:
            return
        self._changed({"kind": "hand", "user_id": user_id, "raised": raised})

    def promote(self, actor_id: int, user_id: int, role: str) -> None:
        self._host(actor_id)
        if role not in ("speaker", "audience"):
            raise DomainError("invalid", "role must be speaker or audience")
        if user_id == self.host_id:
            raise DomainError("invalid", "the host stays host")
        if user_id not in self.present:
            raise DomainError("not_found", "that user is not in the session")
        if role == "speaker":
            self.roles[user_id] = "speaker"
            self.hands.pop(user_id, None)
        else:
            self.roles.pop(user_id, None)
        self._changed(
            {"kind": "role", "user_id": user_id, "role": role, "audience_count": self.audience_count()}
        )

    # -- Q&A -------------------------------------------------------------------------------
    def ask(self, user_id: int, text: str) -> int:
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
        q = Question(self._id(), user_id, text, time.time())
        self.questions[q.id] = q
        self._changed({"kind": "question", "question": q.view()})
        return q.id

    def upvote(self, user_id: int, question_id: int) -> None:
        self._live()
        q = self.questions.get(question_id)
        if q is None:
            raise DomainError("not_found", f"no question {question_id}")
        if user_id in q.voters:
            return  # one upvote per user: a second one changes nothing
        q.voters.add(user_id)
        self._changed({"kind": "question", "question": q.view()})

    def answer(self, actor_id: int, question_id: int) -> None:
        self._host(actor_id)
        q = self.questions.get(question_id)
        if q is None:
            raise DomainError("not_found", f"no question {question_id}")
        if not q.answered:
            q.answered = True
            self._changed({"kind": "question", "question": q.view()})

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
        p = Poll(self._id(), question, options)
        self.polls[p.id] = p
        self._changed({"kind": "poll", "poll": p.view()})
        return p.id

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
        p.votes[user_id] = index
        self._changed({"kind": "poll", "poll": p.view()})

    def close_poll(self, actor_id: int, poll_id: int) -> None:
        self._host(actor_id)
        p = self.polls.get(poll_id)
        if p is None:
            raise DomainError("not_found", f"no poll {poll_id}")
        if not p.closed:
            p.closed = True
            self._changed({"kind": "poll", "poll": p.view()})

    def pin(self, actor_id: int, text: str) -> None:
        self._host(actor_id)
        text = (text or "").strip()
        if len(text) > MAX_PIN:
            raise DomainError("too_large", f"a pinned announcement holds at most {MAX_PIN} characters")
        self.pinned = text or None
        self._changed({"kind": "pin", "pinned": self.pinned})

    # -- views -----------------------------------------------------------------------------
    def state(self) -> dict:
        questions = sorted(self.questions.values(), key=lambda q: (-len(q.voters), q.ts))
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
            "version": self.version,
        }

    def end(self, actor_id: int) -> dict:
        self._host(actor_id)
        self.status = "ended"
        for p in self.polls.values():
            if not p.closed:
                p.closed = True
                self._changed({"kind": "poll", "poll": p.view()})
        self._changed({"kind": "status", "status": "ended"})
        return self.summary()

    def summary(self) -> dict:
        questions = sorted(self.questions.values(), key=lambda q: (-len(q.voters), q.ts))
        return {
            "attendance": len(self.attendees),
            "peak_audience": self.peak_audience,
            "duration_s": round(time.time() - self.started_at),
            "questions": [
                {"text": q.text, "votes": len(q.voters), "answered": q.answered} for q in questions
            ],
            "polls": [
                {"question": p.question, "options": p.options, "tallies": p.tallies()}
                for p in self.polls.values()
            ],
        }
