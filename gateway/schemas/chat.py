"""Chat: the room and message payloads of Socket.IO, and the REST history."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .common import Count, Id, Input, SocketPayload
from .media import AttachmentOut

RoomId = Id
Seq = Id  # seqs start at 1
Emoji = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^\S+$")]


class RoomJoinIn(SocketPayload):
    room_id: RoomId
    since_seq: Count | None = None
    since_rev: Count | None = None


class RoomIn(SocketPayload):
    room_id: RoomId


class MessageSendIn(SocketPayload):
    room_id: RoomId
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    # Length is checked by the room rules (empty: invalid, over 4,000: too_large), not here.
    text: str
    reply_to_seq: Seq | None = None
    thread_root_seq: Seq | None = None  # a reply in the thread of that message of the same room
    # Ready media of the sender (POST /media/uploads); with attachments the text may be empty. More than
    # ten is refused by the action as too_large (a clear code, not a validation message).
    attachments: Annotated[
        list[Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]], Field(max_length=100)
    ] = []


class MessageHistoryIn(SocketPayload):
    room_id: RoomId
    before_seq: Seq | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 50


class MessageEditIn(SocketPayload):
    room_id: RoomId
    seq: Seq
    text: str


class MessageDeleteIn(SocketPayload):
    room_id: RoomId
    seq: Seq
    text: str | None = None  # the contract shares one payload shape with edit; ignored here


class ReactionIn(SocketPayload):
    room_id: RoomId
    seq: Seq
    emoji: Emoji


class ReadIn(SocketPayload):
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
    # Only for a reader who blocked the author (default_factory: no default in the schema, optional in clients).
    author_blocked: bool | None = Field(default_factory=lambda: None)
    # Ready media the author attached (none on a deleted message).
    attachments: list[AttachmentOut] = Field(default_factory=list)


class MessagesOut(BaseModel):
    messages: list[MessageOut]


class PinIn(Input):
    seq: Seq


class PinsOut(BaseModel):
    rev: int
    pins: list[MessageOut]  # most recently pinned first; each with ``pinned: {by, at}``


class ThreadQuery(Input):
    after_seq: Count = 0
    limit: Annotated[int, Field(ge=1, le=100)] = 50


class ThreadOut(BaseModel):
    root: MessageOut
    messages: list[MessageOut]


class DmOpenIn(Input):
    user_ids: Annotated[list[Id], Field(min_length=1, max_length=10)]


class DmOut(BaseModel):
    room_id: int


class DmPerson(BaseModel):
    id: int
    display_name: str


class DmRoomOut(BaseModel):
    room_id: int
    members: list[DmPerson]
    last_message: MessageOut | None


class DmsOut(BaseModel):
    rooms: list[DmRoomOut]
