"""Pydantic schemas of the REST API and Socket.IO payloads (the contract's shapes)."""
from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints


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


RoomId = Annotated[int, Field(ge=1, le=2**62)]
Seq = Annotated[int, Field(ge=1, le=2**62)]
Emoji = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^\S+$")]


class RoomJoinIn(Event):
    room_id: RoomId
    since_seq: Annotated[int, Field(ge=0, le=2**62)] | None = None
    since_rev: Annotated[int, Field(ge=0, le=2**62)] | None = None


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
    seq: Annotated[int, Field(ge=0, le=2**62)]


class HistoryQuery(Input):
    before_seq: Annotated[int, Field(ge=1)] | None = None
    after_seq: Annotated[int, Field(ge=0)] | None = None
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
