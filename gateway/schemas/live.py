"""Live sessions: the ``live:*`` Socket.IO payloads and the REST start and end answers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from .common import Id, SocketPayload

EventId = Id
ItemId = Id


class LiveJoinIn(SocketPayload):
    event_id: EventId


class LiveHandIn(SocketPayload):
    event_id: EventId
    raised: bool


class LivePromoteIn(SocketPayload):
    event_id: EventId
    user_id: Id
    role: Literal["speaker", "audience"]


class LiveAskIn(SocketPayload):
    event_id: EventId
    text: Annotated[str, StringConstraints(max_length=2000)]
    anonymous: bool = False


class LiveModerateIn(SocketPayload):
    event_id: EventId
    enabled: bool


class LiveQuestionIn(SocketPayload):
    event_id: EventId
    question_id: ItemId


class LivePollIn(SocketPayload):
    event_id: EventId
    question: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    options: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=100)]],
        Field(min_length=2, max_length=10),
    ]


class LiveVoteIn(SocketPayload):
    event_id: EventId
    poll_id: ItemId
    option: (
        Annotated[int, Field(ge=0, le=9)] | Annotated[str, StringConstraints(min_length=1, max_length=100)]
    )


class LivePollRefIn(SocketPayload):
    event_id: EventId
    poll_id: ItemId


class LivePinIn(SocketPayload):
    event_id: EventId
    text: Annotated[str, StringConstraints(max_length=2000)]


class LiveStartOut(BaseModel):
    event_id: int
    room_id: int
    state: dict


class LiveEndOut(BaseModel):
    event_id: int
    summary: dict
