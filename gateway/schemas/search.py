"""Message search: ``GET /search/messages``."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from storage.search import CURSOR_MAX, LIMIT_DEFAULT, LIMIT_MAX, Q_MAX

from .common import Id, Input
from .media import AttachmentOut


class SearchQuery(Input):
    """``q``: 1 to 200 characters, not blank (web-search syntax: ``"a phrase"``, ``or``, ``-word``)."""

    q: Annotated[str, StringConstraints(min_length=1, max_length=Q_MAX, pattern=r"\S")]
    club_id: Id | None = None
    room_id: Id | None = None
    limit: Annotated[int, Field(ge=1, le=LIMIT_MAX)] = LIMIT_DEFAULT
    cursor: (
        Annotated[str, StringConstraints(min_length=1, max_length=CURSOR_MAX, pattern=r"^[A-Za-z0-9_-]+$")]
        | None
    ) = None


class SearchAuthor(BaseModel):
    id: int
    display_name: str


class SearchHit(BaseModel):
    room_id: int
    seq: int
    author: SearchAuthor
    text: str
    ts: int  # ms since the epoch, when it was sent
    # The best passage, HTML-escaped, each match wrapped in <mark> and </mark>.
    highlight: str
    score: float
    attachments: list[AttachmentOut] = Field(default_factory=list)  # the message's media


class SearchOut(BaseModel):
    items: list[SearchHit]
    next_cursor: str | None
