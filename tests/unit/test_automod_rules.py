"""Auto-moderation rules (actors/domain/automod.py): literal terms on word boundaries, case-folded; links
from new members; too many mentions. No rule is a pattern a user wrote."""

import pytest

from actors.domain.automod import AutoMod, AutoModRefusal, has_link


def refused(rules: AutoMod, text: str, mentions: int = 0, age: float | None = 10**9) -> str | None:
    try:
        rules.check(text, mentions, age)
    except AutoModRefusal as err:
        assert err.code == "forbidden" and err.rule in err.message
        return err.rule
    return None


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("this is SPAM!", True),
        ("spam", True),
        ("Spam, spam and eggs", True),
        ("a spammer wrote", False),  # a word boundary, not a substring
        ("antispam", False),
        ("ſpam", True),  # case folding: the long s folds to s
        ("buy  NOW please", True),  # a two-word term across any spacing and case
        ("buy nowhere", False),
        ("c++ rocks", True),  # a term of word and other characters matches its words
    ],
)
def test_blocked_terms_are_literals_on_word_boundaries(text, hit):
    rules = AutoMod(blocked_terms=("spam", "buy now", "c++"))
    assert (refused(rules, text) == "blocked_terms") is hit


def test_a_term_of_no_word_characters_matches_as_written_and_regex_syntax_is_inert():
    rules = AutoMod(blocked_terms=("!!!", "(a+)+$", ".*"))
    assert refused(rules, "wow!!!") == "blocked_terms"
    assert refused(rules, "anything at all") is None, "'.*' is two characters, not a pattern"
    # The classic catastrophic-backtracking input is just text here.
    assert refused(rules, "a" * 4000 + "!") is None


def test_links_from_new_members_only():
    rules = AutoMod(link_min_member_age_s=3600)
    for text in ("see https://x.example", "www.example.org now", "go to evil.com", "HTTP://A.B"):
        assert has_link(text), text
        assert refused(rules, text, age=60) == "link_min_member_age"
        assert refused(rules, text, age=7200) is None
    assert not has_link("no link here, just a.b and 3.14")
    assert refused(rules, "no link here", age=1) is None


def test_too_many_mentions():
    rules = AutoMod(max_mentions=3)
    assert refused(rules, "hi", mentions=3) is None
    assert refused(rules, "hi", mentions=4) == "max_mentions"


def test_no_rules_is_none():
    assert AutoMod.of(None) is None
    assert AutoMod.of({"blocked_terms": [], "link_min_member_age_s": None, "max_mentions": None}) is None
    rules = AutoMod.of({"blocked_terms": ["x"], "link_min_member_age_s": None, "max_mentions": None})
    assert rules is not None and rules.blocked_terms == ("x",)
