"""Reels: a club's short video (a ready video of its author) with a caption."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, StringConstraints

from .common import Input, printable

Caption = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), AfterValidator(printable)]
# As ``POST /media/uploads`` hands it out: 32 lowercase hex digits.
MediaId = Annotated[str, StringConstraints(min_length=32, max_length=32, pattern=r"^[0-9a-f]{32}$")]


class ReelIn(Input):
    media_id: MediaId
    caption: Caption = ""


class ReelCreatedOut(BaseModel):
    reel_id: int


class ReelAuthor(BaseModel):
    id: int
    display_name: str


class ReelMedia(BaseModel):
    """The reel's video as a client plays it: the delivery routes of ``/media/{id}`` (the video itself and
    its poster frame; a video has no thumbnail)."""

    id: str
    kind: Literal["video"]
    url: str
    thumbnail_url: str | None
    poster_url: str | None
    width: int | None
    height: int | None
    duration_ms: int | None
    blurhash: str | None


class ReelOut(BaseModel):
    id: int
    club_id: int
    club_name: str
    author: ReelAuthor
    caption: str
    created_at: str  # ISO 8601, UTC
    media: ReelMedia
