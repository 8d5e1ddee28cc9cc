"""Pydantic schemas of the REST API and Socket.IO payloads (the contract's shapes)."""
from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (AfterValidator, BaseModel, ConfigDict, EmailStr, Field, RootModel, StringConstraints,
                      model_validator)


def _printable(value: str) -> str:
    if any(unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\n\t" for ch in value):
        raise ValueError("must not contain control characters")
    return value


def _one_line(value: str) -> str:
    if "\n" in value or "\t" in value:
        raise ValueError("must be a single line")
    return value


DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50),
                        AfterValidator(_printable), AfterValidator(_one_line)]
Bio = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), AfterValidator(_printable)]
# Every integer a client sends ends up in a PostgreSQL bigint, a BSON int64 or a Ray actor's comparison:
# one bound for all of them, so 2**70 is answered ``invalid`` instead of overflowing a driver (a 500).
INT64_MAX = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=INT64_MAX)]         # a database id (user, club, room, event, …)
Count = Annotated[int, Field(ge=0, le=INT64_MAX)]      # a sequence number or revision, 0 = none yet

# Upper bound keeps the cost of hashing an attacker's "password" bounded.
Password = Annotated[str, StringConstraints(min_length=10, max_length=256)]


class Input(BaseModel):
    """Every request payload: unknown fields are an error, not silently ignored."""
    model_config = ConfigDict(extra="forbid")


class SignupIn(Input):
    email: EmailStr = Field(max_length=320)
    password: Password
    display_name: DisplayName


class SignupOut(BaseModel):
    user_id: int


class VerifyIn(Input):
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class VerifyOut(BaseModel):
    user_id: int
    verified: Literal[True] = True


class LoginIn(Input):
    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class MeOut(BaseModel):
    id: int
    email: str
    display_name: str
    bio: str
    email_verified: bool
    created_at: datetime


class MePatch(Input):
    display_name: DisplayName | None = None
    bio: Bio | None = None


class UserOut(BaseModel):
    """What anybody may see of a user: never the email."""
    id: int
    display_name: str
    bio: str
    created_at: datetime


class MailboxQuery(Input):
    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320)]


class MailOut(BaseModel):
    to: str
    subject: str
    body: str
    link: str | None = None
    sent_at: float


class MailboxOut(BaseModel):
    messages: list[MailOut]


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReadyOut(BaseModel):
    status: Literal["ready"]
    services: dict[str, str]


# -- Socket.IO payloads (strict: a string where a number belongs is malformed, not coerced) -------------

class Event(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


RoomId = Id
Seq = Id  # seqs start at 1
Emoji = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^\S+$")]


class RoomJoinIn(Event):
    room_id: RoomId
    since_seq: Count | None = None
    since_rev: Count | None = None


class RoomIn(Event):
    room_id: RoomId


class MessageSendIn(Event):
    room_id: RoomId
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    # Length is checked by the room rules (empty: invalid, over 4,000: too_large), not here.
    text: str
    reply_to_seq: Seq | None = None


class MessageHistoryIn(Event):
    room_id: RoomId
    before_seq: Seq | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 50


class MessageEditIn(Event):
    room_id: RoomId
    seq: Seq
    text: str


class MessageDeleteIn(Event):
    room_id: RoomId
    seq: Seq
    text: str | None = None  # the contract shares one payload shape with edit; ignored here


class ReactionIn(Event):
    room_id: RoomId
    seq: Seq
    emoji: Emoji


class ReadIn(Event):
    room_id: RoomId
    seq: Count


class HistoryQuery(Input):
    before_seq: Seq | None = None
    after_seq: Count | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 50


class MessageOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    room_id: int
    seq: int
    rev: int
    message_id: str
    author: dict
    text: str
    ts: int
    reactions: dict


class MessagesOut(BaseModel):
    messages: list[MessageOut]


# -- clubs ----------------------------------------------------------------------------------------

ClubName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                     AfterValidator(_printable), AfterValidator(_one_line)]
RoomName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                     AfterValidator(_printable), AfterValidator(_one_line)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), AfterValidator(_printable)]


class ClubIn(Input):
    name: ClubName
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000),
                           AfterValidator(_printable)] = ""
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


class ClubSearchItem(ClubBase):
    score: float


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
    actor_id: int
    action: str
    target_user_id: int | None
    reason: str
    details: dict
    ts: str


