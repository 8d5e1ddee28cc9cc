"""Event actions: create, list, RSVP with capacity and an ordered waitlist, calendar export, the ended live
session's summary as CSV (its host and the club's moderators).

RSVPs of one event are serialised by a row lock on the event (``SELECT … FOR UPDATE``): many
concurrent RSVPs never book more than the capacity, and a cancellation promotes the longest-waiting
RSVP in the same transaction.

The event's host (its creator, ``host_id``: the one who runs its live session; club owners and moderators
do not manage others' events) also sees ``predicted_going`` on ``GET /events/{id}``: ``{estimate, low, high}``
from the turnout model (``ranking.turnout``) while the event is upcoming, ``null`` once it has started or
when no model is trained yet. Anyone else gets no such field.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from tortoise import connections
from tortoise.transactions import in_transaction

from actors.domain.errors import DomainError
from actors.domain.roles import can, require
from ranking import turnout
from storage.models import Event, EventStatus, Rsvp, RsvpStatus
from storage.visibility import listable_clubs

from .interactions import Interactions
from .lookup import visible_club, visible_event

LIST_LIMIT = 200

# The RSVP counts of a page of events and the caller's own RSVP, in one query (an event list shows "N going"
# and an RSVP button on every card).
LIST_RSVPS_SQL = """
            SELECT event_id,
                   count(*) FILTER (WHERE status = 'going') AS going,
                   count(*) FILTER (WHERE status = 'waitlisted') AS waitlisted,
                   max(CASE WHEN user_id = $2 AND status <> 'cancelled' THEN status END) AS mine
            FROM rsvps WHERE event_id = ANY($1::bigint[]) GROUP BY event_id
