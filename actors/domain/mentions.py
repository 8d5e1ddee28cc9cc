"""Mentions: ``@display name`` and ``@everyone`` in a message's text, resolved against the room's members.

Display names may hold spaces, so a mention is the longest member's name that follows an ``@`` and ends at
a word boundary ("@Ada Lovelace, see" mentions Ada Lovelace, not a member named Ada, when both exist);
names compare case-insensitively (``casefold``). Members sharing a name are all mentioned. The work per
message is bounded: at most ``MAX_MARKS`` ``@`` signs are looked at, each against the distinct name
lengths of the room (a name is at most 50 characters).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

MAX_MARKS = 50  # "@" signs looked at in one message
MAX_MENTIONS = 50  # user ids stored with one message
EVERYONE = "everyone"


class Named(Protocol):
    display_name: str


def _word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


class MentionIndex:
    """The room's members by display name; built once per change of the member list."""

    def __init__(self, members: Mapping[int, Named]) -> None:
        self.names: dict[str, list[int]] = {}
        lengths: set[int] = set()
        for user_id, member in members.items():
            name = member.display_name.strip()
            if name:
                self.names.setdefault(name.casefold(), []).append(user_id)
                lengths.add(len(name))
        self.lengths = sorted(lengths, reverse=True)

    def resolve(self, text: str, everyone_allowed: bool) -> tuple[list[int], bool]:
        """The ids mentioned (in order of first mention, at most ``MAX_MENTIONS``) and whether
        ``@everyone`` was (only when ``everyone_allowed``: moderators)."""
        found: list[int] = []
        everyone = False
        at = text.find("@")
        marks = 0
        while at != -1 and marks < MAX_MARKS:
            marks += 1
            # "ada@example.org" is an address, not a mention.
            if at == 0 or not _word(text[at - 1]):
                start = at + 1
                if everyone_allowed and self._ends(text, start, len(EVERYONE), EVERYONE):
                    everyone = True
                else:
                    for length in self.lengths:
                        segment = text[start : start + length]
                        if len(segment) < length:
                            continue
                        ids = self.names.get(segment.casefold())
                        if ids and (start + length == len(text) or not _word(text[start + length])):
                            found.extend(i for i in ids if i not in found)
                            break
            at = text.find("@", at + 1)
        return found[:MAX_MENTIONS], everyone

    @staticmethod
    def _ends(text: str, start: int, length: int, word: str) -> bool:
        segment = text[start : start + length]
        end = start + length
        return segment.casefold() == word and (end == len(text) or not _word(text[end]))
