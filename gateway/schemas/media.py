"""Media uploads: the declared upload, its presigned request, and a media item as clients see it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from .common import INT64_MAX, Input

ContentType = Annotated[
    str, StringConstraints(min_length=3, max_length=100, pattern=r"^[a-z]+/[a-z0-9.+-]+$")
]


class UploadIn(Input):
    kind: Literal["image", "video"]
    content_type: ContentType
    size: Annotated[int, Field(ge=1, le=INT64_MAX)]  # bytes; the limits per kind are checked by the action


class PresignedUpload(BaseModel):
    url: str
    method: Literal["PUT"]
    headers: dict[str, str]  # send exactly these: Content-Type and Content-Length are signed
    expires_at: str  # ISO 8601, UTC


class UploadOut(BaseModel):
    media_id: str
    upload: PresignedUpload


class CompleteOut(BaseModel):
    media_id: str
    status: Literal["pending", "processing", "ready", "failed"]


class AttachmentOut(BaseModel):
    """A ready media item as a message (or a search result) carries it; its URLs are the gateway's
    ``/media/<id>/<variant>``, permission-checked on every request."""

    id: str
    kind: Literal["image", "video"]
    url: str | None
    thumbnail_url: str | None = None
    poster_url: str | None = None
    width: int | None
    height: int | None
    duration_ms: int | None = Field(default_factory=lambda: None)
    blurhash: str | None


class MediaOut(BaseModel):
    id: str
    kind: Literal["image", "video"]
    status: Literal["pending", "processing", "ready", "failed"]
    url: str | None  # null until ready
    thumbnail_url: str | None = None
    poster_url: str | None = None
    width: int | None
    height: int | None
    duration_ms: int | None = None
    blurhash: str | None
    error: str | None = None  # why it failed (status failed)