"""


def event_out(
    event: Event,
    going: int | None = None,
    waitlisted: int | None = None,
    my_rsvp: dict | None = None,
    summary: bool = True,
) -> dict:
    """An event as the API shows it. Lists leave the live summary out (``summary=False``): it can weigh
    hundreds of kilobytes (questions, polls), and only ``GET /events/{id}`` needs it."""
    out = {
        "id": event.id,
        "club_id": event.club_id,
        "host_id": event.host_id,
        "title": event.title,
        "description": event.description,
        "starts_at": event.starts_at.isoformat(),
        "ends_at": event.ends_at.isoformat(),
        "capacity": event.capacity,
        "status": event.status.value if hasattr(event.status, "value") else event.status,
        "room_id": event.room_id,
    }
    if summary:
        out["summary"] = event.summary
    if going is not None:
        out.update(going=going, waitlisted=waitlisted, my_rsvp=my_rsvp)
    return out


async def rsvp_counts(event_ids: list[int], user_id: int) -> dict[int, tuple[int, int, str | None]]:
    """event id -> (going, waitlisted, the caller's RSVP status or None)."""
    if not event_ids:
        return {}
    rows = await connections.get("default").execute_query_dict(LIST_RSVPS_SQL, [event_ids, user_id])
    return {r["event_id"]: (int(r["going"]), int(r["waitlisted"]), r["mine"]) for r in rows}


class Events:
    def __init__(self, base_url: str, interactions: Interactions | None = None) -> None:
        self.base_url = base_url  # links in calendar files
        self.interactions = interactions  # for the RSVP signal to the feed pipeline

    async def event(self, event_id: int, user_id: int) -> tuple[Event, str | None]:
        event, _, role = await visible_event(event_id, user_id)
        return event, role

    async def create(
        self,
        club_id: int,
        user_id: int,
        title: str,
        description: str,
        starts_at: datetime,
        ends_at: datetime,
        capacity: int | None,
    ) -> dict:
        _, role = await visible_club(club_id, user_id)
        require(role, "create_event")
        if ends_at <= starts_at:
            raise DomainError("invalid", "ends_at must be after starts_at")
        event = await Event.create(
            club_id=club_id,
            host_id=user_id,
            title=title,
            description=description,
            starts_at=starts_at,
            ends_at=ends_at,
            capacity=capacity,
        )
        return event_out(event, 0, 0, None)

    async def _hosted_scheduled(self, event_id: int, user_id: int) -> Event:
        event, _ = await self.event(event_id, user_id)
        if event.host_id != user_id:
            raise DomainError("forbidden", "only the event's host can change it")
        if event.status != EventStatus.scheduled:
            raise DomainError("conflict", f"the event is {event.status.value}: it cannot change any more")
        return event

    async def update(self, event_id: int, user_id: int, changes: dict) -> dict:
        """The host moves or retitles a scheduled event. Reminders follow the new time on their own: a
        reminder is keyed by the start time it was for (``actors.notifier``)."""
        event = await self._hosted_scheduled(event_id, user_id)
        starts_at = changes.get("starts_at") or event.starts_at
        ends_at = changes.get("ends_at") or event.ends_at
        if ends_at <= starts_at:
            raise DomainError("invalid", "ends_at must be after starts_at")
        for name in ("title", "description", "starts_at", "ends_at"):
            if changes.get(name) is not None:
                setattr(event, name, changes[name])
        await event.save(update_fields=["title", "description", "starts_at", "ends_at"])
        return await self._with_counts(event, user_id)

    async def cancel_event(self, event_id: int, user_id: int) -> dict:
        """The host cancels a scheduled event: it stays listed as cancelled and gets no reminders."""
        event = await self._hosted_scheduled(event_id, user_id)
        event.status = EventStatus.cancelled
        await event.save(update_fields=["status"])
        return await self._with_counts(event, user_id)

    async def get(self, event_id: int, user_id: int, models_db=None) -> dict:
        """``models_db``: the MongoDB database of the turnout models (without it, the host's
        ``predicted_going`` is null)."""
        event, _ = await self.event(event_id, user_id)
        out = await self._with_counts(event, user_id)
        if event.host_id == user_id:
            out["predicted_going"] = await self._predicted_going(event, out["going"], models_db)
        return out

    async def _predicted_going(self, event: Event, going: int, models_db) -> dict | None:
        upcoming = event.status == EventStatus.scheduled and event.starts_at > datetime.now(UTC)
        if models_db is None or not upcoming:
            return None
        predicted = await turnout.predict_going(event.id, models_db)
        return turnout.at_least(predicted, going) if predicted is not None else None

    async def _with_counts(self, event: Event, user_id: int) -> dict:
        going = await Rsvp.filter(event_id=event.id, status=RsvpStatus.going).count()
        waitlisted = await Rsvp.filter(event_id=event.id, status=RsvpStatus.waitlisted).count()
        return event_out(event, going, waitlisted, await self._my_rsvp(event.id, user_id))

    async def _my_rsvp(self, event_id: int, user_id: int, conn=None) -> dict | None:
        mine = await Rsvp.filter(event_id=event_id, user_id=user_id).using_db(conn).first()
        if mine is None or mine.status == RsvpStatus.cancelled:
            return None
        out = {"status": mine.status.value}
        if mine.status == RsvpStatus.waitlisted:
            ahead = (
                await Rsvp.filter(event_id=event_id, status=RsvpStatus.waitlisted)
                .using_db(conn)
                .filter(updated_at__lt=mine.updated_at)
                .count()
            )
            out["waitlist_position"] = ahead + 1
        return out

    async def list(self, user_id: int, club_id: int | None, upcoming: bool) -> list[dict]:
        """Events the caller can see, soonest first, at most ``LIST_LIMIT``: filtered in the query, so hidden
        events never use up the limit; clubs the caller is banned from are left out."""
        qs = Event.filter(await listable_clubs(user_id))
        if club_id is not None:
            await visible_club(club_id, user_id)  # a private club of others answers like a missing one
            qs = qs.filter(club_id=club_id)
        if upcoming:
            qs = qs.filter(ends_at__gte=datetime.now(UTC))
        events = await qs.order_by("starts_at", "id").limit(LIST_LIMIT)
        counts = await rsvp_counts([e.id for e in events], user_id)
        out = []
        for e in events:
            going, waitlisted, mine = counts.get(e.id, (0, 0, None))
            # A waitlisted caller's place in line is on ``GET /events/{id}``; the list says only the status.
            out.append(event_out(e, going, waitlisted, {"status": mine} if mine else None, summary=False))
        return out

    async def rsvp(self, event_id: int, user_id: int) -> dict:
        event, role = await self.event(event_id, user_id)
        if not can(role, "rsvp"):
            raise DomainError("forbidden", "join the club to RSVP")
        if event.status == EventStatus.ended:
            raise DomainError("conflict", "this event has ended")
        async with in_transaction() as conn:
            await Event.filter(id=event_id).using_db(conn).select_for_update().first()
            mine = await Rsvp.filter(event_id=event_id, user_id=user_id).using_db(conn).first()
            if mine is None or mine.status == RsvpStatus.cancelled:
                going = await Rsvp.filter(event_id=event_id, status=RsvpStatus.going).using_db(conn).count()
                status = (
                    RsvpStatus.going
                    if event.capacity is None or going < event.capacity
                    else RsvpStatus.waitlisted
                )
                if mine is None:
                    await Rsvp.create(event_id=event_id, user_id=user_id, status=status, using_db=conn)
                else:
                    mine.status = status
                    await mine.save(using_db=conn, update_fields=["status", "updated_at"])
            result = await self._my_rsvp(event_id, user_id, conn)
        assert result is not None  # just written, and not cancelled
        if self.interactions is not None:
            await self.interactions.signal(user_id, "event", event_id, "rsvp")
        return result

    async def cancel(self, event_id: int, user_id: int) -> None:
        await self.event(event_id, user_id)
        async with in_transaction() as conn:
            event = await Event.filter(id=event_id).using_db(conn).select_for_update().first()
            mine = await Rsvp.filter(event_id=event_id, user_id=user_id).using_db(conn).first()
            if event is None or mine is None or mine.status == RsvpStatus.cancelled:
                raise DomainError("not_found", "you have no RSVP for this event")
            freed = mine.status == RsvpStatus.going
            mine.status = RsvpStatus.cancelled
            await mine.save(using_db=conn, update_fields=["status", "updated_at"])
            if freed and event.capacity is not None:
                nxt = (
                    await Rsvp.filter(event_id=event_id, status=RsvpStatus.waitlisted)
                    .using_db(conn)
                    .order_by("updated_at", "id")
                    .first()
                )
                if nxt is not None:
                    nxt.status = RsvpStatus.going
                    await nxt.save(using_db=conn, update_fields=["status", "updated_at"])

    async def ics(self, event_id: int, user_id: int) -> str:
        event, _ = await self.event(event_id, user_id)
        return to_ics(event, self.base_url)

    async def summary_csv(self, event_id: int, user_id: int) -> str:
        """The stored summary of the event's live session as CSV: for the host and the club's moderators
        (a member sees the summary on the event page, but an export is a host's tool)."""
        event, role = await self.event(event_id, user_id)
        if event.host_id != user_id:
            require(role, "export_live_summary")
        if not event.summary:
            raise DomainError("conflict", "the event's live session has not ended: it has no summary yet")
        return summary_csv(event.summary)


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection); tab and carriage
# return too, which some of them strip before looking (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SUMMARY_CSV_HEADER = ["section", "text", "option", "count", "answered"]