class AuditOut(BaseModel):
    entries: list[AuditEntry]


# -- events ---------------------------------------------------------------------------------------

class EventIn(Input):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                     AfterValidator(_printable), AfterValidator(_one_line)]
    description: Annotated[str, StringConstraints(max_length=5000), AfterValidator(_printable)] = ""
    starts_at: datetime
    ends_at: datetime
    capacity: Annotated[int, Field(ge=1, le=1_000_000)] | None = None

    @model_validator(mode="after")
    def _aware(self):
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("starts_at and ends_at need a time zone (e.g. 2026-12-01T18:00:00Z)")
        return self


class EventListItem(BaseModel):
    """An event in ``GET /events``: no live summary (it can be large; ``GET /events/{id}`` carries it)."""
    model_config = ConfigDict(extra="allow")
    id: int
    club_id: int
    host_id: int
    title: str
    description: str
    starts_at: str
    ends_at: str
    capacity: int | None
    status: str
    room_id: int | None


class EventOut(EventListItem):
    summary: dict | None


class EventsQuery(Input):
    club_id: Id | None = None
    upcoming: bool = True


class EventsOut(BaseModel):
    events: list[EventListItem]


class RsvpOut(BaseModel):
    status: str
    waitlist_position: int | None = None


# -- live sessions (Socket.IO) ----------------------------------------------------------------------

EventId = Id
ItemId = Id


class AuthRefreshIn(Event):
    token: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class LiveJoinIn(Event):
    event_id: EventId


class LiveHandIn(Event):
    event_id: EventId
    raised: bool


class LivePromoteIn(Event):
    event_id: EventId
    user_id: Id
    role: Literal["speaker", "audience"]


class LiveAskIn(Event):
    event_id: EventId
    text: Annotated[str, StringConstraints(max_length=2000)]


class LiveQuestionIn(Event):
    event_id: EventId
    question_id: ItemId


class LivePollIn(Event):
    event_id: EventId
    question: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    options: Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=100)]],
                       Field(min_length=2, max_length=10)]


class LiveVoteIn(Event):
    event_id: EventId
    poll_id: ItemId
    option: Annotated[int, Field(ge=0, le=9)] | Annotated[str, StringConstraints(min_length=1, max_length=100)]


class LivePollRefIn(Event):
    event_id: EventId
    poll_id: ItemId


class LivePinIn(Event):
    event_id: EventId
    text: Annotated[str, StringConstraints(max_length=2000)]


class LiveStartOut(BaseModel):
    event_id: int
    room_id: int
    state: dict


class LiveEndOut(BaseModel):
    event_id: int
    summary: dict


class AchievementOut(BaseModel):
    code: str
    title: str
    description: str
    awarded_at: str


class AchievementsOut(BaseModel):
    achievements: list[AchievementOut]


# -- interactions ---------------------------------------------------------------------------------

class InteractionIn(Input):
    item_type: Literal["event", "club", "room"]
    item_id: Annotated[int, Field(ge=1, le=2**62)]
    # What a client may report; rsvp, join, attend and message are recorded by the server itself
    # (``Chat.signal``) from the actions, so a client cannot forge them.
    kind: Literal["impression", "click", "dwell"]
    dwell_ms: Annotated[int, Field(ge=0, le=24 * 3600 * 1000)] | None = None
    # Client-made id: a batch re-sent after a network error is not counted twice. Unique per user only: it is
    # stored as ``u<user_id>:<id>``, so it can never collide with another user's or the server's ids.
    interaction_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")] | None = None

    @model_validator(mode="after")
    def _dwell(self):
        if self.kind == "dwell" and self.dwell_ms is None:
            raise ValueError("a dwell interaction needs dwell_ms")
        return self


class InteractionsIn(RootModel[Annotated[list[InteractionIn], Field(min_length=1, max_length=200)]]):
    pass


class AcceptedOut(BaseModel):
    accepted: int


class FeedQuery(Input):
    limit: Annotated[int, Field(ge=1, le=100)] = 20


class FeedItem(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["event", "club", "room"]
    id: int
    score: float
    reason: str


class FeedOut(BaseModel):
    items: list[FeedItem]
    model: int | None  # the ranker model version, None while the popularity fallback serves
    candidates: int    # how many candidates were ranked
