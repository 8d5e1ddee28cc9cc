"""``LiveSession``: an event's live session as a plain state machine (no Ray, no I/O).

Roles host / speaker / audience (like a Stage channel or a Clubhouse room), raised hands in the order
they were raised, Q&A with one upvote per user and questions sorted by votes, polls with one vote per
user and live tallies, a pinned announcement. A refused change raises ``RoomError`` (the
domain's one refusal type) with a contract error code; ``state()`` is what everyone in the session is sent.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from .room import RoomError

MAX_QUESTION = 500
MAX_PIN = 500
MAX_POLL_OPTIONS = 10


@dataclass
class Question:
    id: int
    author_id: int
    text: str
    ts: float
    voters: set[int] = field(default_factory=set)
    answered: bool = False

    def view(self) -> dict:
        return {"question_id": self.id, "author_id": self.author_id, "text": self.text, "votes": len(self.voters),
                "answered": self.answered}


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
        return {"poll_id": self.id, "question": self.question, "options": self.options, "tallies": self.tallies(),
                "closed": self.closed}


@dataclass
class LiveSession:
    event_id: int
    room_id: int
    host_id: int
    status: str = "live"
    roles: dict[int, str] = field(default_factory=dict)      # user -> host | speaker (others: audience)
    present: dict[int, set[str]] = field(default_factory=dict)  # user -> sockets in the session
    attendees: set[int] = field(default_factory=set)
    peak_audience: int = 0
    hands: dict[int, float] = field(default_factory=dict)     # insertion order = order raised
    questions: dict[int, Question] = field(default_factory=dict)
    polls: dict[int, Poll] = field(default_factory=dict)
    pinned: str | None = None
    started_at: float = field(default_factory=time.time)
    _next_id: int = 0

    def __post_init__(self) -> None:
        self.roles[self.host_id] = "host"

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def role(self, user_id: int) -> str:
        return self.roles.get(user_id, "audience")

    def _live(self) -> None:
        if self.status != "live":
            raise RoomError("conflict", "the live session has ended")

    def _host(self, user_id: int) -> None:
        self._live()
        if self.role(user_id) != "host":
            raise RoomError("forbidden", "only the host can do that")

    # -- presence --------------------------------------------------------------------------
    def join(self, user_id: int, socket_key: str) -> None:
        self._live()
        self.present.setdefault(user_id, set()).add(socket_key)
        self.attendees.add(user_id)
        self.peak_audience = max(self.peak_audience, self.audience_count())

    def leave(self, user_id: int, socket_key: str) -> bool:
        sockets = self.present.get(user_id)
        if not sockets or socket_key not in sockets:
            return False
        sockets.discard(socket_key)
        if not sockets:
            del self.present[user_id]
            self.hands.pop(user_id, None)
        return True

    def audience_count(self) -> int:
        return sum(1 for u in self.present if self.role(u) == "audience")

    # -- stage -----------------------------------------------------------------------------
    def hand(self, user_id: int, raised: bool) -> None:
        self._live()
        if raised:
            if self.role(user_id) != "audience":
                raise RoomError("invalid", "you are already on stage")
            self.hands.setdefault(user_id, time.time())
        else:
            self.hands.pop(user_id, None)

    def promote(self, actor_id: int, user_id: int, role: str) -> None:
        self._host(actor_id)
        if role not in ("speaker", "audience"):
            raise RoomError("invalid", "role must be speaker or audience")
        if user_id == self.host_id:
            raise RoomError("invalid", "the host stays host")
        if user_id not in self.present:
            raise RoomError("not_found", "that user is not in the session")
        if role == "speaker":
            self.roles[user_id] = "speaker"
            self.hands.pop(user_id, None)
        else:
            self.roles.pop(user_id, None)

    # -- Q&A -------------------------------------------------------------------------------
    def ask(self, user_id: int, text: str) -> int:
        self._live()
        text = (text or "").strip()
        if not text:
            raise RoomError("invalid", "a question needs text")
        if len(text) > MAX_QUESTION:
            raise RoomError("too_large", f"a question holds at most {MAX_QUESTION} characters")
        q = Question(self._id(), user_id, text, time.time())
        self.questions[q.id] = q
        return q.id

    def upvote(self, user_id: int, question_id: int) -> None:
        self._live()
        q = self.questions.get(question_id)
        if q is None:
            raise RoomError("not_found", f"no question {question_id}")
        q.voters.add(user_id)  # one upvote per user: a second one changes nothing

    def answer(self, actor_id: int, question_id: int) -> None:
        self._host(actor_id)
        q = self.questions.get(question_id)
        if q is None:
            raise RoomError("not_found", f"no question {question_id}")
        q.answered = True

    # -- polls -----------------------------------------------------------------------------
    def poll(self, actor_id: int, question: str, options: list[str]) -> int:
        self._host(actor_id)
        question = (question or "").strip()
        options = [o.strip() for o in options if isinstance(o, str) and o.strip()]
        if not question or len(options) < 2:
            raise RoomError("invalid", "a poll needs a question and at least two options")
        if len(options) > MAX_POLL_OPTIONS or len(set(options)) != len(options):
            raise RoomError("invalid", f"2–{MAX_POLL_OPTIONS} different options")
        p = Poll(self._id(), question, options)
        self.polls[p.id] = p
        return p.id

    def vote(self, user_id: int, poll_id: int, option: int | str) -> None:
        self._live()
        p = self.polls.get(poll_id)
        if p is None:
            raise RoomError("not_found", f"no poll {poll_id}")
        if p.closed:
            raise RoomError("conflict", "the poll is closed")
        index = p.options.index(option) if isinstance(option, str) and option in p.options else option
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(p.options):
            raise RoomError("invalid", "no such option")
        if user_id in p.votes:
            raise RoomError("conflict", "you have already voted in this poll")
        p.votes[user_id] = index

    def close_poll(self, actor_id: int, poll_id: int) -> None:
        self._host(actor_id)
        p = self.polls.get(poll_id)
        if p is None:
            raise RoomError("not_found", f"no poll {poll_id}")
        p.closed = True

    def pin(self, actor_id: int, text: str) -> None:
        self._host(actor_id)
        text = (text or "").strip()
        if len(text) > MAX_PIN:
            raise RoomError("too_large", f"a pinned announcement holds at most {MAX_PIN} characters")
        self.pinned = text or None

    # -- views -----------------------------------------------------------------------------
    def state(self) -> dict:
        questions = sorted(self.questions.values(), key=lambda q: (-len(q.voters), q.ts))
        return {
            "event_id": self.event_id, "room_id": self.room_id, "status": self.status, "host_id": self.host_id,
            "speakers": sorted(u for u, r in self.roles.items() if r == "speaker"),
            "audience_count": self.audience_count(), "present": len(self.present),
            "hands": list(self.hands), "questions": [q.view() for q in questions],
            "polls": [p.view() for p in self.polls.values()], "pinned": self.pinned,
        }

    def end(self, actor_id: int) -> dict:
        self._host(actor_id)
        self.status = "ended"
        for p in self.polls.values():
            p.closed = True
        return self.summary()

    def summary(self) -> dict:
        questions = sorted(self.questions.values(), key=lambda q: (-len(q.voters), q.ts))
        return {
            "attendance": len(self.attendees), "peak_audience": self.peak_audience,
            "duration_s": round(time.time() - self.started_at),
            "questions": [{"text": q.text, "votes": len(q.voters), "answered": q.answered} for q in questions],
            "polls": [{"question": p.question, "options": p.options, "tallies": p.tallies()}
                      for p in self.polls.values()],
        }
