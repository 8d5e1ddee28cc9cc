"""REST transport for events and RSVPs."""

from __future__ import annotations

from aiohttp import web

from gateway.core.tokens import AccessClaims
from gateway.schemas.events import EventIn, EventOut, EventPatch, EventsOut, EventsQuery, RsvpOut
from gateway.schemas.live import LiveEndOut, LiveStartOut

from .api import Api
from .keys import BACKENDS, EVENTS, LIVE

api = Api()


@api.route(
    "POST",
    "/clubs/{club_id}/events",
    summary="Create an event (moderator); the creator hosts it",
    body=EventIn,
    response=EventOut,
    status=201,
    tags=("events",),
    errors=("forbidden", "not_found"),
)
async def create_event(request: web.Request, claims: AccessClaims, club_id: int, body: EventIn) -> dict:
    return await request.app[EVENTS].create(
        club_id, claims.user_id, body.title, body.description, body.starts_at, body.ends_at, body.capacity
    )


@api.route(
    "GET",
    "/events",
    summary="Events of a club, or of every club the caller can see; upcoming by default",
    query=EventsQuery,
    response=EventsOut,
    tags=("events",),
    errors=("not_found",),
)
async def list_events(request: web.Request, claims: AccessClaims, query: EventsQuery) -> dict:
    return {"events": await request.app[EVENTS].list(claims.user_id, query.club_id, query.upcoming)}


@api.route(
    "GET",
    "/events/{event_id}.ics",
    summary="The event as an iCalendar file",
    auth=True,
    tags=("events",),
    content_type="text/calendar",
    errors=("not_found",),
)
async def event_ics(request: web.Request, claims: AccessClaims, event_id: int) -> web.Response:
    text = await request.app[EVENTS].ics(event_id, claims.user_id)
    return web.Response(
        text=text,
        content_type="text/calendar",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="event-{event_id}.ics"'},
    )


@api.route(
    "GET",
    "/events/{event_id}/summary.csv",
    summary="The ended live session's summary as CSV (the host and the club's moderators)",
    tags=("events", "live"),
    content_type="text/csv",
    errors=("forbidden", "not_found", "conflict"),
)
async def event_summary_csv(request: web.Request, claims: AccessClaims, event_id: int) -> web.Response:
    text = await request.app[EVENTS].summary_csv(event_id, claims.user_id)
    return web.Response(
        text=text,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="event-{event_id}-summary.csv"'},
    )


@api.route(
    "GET",
    "/events/{event_id}",
    summary="An event with RSVP counts, the caller's RSVP and its summary; for its host, the predicted turnout",
    response=EventOut,
    tags=("events",),
    errors=("not_found",),
)
async def get_event(request: web.Request, claims: AccessClaims, event_id: int) -> dict:
    stores = request.app[BACKENDS].stores  # the turnout models' database (the host sees a prediction)
    return await request.app[EVENTS].get(event_id, claims.user_id, stores.mongo if stores else None)


@api.route(
    "PATCH",
    "/events/{event_id}",
    summary="Move or retitle a scheduled event (host); its reminders follow the new time",
    body=EventPatch,
    response=EventOut,
    tags=("events",),
    errors=("forbidden", "not_found", "conflict"),
)
async def update_event(request: web.Request, claims: AccessClaims, event_id: int, body: EventPatch) -> dict:
    changes = body.model_dump(exclude_unset=True)
    return await request.app[EVENTS].update(event_id, claims.user_id, changes)


@api.route(
    "POST",
    "/events/{event_id}/cancel",
    summary="Cancel a scheduled event (host): it stays listed as cancelled and sends no reminders",
    response=EventOut,
    tags=("events",),
    errors=("forbidden", "not_found", "conflict"),
)
async def cancel_event(request: web.Request, claims: AccessClaims, event_id: int) -> dict:
    return await request.app[EVENTS].cancel_event(event_id, claims.user_id)


@api.route(
    "POST",
    "/events/{event_id}/rsvp",
    summary="RSVP: going while there is room, else waitlisted",
    response=RsvpOut,
    tags=("events",),
    errors=("forbidden", "not_found", "conflict"),
)
async def rsvp(request: web.Request, claims: AccessClaims, event_id: int) -> dict:
    return await request.app[EVENTS].rsvp(event_id, claims.user_id)


@api.route(
    "DELETE",
    "/events/{event_id}/rsvp",
    summary="Cancel an RSVP; the first on the waitlist moves up",
    status=204,
    tags=("events",),
    errors=("not_found",),
)
async def cancel_rsvp(request: web.Request, claims: AccessClaims, event_id: int) -> None:
    await request.app[EVENTS].cancel(event_id, claims.user_id)


@api.route(
    "POST",
    "/events/{event_id}/live/start",
    summary="Start the event's live session (host only)",
    response=LiveStartOut,
    tags=("live",),
    errors=("forbidden", "not_found", "conflict", "unavailable"),
)
async def live_start(request: web.Request, claims: AccessClaims, event_id: int) -> dict:
    return await request.app[LIVE].start(event_id, claims.user_id)


@api.route(
    "POST",
    "/events/{event_id}/live/end",
    summary="End the live session and store its summary (host only)",
    response=LiveEndOut,
    tags=("live",),
    errors=("forbidden", "not_found", "conflict", "unavailable"),
)
async def live_end(request: web.Request, claims: AccessClaims, event_id: int) -> dict:
    return await request.app[LIVE].end(event_id, claims.user_id)
