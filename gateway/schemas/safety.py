"""Blocks, reports and auto-moderation settings."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from .common import Id, Input, one_line, printable

TERMS_MAX = 200
TERM_MAX = 64
LINK_AGE_MAX_S = 30 * 24 * 3600  # 30 days
MENTIONS_MAX = 50


class BlockIn(Input):
    user_id: Id


class BlockOut(BaseModel):
    user_id: int
    display_name: str
    created_at: str


class BlocksOut(BaseModel):
    blocks: list[BlockOut]


class BlockedOut(BaseModel):
    user_id: int
    blocked: bool


ReportReason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), AfterValidator(printable)
]


class ReportIn(Input):
    room_id: Id
    seq: Id
    reason: ReportReason


class ReportCreatedOut(BaseModel):
    report_id: int


class ReportsQuery(Input):
    status: Literal["open", "resolved", "dismissed"] | None = None
    cursor: Annotated[str, Field(max_length=20, pattern=r"^[1-9][0-9]{0,18}$")] | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 50


class ReportPerson(BaseModel):
    id: int
    display_name: str


class ReportOut(BaseModel):
    id: int
    club_id: int
    room_id: int
    seq: int
    reason: str
    status: Literal["open", "resolved", "dismissed"]
    # The message as it was when reported: {text, author: {id, display_name}, ts, edited_at?}.
    snapshot: dict[str, Any]
    reporter: ReportPerson
    created_at: str
    # default_factory: the schema carries no default, so generated clients keep them optional.
    action: str | None = Field(default_factory=lambda: None)
    resolved_by: int | None = Field(default_factory=lambda: None)
    resolved_at: str | None = Field(default_factory=lambda: None)


class ReportsOut(BaseModel):
    items: list[ReportOut]
    next_cursor: str | None


class ResolveIn(Input):
    action: Literal["dismiss", "delete", "timeout", "ban"]
    # Only for a timeout (1 minute to 28 days); the action refuses a timeout without it.
    minutes: Annotated[int, Field(ge=1, le=40320)] | None = None


BlockedTerm = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=TERM_MAX),
    AfterValidator(printable),
    AfterValidator(one_line),
]


def _folded(terms: list[str]) -> list[str]:
    """Case-folded and de-duplicated, first occurrence first. Terms are literals: stored as given (folded),
    never compiled as patterns."""
    seen: dict[str, None] = {}
    for term in terms:
        seen.setdefault(term.casefold(), None)
    if len(seen) > TERMS_MAX:
        raise ValueError(f"at most {TERMS_MAX} different blocked terms, not {len(seen)}")
    return list(seen)


class AutomodIn(Input):
    # At most TERMS_MAX once folded and de-duplicated (the raw list is bounded too, so parsing stays cheap).
    blocked_terms: Annotated[list[BlockedTerm], Field(max_length=5 * TERMS_MAX), AfterValidator(_folded)]
    # Members who joined less than this long ago may not post links (0 to 30 days; null: no rule).
    link_min_member_age_s: Annotated[int, Field(ge=0, le=LINK_AGE_MAX_S)] | None = None
    # At most this many mentions in one message (null: no rule).
    max_mentions: Annotated[int, Field(ge=1, le=MENTIONS_MAX)] | None = None


class AutomodOut(BaseModel):
    blocked_terms: list[str]
    link_min_member_age_s: int | None
    max_mentions: int | None
