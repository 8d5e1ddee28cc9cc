"""The feed and the interactions it learns from."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, StringConstraints, model_validator

from .common import Input
from .reels import ReelAuthor, ReelMedia

REEL_KINDS = frozenset({"play", "watch", "complete", "skip"})
WATCHED_KINDS = frozenset({"watch", "complete", "skip"})  # how long it played is the point of these


class InteractionIn(Input):
    item_type: Literal["event", "club", "room", "reel"]
    item_id: Annotated[int, Field(ge=1, le=2**62)]
    # What a client may report; rsvp, join, attend and message are recorded by the server itself
    # (``Interactions.signal``) from the actions, so a client cannot forge them. play, watch, complete and
    # skip are a reel's: a play when it starts, then one of watch (left part-way), complete (reached the
    # end) or skip (swiped away) with how long it played.
    kind: Literal["impression", "click", "dwell", "play", "watch", "complete", "skip"]
    dwell_ms: Annotated[int, Field(ge=0, le=24 * 3600 * 1000)] | None = None
    # Reels: milliseconds watched (loops included), required for watch, complete and skip; labels judge it
    # against the video's duration. Bounded to an hour: longer is a client bug, not a viewing.
    watch_ms: Annotated[int, Field(ge=0, le=3600 * 1000)] | None = None
    # Client-made id: a batch re-sent after a network error is not counted twice. Unique per user only: it is
    # stored as ``u<user_id>:<id>``, so it can never collide with another user's or the server's ids.
    interaction_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")] | None = None

    @model_validator(mode="after")
    def _dwell(self):
        if self.kind == "dwell" and self.dwell_ms is None:
            raise ValueError("a dwell interaction needs dwell_ms")
        if self.kind in REEL_KINDS and self.item_type != "reel":
            raise ValueError(f"{self.kind} is an interaction with a reel")
        if self.kind in WATCHED_KINDS and self.watch_ms is None:
            raise ValueError(f"a {self.kind} interaction needs watch_ms")
        if self.watch_ms is not None and self.kind not in REEL_KINDS:
            raise ValueError("watch_ms belongs to play, watch, complete and skip")
        return self


class InteractionsIn(RootModel[Annotated[list[InteractionIn], Field(min_length=1, max_length=200)]]):
    pass


class AcceptedOut(BaseModel):
    accepted: int


class FeedQuery(Input):
    limit: Annotated[int, Field(ge=1, le=100)] = 20


class FeedItem(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["event", "club", "room", "reel"]
    id: int
    score: float
    reason: str
    # The facts behind the card (``gateway.actions.feed.add_facts``), for a client to word its own reason.
    member: bool | None = Field(
        default_factory=lambda: None, description="the caller belongs to the item's club"
    )
    going: int | None = Field(default_factory=lambda: None, description="events: how many are going")
    my_rsvp: str | None = Field(
        default_factory=lambda: None,
        description="events: the caller's RSVP status (going, waitlisted) or null",
    )
    friends_going: int | None = Field(
        default_factory=lambda: None,
        description="events: how many going share a club with the caller (in friends_club)",
    )
    friends_club: str | None = Field(
        default_factory=lambda: None, description="events: the caller's club most of those come from"
    )
    member_count: int | None = Field(default_factory=lambda: None, description="clubs: how many members")
    friends_members: int | None = Field(
        default_factory=lambda: None, description="clubs: members who share a club with the caller"
    )
    caption: str | None = Field(default_factory=lambda: None, description="reels: the caption")
    author: ReelAuthor | None = Field(default_factory=lambda: None, description="reels: who posted it")
    media: ReelMedia | None = Field(
        default_factory=lambda: None, description="reels: the video (as GET /reels/{id} shows it)"
    )


class FeedOut(BaseModel):
    items: list[FeedItem]
    model: int | None  # the ranker model version, None while the popularity fallback serves
    candidates: int  # how many candidates were ranked
