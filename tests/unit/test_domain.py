"""Unit tests of the domain classes, without Ray or services."""

import pytest

from actors.domain.errors import DomainError
from actors.domain.room import MAX_TEXT, REPLAY_LIMIT, RING_SIZE, Member, Room
from actors.domain.session import Session, TokenBucket
from actors.hashing import jump_hash


def room(**kw) -> Room:
    r = Room(room_id=1, club_id=10, **kw)
    r.members = {
        1: Member(1, "Ada", "owner"),
        2: Member(2, "Bob"),
        3: Member(3, "Mod", "moderator"),
        4: Member(4, "Cyd"),
    }
    return r


def send(r: Room, user=2, text="hi", client_id=None, now=1000.0, reply_to_seq=None):
    p = r.plan_send(
        user,
        client_id or f"c{r.last_seq + 1}",
        text,
        reply_to_seq,
        now,
        r.last_seq + 1,
        r.rev + 1,
        f"id{r.last_seq + 1}",
    )
    r.commit_sends([p], now)
    return p


def test_seq_and_rev_advance_only_on_commit():
    r = room()
    planned = r.plan_send(2, "a", "hello", None, 1000.0, 1, 1, "m1")
    assert r.last_seq == 0 and r.rev == 0  # planning changes nothing
    r.commit_sends([planned], 1000.0)
    assert (r.last_seq, r.rev) == (1, 1) and r.known_ack("a") == planned.ack
    assert planned.message["author"] == {"id": 2, "display_name": "Bob"}


@pytest.mark.parametrize(
    "user,text,code",
    [
        (99, "hi", "forbidden"),
        (2, "", "invalid"),
        (2, "   \n", "invalid"),
        (2, "x" * (MAX_TEXT + 1), "too_large"),
    ],
)
def test_send_refusals(user, text, code):
    with pytest.raises(DomainError) as err:
        room().plan_send(user, "c", text, None, 0.0, 1, 1, "m")
    assert err.value.code == code


def test_reply_must_point_to_an_earlier_message():
    r = room()
    send(r)
    assert send(r, reply_to_seq=1).message["reply_to_seq"] == 1
    with pytest.raises(DomainError):
        r.plan_send(2, "x", "t", 9, 0.0, r.last_seq + 1, r.rev + 1, "m")


def test_slow_mode_and_timeout():
    r = room(slow_mode_s=10)
    send(r, user=2, now=1000.0)
    with pytest.raises(DomainError) as err:
        r.plan_send(2, "b", "again", None, 1004.0, 2, 2, "m2")
    assert err.value.code == "rate_limited" and "6.0s" in err.value.message
    send(r, user=2, now=1010.5)  # waited long enough
    send(r, user=3, now=1010.6)  # moderators are exempt
    send(r, user=3, now=1010.7)
    r.members[2].muted_until = 2000.0
    with pytest.raises(DomainError) as err:
        r.plan_send(2, "c", "muted", None, 1500.0, 9, 9, "m")
    assert err.value.code == "forbidden" and "500s" in err.value.message


def test_edit_delete_and_reaction_rules():
    r = room()
    msg = send(r, user=2).message
    with pytest.raises(DomainError):
        r.plan_edit(1, msg, "not yours", 0.0, 2)
    edit = r.plan_edit(2, msg, "better", 5.0, 2)
    r.commit_update(edit)
    assert r.cached(1)["text"] == "better" and r.cached(1)["edited_at"] == 5000 and r.rev == 2
    with pytest.raises(DomainError) as err:
        r.plan_delete(4, r.cached(1), 3)  # a plain member, not the author
    assert err.value.code == "forbidden"
    react = r.plan_reaction(1, r.cached(1), "🎉", True, 3)
    r.commit_update(react)
    assert r.plan_reaction(1, r.cached(1), "🎉", True, 4) is None  # once per user
    assert r.plan_reaction(2, r.cached(1), "🎉", False, 4) is None  # never added
    delete = r.plan_delete(3, r.cached(1), 4)  # moderator deletes someone else's
    r.commit_update(delete)
    gone = r.cached(1)
    assert gone["deleted"] and gone["text"] == "" and gone["reactions"] == {}
    with pytest.raises(DomainError):
        r.plan_edit(2, gone, "resurrect", 0.0, 5)


def test_ring_buffer_replay_and_its_limit():
    r = room()
    for _ in range(RING_SIZE + 20):
        send(r)
    assert r.replay_from_ring(r.last_seq) == []
    assert [m["seq"] for m in r.replay_from_ring(r.last_seq - 3)] == [
        r.last_seq - 2,
        r.last_seq - 1,
        r.last_seq,
    ]
    assert r.replay_from_ring(5) is None  # no longer in memory: the host reads MongoDB
    assert REPLAY_LIMIT == 500
    assert r.cached(r.last_seq)["seq"] == r.last_seq and r.cached(1) is None


