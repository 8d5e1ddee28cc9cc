// Events as the REST API returns them (`GET /events/{id}`, the items of `GET /events`), and the calendar file.
import { ApiError, api, apiFetch, responseError, type Schema } from "./api";
import type { LiveSummary } from "./live";

/** The caller's RSVP (`POST /events/{id}/rsvp`; `status` is going or waitlisted). */
export type MyRsvp = Schema<"RsvpOut">;

/** The counts and the caller's RSVP `GET /events/{id}` adds to an event (beyond its schema's fields). */
interface EventExtras {
  going?: number | null;
  waitlisted?: number | null;
  my_rsvp?: MyRsvp | null;
}

/** An event of `GET /events` (no summary), with the counts once fetched one by one. */
export type EventListItem = Schema<"EventListItem"> & EventExtras;

/** An event of `GET /events/{id}`; `status` is scheduled, live or ended, `summary` set once ended. */
export type ClubEvent = Schema<"EventOut"> & EventExtras & { summary: LiveSummary | null };

/** `POST /events/{id}/live/end`. */
export type LiveEnd = Schema<"LiveEndOut"> & { summary: LiveSummary };

/** `GET /events/{id}`. */
export function fetchEvent(eventId: number): Promise<ClubEvent> {
  return api<ClubEvent>("GET", `/events/${eventId}`);
}

/** `GET /events/{id}.ics` (a plain link cannot carry the bearer token). */
export async function fetchIcs(eventId: number): Promise<Blob> {
  const res = await apiFetch(`/events/${eventId}.ics`, { headers: { Accept: "text/calendar" } });
  if (!res.ok) throw await responseError(res);
  try {
    return await res.blob();
  } catch {
    throw new ApiError(0, "network", "could not reach the server");
  }
}

/** `GET /events/{id}/summary.csv`: the ended live session's summary (its host and the club's moderators). */
export async function fetchSummaryCsv(eventId: number): Promise<Blob> {
  const res = await apiFetch(`/events/${eventId}/summary.csv`, { headers: { Accept: "text/csv" } });
  if (!res.ok) throw await responseError(res);
  try {
    return await res.blob();
  } catch {
    throw new ApiError(0, "network", "could not reach the server");
  }
}

/** "1 going", "12 going", "3 of 20 going" (with a capacity). */
export function goingLabel(going: number | null | undefined, capacity?: number | null): string {
  const n = going ?? 0;
  return capacity != null ? `${n} of ${capacity} going` : `${n} going`;
}

/** The caller's RSVP status as the lists give it: `{status}` (`GET /events`) or the bare status (the feed). */
export function rsvpStatus(mine: MyRsvp | string | null | undefined): string | null {
  if (!mine) return null;
  return typeof mine === "string" ? mine : mine.status;
}

/**
 * The counts of an event after the caller's RSVP changed from `before` to `after` (each going, waitlisted
 * or null), as the server counts them: only `going` RSVPs take a place. Shown at once; the server's
 * answer is the truth the next load brings.
 */
export function countsAfter(
  counts: { going?: number | null; waitlisted?: number | null },
  before: string | null,
  after: string | null,
): { going: number; waitlisted: number } {
  let going = counts.going ?? 0;
  let waitlisted = counts.waitlisted ?? 0;
  if (before === "going") going -= 1;
  if (before === "waitlisted") waitlisted -= 1;
  if (after === "going") going += 1;
  if (after === "waitlisted") waitlisted += 1;
  return { going: Math.max(0, going), waitlisted: Math.max(0, waitlisted) };
}

/** RSVP (`POST /events/{id}/rsvp`, going or waitlisted) or cancel it (`DELETE`, then null). */
export async function setRsvp(eventId: number, attend: boolean): Promise<MyRsvp | null> {
  if (attend) return api<MyRsvp>("POST", `/events/${eventId}/rsvp`);
  await api("DELETE", `/events/${eventId}/rsvp`);
  return null;
}

/** A start time for a card: "Tue 1 Dec, 18:00" (the year when it is not this one). */
export function formatStart(iso: string | null | undefined, now: Date = new Date()): string | null {
  if (!iso) return null;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return null;
  const sameYear = d.getFullYear() === now.getFullYear();
  return d.toLocaleString(undefined, {
    weekday: "short",
    day: "numeric",
    month: "short",
    ...(sameYear ? {} : { year: "numeric" }),
    hour: "2-digit",
    minute: "2-digit",
  });
}
