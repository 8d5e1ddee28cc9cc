"""Accounts and users: signup, verification, login, profiles, achievements, the dev mailbox."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, EmailStr, Field, StringConstraints

from .common import Bio, DisplayName, Input, Password, SocketPayload


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
    email_digest: bool  # unread mentions and DMs by mail after a while (off: PATCH, or the mail's link)
    dm_policy: Literal["everyone", "club_members", "nobody"]  # who may open a DM with this user


class MePatch(Input):
    display_name: DisplayName | None = None
    bio: Bio | None = None
    email_digest: bool | None = None
    dm_policy: Literal["everyone", "club_members", "nobody"] | None = None


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


class AuthRefreshIn(SocketPayload):
    token: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class AchievementOut(BaseModel):
    code: str
    title: str
    description: str
    awarded_at: str


class AchievementsOut(BaseModel):
    achievements: list[AchievementOut]
