"""Notifications: the inbox, read state and per-room levels."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from .common import Id, Input


class NotificationActor(BaseModel):
    id: int
    display_name: str


class NotificationOut(BaseModel):
    id: int
    kind: str
    created_at: str
    read: bool
    text: str
    # default_factory: the schema carries no default, so generated clients keep them optional.
    room_id: int | None = Field(default_factory=lambda: None)
    seq: int | None = Field(default_factory=lambda: None)
    event_id: int | None = Field(default_factory=lambda: None)
    actor: NotificationActor | None = Field(default_factory=lambda: None)


class NotificationsQuery(Input):
    cursor: Annotated[str, Field(max_length=20, pattern=r"^[1-9][0-9]{0,18}$")] | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    unread: bool = False


class NotificationsOut(BaseModel):
    items: list[NotificationOut]
    next_cursor: str | None


class ReadIn(Input):
    """``{ids: [...]}`` (at most 100) or ``{all: true}``."""

    ids: Annotated[list[Id], Field(min_length=1, max_length=100)] | None = None
    all: Literal[True] | None = None

    @model_validator(mode="after")
    def _one(self):
        if (self.ids is None) == (self.all is None):
            raise ValueError("give either ids or all: true")
        return self


Level = Literal["all", "mentions", "none"]


class LevelIn(Input):
    level: Level


class LevelOut(BaseModel):
    level: Level
