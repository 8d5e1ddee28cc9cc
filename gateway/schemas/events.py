"""Events and RSVPs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from .common import Id, Input, one_line, printable


class EventIn(Input):
    title: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
        AfterValidator(printable),
        AfterValidator(one_line),
    ]
    description: Annotated[str, StringConstraints(max_length=5000), AfterValidator(printable)] = ""
    starts_at: datetime
    ends_at: datetime
    capacity: Annotated[int, Field(ge=1, le=1_000_000)] | None = None

    @model_validator(mode="after")
    def _aware(self):
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("starts_at and ends_at need a time zone (e.g. 2026-12-01T18:00:00Z)")
        return self


class EventPatch(Input):
    """What the host may change of a scheduled event (at least one field)."""

    title: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
            AfterValidator(printable),
            AfterValidator(one_line),
        ]
        | None
    ) = None
    description: Annotated[str, StringConstraints(max_length=5000), AfterValidator(printable)] | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None

    @model_validator(mode="after")
    def _some_and_aware(self):
        if not self.model_fields_set:
            raise ValueError("give at least one of title, description, starts_at, ends_at")
        for value in (self.starts_at, self.ends_at):
            if value is not None and value.tzinfo is None:
                raise ValueError("starts_at and ends_at need a time zone (e.g. 2026-12-01T18:00:00Z)")
        return self


class RsvpOut(BaseModel):
    status: str
    waitlist_position: int | None = None


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
    # RSVP counts and the caller's RSVP (``GET /events`` sets them too, so a list needs no call per event).
    # (default_factory: the schema carries no default, so generated clients keep them optional.)
    going: int | None = Field(default_factory=lambda: None)
    waitlisted: int | None = Field(default_factory=lambda: None)
    my_rsvp: RsvpOut | None = Field(default_factory=lambda: None)


class PredictedGoing(BaseModel):
    """The turnout model's estimate of how many will be going, with an 80 % interval (low ≤ estimate ≤
    high, none below the count going now)."""

    estimate: int
    low: int
    high: int


class EventOut(EventListItem):
    summary: dict | None
    # The host only, and only on ``GET /events/{id}``: null once the event has started or while no turnout
    # model is trained; others never get the field.
    predicted_going: PredictedGoing | None = Field(default_factory=lambda: None)


class EventsQuery(Input):
    club_id: Id | None = None
    upcoming: bool = True


class EventsOut(BaseModel):
    events: list[EventListItem]
