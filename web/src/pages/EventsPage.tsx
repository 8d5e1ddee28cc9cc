import { useCallback, useEffect, useState, type FormEvent } from "react";
import { Link, useParams } from "react-router-dom";

import { AlertText, BackLink, Badge, Button, Field, LoadError, PageTitle, StatusText, inputClass, linkClass } from "../components/ui";
import { api, type Club, type Schema } from "../lib/api";
import { canCreateEvents } from "../lib/clubs";
import { errorMessage } from "../lib/errors";
import { countsAfter, goingLabel, rsvpStatus, setRsvp, type EventListItem } from "../lib/events";

type EventItem = EventListItem;

function formatRange(startIso: string, endIso: string): string {
  const start = new Date(startIso);
  const end = new Date(endIso);
  if (Number.isNaN(start.getTime())) return startIso;
  const startText = start.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  if (Number.isNaN(end.getTime())) return startText;
  const sameDay = start.toDateString() === end.toDateString();
  const endText = sameDay
    ? end.toLocaleTimeString(undefined, { timeStyle: "short" })
    : end.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  return `${startText} – ${endText}`;
}

/** A `datetime-local` value ("2026-12-01T18:00") read as local time, as ISO 8601 in UTC ("…Z"); null if invalid. */
function localToIso(value: string): string | null {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

export default function EventsPage() {
  const { clubId } = useParams();
  const club = Number(clubId);
  if (!Number.isInteger(club) || club < 1) {
    return (
      <div className="mx-auto max-w-3xl p-4">
        <AlertText>This club address is not valid.</AlertText>
      </div>
    );
  }
  // Another club: every piece of state starts afresh.
  return <ClubEvents key={club} club={club} />;
}

function ClubEvents({ club }: { club: number }) {
  const [events, setEvents] = useState<EventItem[] | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [clubName, setClubName] = useState<string | null>(null);
  // The caller's role: undefined while loading, null for a non-member.
  const [role, setRole] = useState<string | null | undefined>(undefined);
  const [rsvpBusy, setRsvpBusy] = useState<number | null>(null);
  const [rsvpError, setRsvpError] = useState<{ id: number; text: string } | null>(null);

  const [title, setTitle] = useState("");
  const [description, setDescription] = useState("");
  const [startsAt, setStartsAt] = useState("");
  const [endsAt, setEndsAt] = useState("");
  const [capacity, setCapacity] = useState("");
  const [creating, setCreating] = useState(false);
  const [formError, setFormError] = useState<string | null>(null);
  const [created, setCreated] = useState<EventItem | null>(null);

  const load = useCallback(
    () =>
      // The list carries each event's RSVP counts and the caller's RSVP.
      api<Schema<"EventsOut">>("GET", `/events?club_id=${club}&upcoming=true`).then(
        (res) => setEvents(res.events),
        (err: unknown) => setLoadError(err),
      ),
    [club],
  );

  useEffect(() => {
    void load();
    api<Club>("GET", `/clubs/${club}`)
      .then((c) => {
        setClubName(c.name);
        setRole(c.my_role ?? null);
      })
      .catch(() => {
        setClubName(null);
        setRole(null);
      });
  }, [club, load]);

  async function rsvp(ev: EventItem, attend: boolean) {
    setRsvpBusy(ev.id);
    setRsvpError(null);
    try {
      const before = rsvpStatus(ev.my_rsvp);
      const mine = await setRsvp(ev.id, attend);
      const after = rsvpStatus(mine);
      setEvents((cur) => cur?.map((e) => (e.id === ev.id ? { ...e, ...countsAfter(e, before, after), my_rsvp: mine } : e)) ?? cur);
    } catch (err) {
      setRsvpError({ id: ev.id, text: errorMessage(err) });
    } finally {
      setRsvpBusy(null);
    }
  }

  async function onCreate(e: FormEvent) {
    e.preventDefault();
    setFormError(null);
    setCreated(null);
    const starts = localToIso(startsAt);
    const ends = localToIso(endsAt);
    if (!title.trim()) return setFormError("The event needs a title.");
    if (!starts || !ends) return setFormError("Give a start and an end time.");
    if (new Date(ends) <= new Date(starts)) return setFormError("The event must end after it starts.");
    let cap: number | undefined;
    if (capacity.trim() !== "") {
      cap = Number(capacity);
      if (!Number.isInteger(cap) || cap < 1) return setFormError("Capacity must be a whole number of at least 1.");
    }
    setCreating(true);
    try {
      const body: Record<string, unknown> = { title: title.trim(), description, starts_at: starts, ends_at: ends };
      if (cap !== undefined) body.capacity = cap;
      const ev = await api<Schema<"EventOut">>("POST", `/clubs/${club}/events`, body);
      setCreated(ev);
      setEvents((cur) =>
        [...(cur ?? []).filter((x) => x.id !== ev.id), ev].sort(
          (a, b) => new Date(a.starts_at).getTime() - new Date(b.starts_at).getTime() || a.id - b.id,
        ),
      );
      setTitle("");
      setDescription("");
      setStartsAt("");
      setEndsAt("");
      setCapacity("");
    } catch (err) {
      setFormError(errorMessage(err));
    } finally {
      setCreating(false);
    }
  }

  return (
    <div className="mx-auto max-w-3xl space-y-6 p-4">
      <div>
        <BackLink to={`/clubs/${club}`}>Back to {clubName ?? "the club"}</BackLink>
        <PageTitle className="mt-1">Upcoming events{clubName ? ` of ${clubName}` : ""}</PageTitle>
      </div>

      <section aria-labelledby="events-list-heading">
        <h2 id="events-list-heading" className="sr-only">
          Upcoming
        </h2>
        {loadError != null && (
          <LoadError
            error={loadError}
            className="mb-3"
            retry={() => {
              setLoadError(null);
              void load();
            }}
          />
        )}
        {events === null && loadError == null && <p className="text-slate-600">Loading events…</p>}
        {events !== null && events.length === 0 && <p className="text-slate-600">No upcoming events.</p>}
        {events !== null && events.length > 0 && (
          <ul aria-label="Events" className="divide-y divide-slate-200 rounded-lg border border-slate-200 bg-white">
            {events.map((ev) => (
              <li key={ev.id} className="flex flex-wrap items-baseline justify-between gap-2 p-4">
                <div>
                  <Link to={`/events/${ev.id}`} className={`text-lg font-medium ${linkClass}`}>
                    {ev.title}
                  </Link>
                  <p className="text-sm text-slate-600">
                    <time dateTime={ev.starts_at}>{formatRange(ev.starts_at, ev.ends_at)}</time>
                  </p>
                </div>
                <div className="flex flex-wrap items-center gap-2 text-sm text-slate-700">
                  {ev.status === "live" && <Badge tone="live">Live now</Badge>}
                  <span>
                    {goingLabel(ev.going, ev.capacity)}
                    {ev.waitlisted ? `, ${ev.waitlisted} waitlisted` : ""}
                  </span>
                  {role != null &&
                    (rsvpStatus(ev.my_rsvp) ? (
                      <>
                        <Badge tone="success">{rsvpStatus(ev.my_rsvp) === "waitlisted" ? "On the waitlist" : "You're going"}</Badge>
                        <Button
                          small
                          variant="ghost"
                          disabled={rsvpBusy === ev.id}
                          onClick={() => void rsvp(ev, false)}
                          aria-label={`Cancel RSVP to ${ev.title}`}
                        >
                          Cancel
                        </Button>
                      </>
                    ) : (
                      <Button small disabled={rsvpBusy === ev.id} onClick={() => void rsvp(ev, true)} aria-label={`RSVP to ${ev.title}`}>
                        RSVP
                      </Button>
                    ))}
                </div>
                {rsvpError?.id === ev.id && <AlertText className="w-full">{rsvpError.text}</AlertText>}
              </li>
            ))}
          </ul>
        )}
      </section>

      {role !== undefined && !canCreateEvents(role) && (
        <p className="text-sm text-slate-600">
          {role === null ? "Join the club to RSVP to its events." : "The club's moderators and owner schedule its events."}
        </p>
      )}
      {canCreateEvents(role) && (
        <section aria-labelledby="create-event-heading" className="rounded-lg border border-slate-200 bg-white p-4">
          <h2 id="create-event-heading" className="text-lg font-semibold">
            New event
          </h2>
          <form onSubmit={(e) => void onCreate(e)} className="mt-3 grid gap-3 sm:grid-cols-2" noValidate>
            <div className="sm:col-span-2">
              <Field label="Title" id="event-title">
                <input
                  id="event-title"
                  className={inputClass}
                  value={title}
                  onChange={(e) => setTitle(e.target.value)}
                  maxLength={200}
                  required
                />
              </Field>
            </div>
            <div className="sm:col-span-2">
              <Field label="Description" id="event-description">
                <textarea
                  id="event-description"
                  className={inputClass}
                  value={description}
                  onChange={(e) => setDescription(e.target.value)}
                  maxLength={5000}
                  rows={3}
                />
              </Field>
            </div>
            <Field label="Starts at" id="event-starts">
              <input
                id="event-starts"
                type="datetime-local"
                className={inputClass}
                value={startsAt}
                onChange={(e) => setStartsAt(e.target.value)}
                required
              />
            </Field>
            <Field label="Ends at" id="event-ends">
              <input
                id="event-ends"
                type="datetime-local"
                className={inputClass}
                value={endsAt}
                onChange={(e) => setEndsAt(e.target.value)}
                required
              />
            </Field>
            <Field label="Capacity" id="event-capacity">
              <input
                id="event-capacity"
                type="number"
                inputMode="numeric"
                min={1}
                step={1}
                className={inputClass}
                value={capacity}
                onChange={(e) => setCapacity(e.target.value)}
                placeholder="No limit"
              />
            </Field>
            <div className="flex items-end">
              <Button type="submit" disabled={creating}>
                Create event
              </Button>
            </div>
          </form>
          {formError && <AlertText className="mt-3">{formError}</AlertText>}
          {created && <StatusText className="mt-3">Event created.</StatusText>}
        </section>
      )}
    </div>
  );
}
