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
