// An event as the REST API returns it (`GET /events/{id}`, the items of `GET /events`).
import type { LiveSummary } from "./live";

export interface MyRsvp {
  status: string; // going | waitlisted
  waitlist_position?: number | null;
}

export interface ClubEvent {
  id: number;
  club_id: number;
  host_id: number;
  title: string;
  description: string;
  starts_at: string;
  ends_at: string;
  capacity: number | null;
  status: string; // scheduled | live | ended
  room_id?: number | null;
  summary?: LiveSummary | null;
  going?: number;
  waitlisted?: number;
  my_rsvp?: MyRsvp | null;
}
