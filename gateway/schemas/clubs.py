"""Clubs, rooms, moderation and the audit log."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from .common import Id, Input, one_line, printable

ClubName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(printable),
    AfterValidator(one_line),
]
RoomName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(printable),
    AfterValidator(one_line),
]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), AfterValidator(printable)]


class ClubIn(Input):
    name: ClubName
    description: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=2000), AfterValidator(printable)
    ] = ""
    visibility: Literal["public", "private"] = "public"


class ClubBase(BaseModel):
    id: int
    name: str
    description: str
    visibility: str
    created_at: str
    created_by: int


class ClubOut(ClubBase):
    my_role: str | None = None
    member_count: int | None = None


class ClubSearchQuery(Input):
    q: Annotated[str, StringConstraints(max_length=200)] = ""
    limit: Annotated[int, Field(ge=1, le=50)] = 20
    cursor: Annotated[str, StringConstraints(max_length=200)] | None = None


class NextEvent(BaseModel):
    """A club's soonest event that has not ended (scheduled or live)."""

    id: int
    title: str
    starts_at: str
    status: str


class ClubSearchItem(ClubBase):
    score: float
    # What a club card shows (added later: older clients ignore them).
    member_count: int = 0
    my_role: str | None = None
    next_event: NextEvent | None = None


class ClubSearchOut(BaseModel):
    items: list[ClubSearchItem]
    next_cursor: str | None


# storage.models.ClubInvite.code holds 32 characters; a longer code cannot exist (and the ORM refuses it).
InviteCode = Annotated[str, StringConstraints(min_length=1, max_length=32)]


class JoinIn(Input):
    invite_code: InviteCode | None = None


class InviteAcceptIn(Input):
    invite_code: InviteCode


class MyClubsOut(BaseModel):
    clubs: list[ClubOut]


class MemberOut(BaseModel):
    user_id: int
    display_name: str
    role: str
    joined_at: str
    muted_until: str | None
    online: bool


class MembersOut(BaseModel):
    members: list[MemberOut]


class RoleIn(Input):
    role: Literal["owner", "moderator", "member"]


class RoleOut(BaseModel):
    user_id: int
    role: str


class BanIn(Input):
    user_id: Id
    reason: Reason = ""


class BanOut(BaseModel):
    user_id: int
    banned: bool


class TimeoutIn(Input):
    user_id: Id
    minutes: Annotated[int, Field(ge=0, le=40320)]  # up to 4 weeks; 0 lifts a timeout
    reason: Reason = ""


class TimeoutOut(BaseModel):
    user_id: int
    muted_until: str | None


class InviteIn(Input):
    expires_in_s: Annotated[int, Field(ge=60, le=90 * 24 * 3600)] | None = None


class InviteOut(BaseModel):
    code: str
    expires_at: str | None


class InviteRevokeIn(Input):
    code: InviteCode


class RoomCreateIn(Input):
    name: RoomName
    slow_mode_s: Annotated[int, Field(ge=0, le=21600)] = 0


class RoomPatchIn(Input):
    slow_mode_s: Annotated[int, Field(ge=0, le=21600)]


class RoomOut(BaseModel):
    id: int
    club_id: int
    name: str
    slow_mode_s: int


class RoomsOut(BaseModel):
    rooms: list[RoomOut]


class AuditQuery(Input):
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class AuditEntry(BaseModel):
    actor_id: int | None = Field(description="who acted; null for the club's auto-moderation")
    action: str
    target_user_id: int | None
    reason: str
    details: dict
    ts: int = Field(description="when it happened, epoch milliseconds (like a message's ts)")


class AuditOut(BaseModel):
    entries: list[AuditEntry]
