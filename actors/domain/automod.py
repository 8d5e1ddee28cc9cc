"""A club's auto-moderation rules as the rooms apply them (pure: no I/O).

Checked before anything is stored: a refused send or edit answers ``forbidden`` naming the rule, and the
writer audits it. Terms are literals, never patterns: a term matches whole words of the text, case-folded
(``"spam"`` matches "SPAM!" but not "spammer"; ``"buy now"`` matches "Buy  now" but not "buy nowhere").
The only regular expressions are the two fixed ones below, linear in the text, so no user input can make
a check expensive (no ReDoS); a text is at most ``room.MAX_TEXT`` characters and a club at most
``MAX_TERMS`` terms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import DomainError

MAX_TERMS = 200
MAX_TERM_CHARS = 64
MAX_MEMBER_AGE_S = 30 * 24 * 3600
MAX_MENTIONS_LIMIT = 50

_WORD = re.compile(r"\w+")
# Fixed, not from users: a scheme, a www. host, or a bare host name ending in a common top-level domain.
_LINK = re.compile(
    r"(?:https?://|www\.)\S|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\."
    r"(?:com|net|org|io|gg|ly|me|co|app|dev|xyz|info|biz|ru|cn|tk|link|site|online|shop)\b",
    re.IGNORECASE,
)


def words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def has_link(text: str) -> bool:
    return _LINK.search(text) is not None


class AutoModRefusal(DomainError):
    """A send or edit refused by a club's rule; ``rule`` names it for the audit entry."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__("forbidden", f"auto-moderation ({rule}): {message}")
        self.rule = rule


@dataclass(frozen=True)
class AutoMod:
    blocked_terms: tuple[str, ...] = ()
    link_min_member_age_s: int | None = None
    max_mentions: int | None = None

    @classmethod
    def of(cls, row: dict | None) -> AutoMod | None:
        """From the stored settings (``club_automod``); None when there are no rules."""
        if not row:
            return None
        rules = cls(
            tuple(str(t) for t in (row.get("blocked_terms") or ())[:MAX_TERMS]),
            row.get("link_min_member_age_s"),
            row.get("max_mentions"),
        )
        return rules if rules.active else None

    @property
    def active(self) -> bool:
        return (
            bool(self.blocked_terms)
            or self.link_min_member_age_s is not None
            or self.max_mentions is not None
        )

    def check(self, text: str, mentions: int, member_age_s: float | None) -> None:
        """Raise ``AutoModRefusal`` when the text breaks a rule. ``mentions``: people it mentions (with
        ``@everyone`` counted as one); ``member_age_s``: how long the author has been a member (None:
        unknown, which no link rule refuses)."""
        if self.blocked_terms:
            term = self.blocked_term(text)
            if term is not None:
                raise AutoModRefusal("blocked_terms", f"{term!r} is not allowed in this club")
        if self.max_mentions is not None and mentions > self.max_mentions:
            raise AutoModRefusal(
                "max_mentions", f"a message may mention at most {self.max_mentions} people here"
            )
        if (
            self.link_min_member_age_s is not None
            and member_age_s is not None
            and member_age_s < self.link_min_member_age_s
            and has_link(text)
        ):
            wait = int(self.link_min_member_age_s - member_age_s + 0.999)
            raise AutoModRefusal("link_min_member_age", f"new members may post links in {wait}s")

    def blocked_term(self, text: str) -> str | None:
        """The first blocked term the text contains as whole words, case-folded."""
        tokens = words(text)
        single = set(tokens)
        joined = f" {' '.join(tokens)} "
        folded = text.casefold()
        for term in self.blocked_terms:
            parts = words(term)
            if not parts:  # a term of no word characters ("!!!"): matched as it is
                if term.strip() and term.casefold() in folded:
                    return term
            elif len(parts) == 1:
                if parts[0] in single:
                    return term
            elif f" {' '.join(parts)} " in joined:
                return term
        return None
