"""A live session's snapshot (``to_dict``/``from_dict``) and its records (``take_records``/``replay``): what the
live host stores before it broadcasts, and what a restarted host rebuilds the session from."""

from __future__ import annotations

import bson
import pytest

from actors.domain.errors import DomainError
from actors.domain.live_session import LiveSession

HOST, ANN, BEN, CAT, DAN = 10, 11, 12, 13, 14


def busy_session() -> tuple[LiveSession, dict]:
    """A session with every field holding something (and the ids it made)."""
    s = LiveSession(event_id=7, room_id=3, host_id=HOST, club_id=5)
    s.join(HOST, "gw/h")
    for user in (ANN, BEN, CAT, DAN):
        s.join(user, f"gw/{user}")
    s.join(ANN, "gw2/ann-phone")  # a second socket of the same user
    s.leave(DAN, f"gw/{DAN}")  # an attendee who is gone again
    s.hand(CAT, True)
    s.hand(BEN, True)  # raised after Cat: the order raised is kept
    s.promote(HOST, ANN, "speaker")
    q1 = s.ask(BEN, "What's next?")
    q2 = s.ask(CAT, "Any demos?")
    s.upvote(ANN, q2)
    s.upvote(BEN, q2)
    s.upvote(CAT, q1)
    s.answer(HOST, q1)
    p1 = s.poll(HOST, "Tabs or spaces?", ["tabs", "spaces"])
    p2 = s.poll(HOST, "Again?", ["yes", "no", "maybe"])
    s.vote(ANN, p1, 1)
    s.vote(BEN, p1, "spaces")
    s.vote(CAT, p1, 0)
    s.vote(BEN, p2, 2)
    s.close_poll(HOST, p1)
    s.pin(HOST, "Slides at example.org")
    return s, {"q1": q1, "q2": q2, "p1": p1, "p2": p2}


def as_stored(d: dict) -> dict:
    """Through BSON and back, as MongoDB stores it (fails on anything a document cannot hold, e.g. int keys)."""
    return bson.decode(bson.encode({"state": d}))["state"]


def test_snapshot_round_trip_keeps_every_field():
    s, _ = busy_session()
    snap = s.to_dict()
    restored = LiveSession.from_dict(as_stored(snap))

    assert restored.to_dict() == snap
    assert restored.state() == s.state()
    assert restored.summary() == s.summary()
    # field by field, so a field to_dict forgot cannot pass unnoticed as "equal on both sides"
    assert restored.roles == {HOST: "host", ANN: "speaker"}
    assert restored.present == {
        HOST: {"gw/h"},
        ANN: {f"gw/{ANN}", "gw2/ann-phone"},
        BEN: {f"gw/{BEN}"},
        CAT: {f"gw/{CAT}"},
    }
    assert restored.attendees == {HOST, ANN, BEN, CAT, DAN}
    assert restored.peak_audience == s.peak_audience == 4
    assert list(restored.hands) == [CAT, BEN] and restored.hands == s.hands
    assert {i: (q.voters, q.answered, q.ts, q.text, q.author_id) for i, q in restored.questions.items()} == {
        i: (q.voters, q.answered, q.ts, q.text, q.author_id) for i, q in s.questions.items()
    }
    assert {i: (p.votes, p.closed, p.options, p.question) for i, p in restored.polls.items()} == {
        i: (p.votes, p.closed, p.options, p.question) for i, p in s.polls.items()
    }
    assert (restored.pinned, restored.started_at, restored.club_id, restored.status) == (
        "Slides at example.org",
        s.started_at,
        5,
        "live",
    )
    assert restored.version == s.version > 0
    assert restored._next_id == s._next_id


def test_restored_session_keeps_its_rules_and_continues_its_version():
    s, ids = busy_session()
    s.take_changes()
    restored = LiveSession.from_dict(as_stored(s.to_dict()))
    assert restored.take_changes() == (s.version, [])  # nothing is news after a restore

    with pytest.raises(DomainError) as err:
        restored.vote(BEN, ids["p2"], 0)
    assert err.value.code == "conflict"  # one vote per user survives the restore
    with pytest.raises(DomainError) as err:
        restored.vote(DAN, ids["p1"], 0)
    assert err.value.code == "conflict"  # a closed poll stays closed
    restored.upvote(ANN, ids["q2"])  # a second upvote changes nothing
    assert restored.questions[ids["q2"]].voters == {ANN, BEN}

    q3 = restored.ask(DAN, "Late one")
    assert q3 > max(ids.values())  # ids continue, never reused
    restored.vote(ANN, ids["p2"], 0)
    version, changes = restored.take_changes()
    assert version == s.version + 2 and len(changes) == 2  # the question and the vote


def test_replaying_records_on_a_snapshot_rebuilds_the_same_session():
    s = LiveSession(event_id=1, room_id=2, host_id=HOST, club_id=9)
    base = LiveSession.from_dict(as_stored(s.to_dict()))
    # everything from the start as records: the snapshot at version 0 plus every record
    s.join(HOST, "gw/h")
    s.join(ANN, "gw/a")
    s.join(BEN, "gw/b")
    s.hand(BEN, True)
    s.hand(ANN, True)
    s.hand(ANN, False)
    s.promote(HOST, BEN, "speaker")
    q = s.ask(ANN, "Why?")
    s.upvote(BEN, q)
    s.answer(HOST, q)
    p = s.poll(HOST, "A or B?", ["A", "B"])
    s.vote(ANN, p, "B")
    s.pin(HOST, "hello")
    s.pin(HOST, "")
    s.promote(HOST, BEN, "audience")
    s.leave(BEN, "gw/b")
    s.remove(ANN)
    records = s.take_records()
    assert len(records) == 17 and s.take_records() == []

    base.replay([as_stored(r) for r in records])
    assert base.to_dict() == s.to_dict()
    assert base.version == s.version

    # and in two halves: a snapshot in the middle plus the records after it
    mid = LiveSession.from_dict(as_stored(s.to_dict()))
    s.join(CAT, "gw/c")
    s.end(HOST)
    more = s.take_records()
    mid.replay(more)
    assert mid.to_dict() == s.to_dict() and mid.status == "ended"
    assert mid.summary() == s.summary()  # duration from the recorded end, not from "now"


def test_no_op_commands_record_nothing():
    s = LiveSession(event_id=1, room_id=2, host_id=HOST)
    s.join(ANN, "gw/a")
    s.take_records()
    s.join(ANN, "gw/a")  # the same socket again
    s.hand(ANN, False)  # not raised
    assert not s.leave(BEN, "gw/b")
    assert not s.remove(CAT)
    q = s.ask(ANN, "x")
    s.take_records()
    s.upvote(ANN, q)
    s.upvote(ANN, q)
    assert len(s.take_records()) == 1
    assert s.pending_records() == 0


def test_refused_commands_record_nothing():
    s = LiveSession(event_id=1, room_id=2, host_id=HOST)
    s.join(ANN, "gw/a")
    s.take_records()
    for refused in (
        lambda: s.ask(ANN, ""),
        lambda: s.promote(ANN, HOST, "speaker"),
        lambda: s.poll(HOST, "q", ["only one"]),
        lambda: s.vote(ANN, 99, 0),
    ):
        with pytest.raises(DomainError):
            refused()
    assert s.take_records() == []
