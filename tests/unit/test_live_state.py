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


# -- hosts' extras: moderated Q&A and anonymous questions ----------------------------------------------------


def _every_change_of(s: LiveSession) -> str:
    """Everything listeners got since the last take, as the text a socket would carry."""
    import json

    return json.dumps(s.take_changes()[1])


def test_a_pending_question_reaches_no_listener_until_the_host_approves_it():
    s = LiveSession(event_id=1, room_id=2, host_id=HOST)
    for user, key in ((HOST, "gw/h"), (ANN, "gw/a"), (BEN, "gw/b")):
        s.join(user, key)
    with pytest.raises(DomainError) as err:
        s.moderate(ANN, True)
    assert err.value.code == "forbidden"
    s.moderate(HOST, True)
    s.moderate(HOST, True)  # already on: nothing recorded
    assert [r["k"] for r in s.take_records()][-1:] == ["moderate"] and s.take_records() == []
    s.take_changes()

    q = s.ask(BEN, "secret pending text")
    version, changes = s.take_changes()
    assert changes == [{"kind": "pending", "question_id": q, "status": "new", "count": 1}]
    assert "secret" not in _every_change_of(s)
    state = s.state()
    assert state["questions"] == [] and state["pending_count"] == 1 and state["moderated"] is True
    assert s.pending_questions(ANN) == []  # the audience: nothing
    assert [p["text"] for p in s.pending_questions(BEN)] == ["secret pending text"]  # its author
    assert s.pending_questions(BEN)[0]["mine"] is True
    assert [(p["question_id"], p["author_id"], p["mine"]) for p in s.pending_questions(HOST)] == [
        (q, BEN, False)
    ]
    # as unknown to the audience as a question that does not exist; not answerable before approval
    with pytest.raises(DomainError) as err:
        s.upvote(ANN, q)
    assert err.value.code == "not_found"
    with pytest.raises(DomainError) as err:
        s.answer(HOST, q)
    assert err.value.code == "conflict"
    with pytest.raises(DomainError) as err:
        s.approve(BEN, q)
    assert err.value.code == "forbidden"
    assert s.summary()["questions"] == []

    host_q = s.ask(HOST, "the host's own")  # the host's questions need nobody's approval
    assert s.take_changes()[1][0]["kind"] == "question"

    s.approve(HOST, q)
    _, changes = s.take_changes()
    assert [c["kind"] for c in changes] == ["pending", "question"]
    assert changes[0] == {"kind": "pending", "question_id": q, "status": "approved", "count": 0}
    assert changes[1]["question"]["text"] == "secret pending text"
    s.approve(HOST, q)  # again: nothing
    assert s.take_changes()[1] == []
    s.upvote(ANN, q)
    assert {x["question_id"] for x in s.state()["questions"]} == {q, host_q}

    q2 = s.ask(ANN, "dismiss me")
    s.take_changes()
    with pytest.raises(DomainError) as err:
        s.dismiss(HOST, q)  # approved: no longer dismissable
    assert err.value.code == "conflict"
    s.dismiss(HOST, q2)
    assert s.take_changes()[1] == [{"kind": "pending", "question_id": q2, "status": "dismissed", "count": 0}]
    assert q2 not in s.questions
    with pytest.raises(DomainError) as err:
        s.dismiss(HOST, q2)
    assert err.value.code == "not_found"

    # switching moderation off leaves what is pending pending
    q3 = s.ask(ANN, "still pending")
    s.moderate(HOST, False)
    q4 = s.ask(ANN, "straight through")
    assert s.questions[q3].pending and not s.questions[q4].pending
    assert s.take_changes()[1][-2:] == [
        {"kind": "moderation", "moderated": False},
        {"kind": "question", "question": s.questions[q4].view()},
    ]
    assert version > 0


def test_pending_questions_count_against_the_members_open_questions():
    s = LiveSession(event_id=1, room_id=2, host_id=HOST)
    s.join(ANN, "gw/a")
    s.moderate(HOST, True)
    for n in range(5):
        s.ask(ANN, f"q{n}", anonymous=n % 2 == 0)
    with pytest.raises(DomainError) as err:
        s.ask(ANN, "one too many")
    assert err.value.code == "rate_limited"


def test_an_anonymous_question_shows_nobody_its_author():
    s = LiveSession(event_id=1, room_id=2, host_id=HOST)
    s.join(ANN, "gw/a")
    s.take_changes()
    q = s.ask(ANN, "who asked?", anonymous=True)
    _, changes = s.take_changes()
    assert changes[0]["question"]["author_id"] is None and changes[0]["question"]["anonymous"] is True
    assert s.state()["questions"][0]["author_id"] is None
    s.upvote(BEN, q)
    assert s.take_changes()[1][0]["question"]["author_id"] is None
    s.end(HOST)
    assert str(ANN) not in repr(s.summary()["questions"])
    assert s.questions[q].author_id == ANN  # kept for the limit (and the stored journal)
    # anonymous and pending at once: the host sees the text, not the author
    m = LiveSession(event_id=1, room_id=2, host_id=HOST)
    m.join(ANN, "gw/a")
    m.moderate(HOST, True)
    mq = m.ask(ANN, "anonymous and pending", anonymous=True)
    assert m.pending_questions(HOST) == [
        {
            "question_id": mq,
            "author_id": None,
            "text": "anonymous and pending",
            "votes": 0,
            "answered": False,
            "anonymous": True,
            "mine": False,
        }
    ]
    assert m.pending_questions(ANN)[0]["mine"] is True


def test_moderation_and_anonymity_survive_snapshot_and_replay():
    s = LiveSession(event_id=1, room_id=2, host_id=HOST)
    base = LiveSession.from_dict(as_stored(s.to_dict()))
    s.join(ANN, "gw/a")
    s.join(BEN, "gw/b")
    s.moderate(HOST, True)
    q1 = s.ask(ANN, "pending one", anonymous=True)
    q2 = s.ask(BEN, "approved one")
    q3 = s.ask(BEN, "dismissed one")
    s.approve(HOST, q2)
    s.dismiss(HOST, q3)
    records = s.take_records()
    base.replay([as_stored(r) for r in records])
    assert base.to_dict() == s.to_dict() and base.version == s.version
    restored = LiveSession.from_dict(as_stored(s.to_dict()))
    assert restored.state() == s.state() and restored.moderated
    assert restored.questions[q1].pending and restored.questions[q1].anonymous
    assert restored.questions[q1].author_id == ANN
    assert restored.pending_questions(HOST) == s.pending_questions(HOST)
    for n in range(4):  # the anonymous pending one still counts as Ann's: four more make five
        restored.ask(ANN, f"more {n}", anonymous=True)
    with pytest.raises(DomainError) as err:
        restored.ask(ANN, "a sixth")
    assert err.value.code == "rate_limited"


def test_a_snapshot_stored_before_these_features_still_loads():
    s, _ = busy_session()
    old = s.to_dict()
    del old["moderated"]
    for q in old["questions"]:
        del q["anonymous"], q["pending"]
    restored = LiveSession.from_dict(as_stored(old))
    assert restored.state() == s.state() and not restored.moderated
    assert all(not q.pending and not q.anonymous for q in restored.questions.values())
