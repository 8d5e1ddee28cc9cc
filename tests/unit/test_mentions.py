"""Mentions resolved by the room at send time (issue 19, point 1)."""

from actors.domain.mentions import MAX_MARKS, MAX_MENTIONS, MentionIndex
from actors.domain.room import Member, Room
from actors.fanout import notice_entry, notifies


def room() -> Room:
    r = Room(room_id=1, club_id=10)
    r.members = {
        1: Member(1, "Ada", "owner"),
        2: Member(2, "Bob"),
        3: Member(3, "Mod", "moderator"),
        4: Member(4, "Ada Lovelace"),
        5: Member(5, "bob"),  # two members may share a name (case-insensitively)
    }
    return r


def sent(r: Room, user: int, text: str) -> dict:
    p = r.plan_send(user, f"c{r.last_seq + 1}", text, None, 1000.0, r.last_seq + 1, r.rev + 1, "m")
    r.commit_sends([p], 1000.0)
    return p.message


def test_display_names_with_spaces_match_the_longest_name_at_a_word_boundary():
    r = room()
    assert sent(r, 2, "@Ada Lovelace, see this")["mentions"] == [4]
    assert sent(r, 2, "@ada see this")["mentions"] == [1]
    assert sent(r, 2, "hey @Ada")["mentions"] == [1]
    assert "mentions" not in sent(r, 2, "@Adam is not a member")  # no boundary after "Ada"
    assert sent(r, 1, "@BOB and @Mod!")["mentions"] == [2, 5, 3]


def test_addresses_and_plain_text_mention_nobody():
    r = room()
    for text in ("write to ada@example.org", "no at sign", "@ alone", "@@"):
        assert "mentions" not in sent(r, 2, text), text


def test_everyone_is_a_moderators_mention_only():
    r = room()
    assert sent(r, 3, "@everyone meeting at 5")["mentions_everyone"] is True
    member = sent(r, 2, "@everyone meeting at 5")
    assert "mentions_everyone" not in member and "mentions" not in member


def test_work_per_message_is_bounded():
    r = room()
    many = " ".join(["@Bob"] * (MAX_MARKS + 10)) + " @Mod"
    assert sent(r, 1, many)["mentions"] == [2, 5]  # the marks after MAX_MARKS are not looked at
    index = MentionIndex({i: Member(i, f"user{i}") for i in range(200)})
    ids, _ = index.resolve(" ".join(f"@user{i}" for i in range(49)), False)
    assert len(ids) == 49 <= MAX_MENTIONS


def test_an_edit_that_adds_a_mention_notifies_and_one_that_removes_it_does_not():
    r = room()
    msg = sent(r, 2, "hello")
    added = r.plan_edit(2, msg, "hello @Ada", 1001.0, r.rev + 1)
    assert added.notify and added.message["mentions"] == [1] and added.fields["mentions"] == [1]
    r.commit_update(added)
    removed = r.plan_edit(2, added.message, "hello", 1002.0, r.rev + 1)
    assert not removed.notify and "mentions" not in removed.message and removed.fields["mentions"] == []
    same = r.plan_edit(2, added.message, "hello again @Ada", 1003.0, r.rev + 1)
    assert not same.notify  # Ada was mentioned before: notified once


def test_a_new_member_is_mentionable_and_a_renamed_one_by_the_new_name():
    r = room()
    sent(r, 2, "@Ada")  # builds the index
    r.set_member(Member(6, "Zed"), 6)
    assert sent(r, 2, "@Zed hi")["mentions"] == [6]
    r.set_member(Member(6, "Zedd"), 6)
    assert sent(r, 2, "@Zedd hi")["mentions"] == [6]


def test_a_deleted_message_loses_its_mentions():
    r = room()
    msg = sent(r, 2, "@Ada hi")
    gone = r.plan_delete(2, msg, r.rev + 1)
    assert "mentions" not in gone.message and gone.fields["mentions"] == []


def test_notice_entries_carry_what_the_notifier_needs():
    r = room()
    msg = sent(r, 2, "@Ada " + "x" * 500)
    assert notifies(msg)
    entry = notice_entry(msg, 10, None)
    assert entry["mentions"] == "1" and entry["everyone"] == 0 and len(entry["text"]) == 200
    assert entry["club_id"] == 10 and entry["author_id"] == 2 and entry["reply_to_author"] == 0
    assert not notifies(sent(r, 2, "nothing"))