def test_room_presence_counts_sockets_not_users():
    r = room()
    assert r.join(2, "gw1/a") is True
    assert r.join(2, "gw2/b") is False  # second tab
    assert r.leave(2, "gw1/a") is False
    assert r.online_users() == [2]
    assert r.join(1, "gw2/c") is True
    assert sorted(r.drop_gateway("gw2")) == [1, 2]
    with pytest.raises(DomainError):
        r.join(99, "gw1/z")


def test_session_presence_and_read_markers():
    s = Session(7)
    assert s.connect("gw1/a") and not s.connect("gw2/b")
    assert not s.disconnect("gw1/a") and s.online
    assert s.drop_gateway("gw2") and not s.online
    assert s.mark_read(1, 5) and not s.mark_read(1, 4) and s.read_seq[1] == 5


def test_token_bucket():
    b = TokenBucket(rate=2.0, burst=3.0)
    assert [b.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert b.take(0.0) == pytest.approx(0.5)
    assert b.take(0.5) == 0.0


def test_jump_hash_is_stable_and_moves_little():
    assert [jump_hash(k, 1) for k in range(100)] == [0] * 100
    before = [jump_hash(k, 8) for k in range(10_000)]
    after = [jump_hash(k, 9) for k in range(10_000)]
    moved = sum(a != b for a, b in zip(before, after))
    assert all(a == 8 for a, b in zip(after, before) if a != b)  # keys only move to the new shard
    assert 0.05 < moved / 10_000 < 0.2
    counts = [before.count(i) for i in range(8)]
    assert max(counts) - min(counts) < 300


def test_live_session_state_machine():
    from actors.domain.live_session import LiveSession

    s = LiveSession(event_id=1, room_id=2, host_id=10)
    for u in (10, 11, 12, 13):
        s.join(u, f"gw/{u}")
    s.hand(12, True)
    s.hand(11, True)
    assert s.state()["hands"] == [12, 11]
    with pytest.raises(DomainError):
        s.promote(11, 12, "speaker")  # not the host
    s.promote(10, 12, "speaker")
    assert s.state()["speakers"] == [12] and s.state()["hands"] == [11] and s.audience_count() == 2
    q = s.ask(11, "why?")
    q2 = s.ask(13, "how?")
    s.upvote(12, q2)
    s.upvote(12, q2)
    s.upvote(11, q2)
    assert [x["question_id"] for x in s.state()["questions"]] == [q2, q]
    p = s.poll(10, "A or B?", ["A", "B"])
    s.vote(11, p, "B")
    with pytest.raises(DomainError):
        s.vote(11, p, 0)
    with pytest.raises(DomainError):
        s.vote(12, p, 7)
    s.close_poll(10, p)
    with pytest.raises(DomainError):
        s.vote(13, p, 0)
    s.leave(13, "gw/13")
    summary = s.end(10)
    assert summary["attendance"] == 4 and summary["peak_audience"] == 3
    assert summary["polls"][0]["tallies"] == [0, 1]
    with pytest.raises(DomainError):
        s.hand(11, True)


ATTACHMENT = {
    "id": "ab" * 16,
    "kind": "image",
    "url": "/media/x/file",
    "width": 4,
    "height": 3,
    "blurhash": "L",
}


def test_a_message_with_attachments_may_have_no_text_and_a_delete_drops_them():
    r = room()
    planned = r.plan_send(2, "a", "", None, 1000.0, 1, 1, "m1", attachments=[ATTACHMENT])
    assert planned.message["text"] == "" and planned.message["attachments"] == [ATTACHMENT]
    planned.message["attachments"][0]["width"] = 99  # the message holds its own copy
    assert ATTACHMENT["width"] == 4
    r.commit_sends([planned], 1000.0)
    deleted = r.plan_delete(2, planned.message, 2)
    assert "attachments" not in deleted.message and deleted.fields["attachments"] == []
    # Without attachments the text is still required; with them it is still bounded.
    with pytest.raises(DomainError) as err:
        r.plan_send(2, "b", "  ", None, 1000.0, 2, 3, "m2", attachments=[])
    assert err.value.code == "invalid"
    with pytest.raises(DomainError) as err:
        r.plan_send(2, "b", "x" * (MAX_TEXT + 1), None, 1000.0, 2, 3, "m2", attachments=[ATTACHMENT])
    assert err.value.code == "too_large"
