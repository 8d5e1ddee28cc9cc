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