def _cell(value) -> str | int | float:
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    return value if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def summary_csv(summary: dict) -> str:
    """One table with the same five columns on every row (``SUMMARY_CSV_HEADER``), so any CSV reader
    takes it whole: the session's figures, then a row per question, then a row per poll option."""
    rows: list[list] = [
        ["session", "attendance", "", summary.get("attendance", 0), ""],
        ["session", "peak_audience", "", summary.get("peak_audience", 0), ""],
        ["session", "duration_s", "", summary.get("duration_s", 0), ""],
    ]
    for q in summary.get("questions") or []:
        rows.append(
            ["question", q.get("text", ""), "", q.get("votes", 0), "yes" if q.get("answered") else "no"]
        )
    for p in summary.get("polls") or []:
        tallies = p.get("tallies") or []
        for i, option in enumerate(p.get("options") or []):
            rows.append(["poll", p.get("question", ""), option, tallies[i] if i < len(tallies) else 0, ""])
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180: quoted where needed, CRLF line ends
    writer.writerow(SUMMARY_CSV_HEADER)
    writer.writerows([_cell(v) for v in row] for row in rows)
    # A byte-order mark: without it Excel reads UTF-8 as the machine's code page.
    return "\ufeff" + out.getvalue()


def _ics_escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """RFC 5545 §3.1: lines longer than 75 octets continue on lines starting with a space."""
    out, current = [], b""
    for ch in line:
        b = ch.encode()
        if len(current) + len(b) > 75:
            out.append(current.decode())
            current = b" "
        current += b
    out.append(current.decode())
    return "\r\n".join(out)


def to_ics(event: Event, base_url: str) -> str:
    fmt = "%Y%m%dT%H%M%SZ"
    utc = UTC
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//ClubHoloHub//Events//EN",
        "CALSCALE:GREGORIAN",
        "BEGIN:VEVENT",
        f"UID:event-{event.id}@clubholohub",
        f"DTSTAMP:{datetime.now(utc).strftime(fmt)}",
        f"DTSTART:{event.starts_at.astimezone(utc).strftime(fmt)}",
        f"DTEND:{event.ends_at.astimezone(utc).strftime(fmt)}",
        f"SUMMARY:{_ics_escape(event.title)}",
        f"DESCRIPTION:{_ics_escape(event.description)}",
        f"URL:{base_url}/events/{event.id}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
