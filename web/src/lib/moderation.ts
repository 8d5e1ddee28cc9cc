// Reports and auto-moderation (moderators of a club). Reports: `POST /reports {room_id, seq, reason}`,
// `GET /clubs/{id}/reports?status=&cursor=` → `{items, next_cursor}`, `POST /reports/{id}/resolve {action,
// minutes?}`. Auto-moderation: `GET/PUT /clubs/{id}/automod {blocked_terms, link_min_member_age_s,
// max_mentions}`. The form's rules are pure (tested in moderation.test.ts).
import { api, query } from "./api";

export type ReportStatus = "open" | "resolved" | "dismissed";
export type ResolveAction = "dismiss" | "delete" | "timeout" | "ban";

export interface Report {
  id: number;
  room_id: number;
  seq: number;
  reason: string;
  status: string;
  snapshot: { text: string; author: { id: number; display_name: string } | string | null; ts: number | string | null };
  reporter: { id: number; display_name: string } | null;
  created_at: string | number;
  /** What a resolved report ended with (when the server says). */
  action?: string | null;
  resolved_at?: string | number | null;
}

export interface ReportsPage {
  items: Report[];
  next_cursor: string | null;
}

export const REPORTS_PAGE = 20;
export const MAX_REASON_CHARS = 500;
export const DEFAULT_TIMEOUT_MINUTES = 60;
/** The longest timeout the server takes (28 days). */
export const MAX_TIMEOUT_MINUTES = 28 * 24 * 60;

export const ACTIONS: readonly { action: ResolveAction; label: string; confirm: string }[] = [
  { action: "dismiss", label: "Dismiss", confirm: "Dismiss this report? The message stays." },
  { action: "delete", label: "Delete message", confirm: "Delete the reported message for everyone?" },
  { action: "timeout", label: "Time out author", confirm: "Time out the message's author? They cannot send, edit or react until it ends." },
  { action: "ban", label: "Ban author", confirm: "Ban the message's author from the club?" },
];

export function actionLabel(action: string | null | undefined): string {
  return ACTIONS.find((a) => a.action === action)?.label ?? (action ? action : "Resolved");
}

/** The snapshot's author as a name. */
export function snapshotAuthor(r: Pick<Report, "snapshot">): string {
  const a = r.snapshot?.author;
  if (!a) return "Unknown member";
  return typeof a === "string" ? a : a.display_name;
}

/** Why a report's reason cannot be sent (null when it can). */
export function reasonProblem(reason: string): string | null {
  const t = reason.trim();
  if (!t) return "Say why you are reporting this message.";
  if (t.length > MAX_REASON_CHARS) return `The reason is ${t.length - MAX_REASON_CHARS} characters too long (at most ${MAX_REASON_CHARS}).`;
  return null;
}

/** The minutes of a timeout as typed: a whole number from 1 to 28 days (null when not). */
export function parseMinutes(value: string): number | null {
  if (!/^\s*\d+\s*$/.test(value)) return null;
  const n = Number(value);
  return n >= 1 && n <= MAX_TIMEOUT_MINUTES ? n : null;
}

export function reportMessage(roomId: number, seq: number, reason: string): Promise<{ report_id: number }> {
  return api("POST", "/reports", { room_id: roomId, seq, reason: reason.trim() });
}

export function listReports(clubId: number, status: ReportStatus, cursor?: string | null): Promise<ReportsPage> {
  return api("GET", `/clubs/${clubId}/reports${query({ status, cursor, limit: REPORTS_PAGE })}`);
}

export function resolveReport(id: number, action: ResolveAction, minutes?: number): Promise<unknown> {
  return api("POST", `/reports/${id}/resolve`, action === "timeout" ? { action, minutes } : { action });
}

// -- auto-moderation -----------------------------------------------------------------------------------

export interface Automod {
  blocked_terms: string[];
  link_min_member_age_s: number | null;
  max_mentions: number | null;
}

export const MAX_TERMS = 200;
export const MAX_TERM_CHARS = 64;
/** The longest membership age a link rule takes (30 days), in minutes. */
export const MAX_LINK_AGE_MINUTES = 30 * 24 * 60;
export const MAX_MENTIONS = 50;

/** The blocked terms as typed, one a line: trimmed, empty lines and repeats (case-insensitive) left out. */
export function parseTerms(text: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim();
    if (!t || seen.has(t.toLowerCase())) continue;
    seen.add(t.toLowerCase());
    out.push(t);
  }
  return out;
}

/** A number field of the form: empty is "no rule" (null), otherwise a whole number ≥ 0 (undefined: not valid). */
export function parseOptionalInt(value: string): number | null | undefined {
  const t = value.trim();
  if (!t) return null;
  if (!/^\d+$/.test(t)) return undefined;
  return Number(t);
}

/** The settings to PUT from the form's text, or what is wrong with it. */
export function automodFromForm(form: { terms: string; linkAgeMinutes: string; maxMentions: string }): { value: Automod } | { problem: string } {
  const terms = parseTerms(form.terms);
  if (terms.length > MAX_TERMS) return { problem: `At most ${MAX_TERMS} blocked terms (there are ${terms.length}).` };
  const long = terms.find((t) => t.length > MAX_TERM_CHARS);
  if (long) return { problem: `A blocked term is at most ${MAX_TERM_CHARS} characters: "${long.slice(0, 20)}…".` };
  const minutes = parseOptionalInt(form.linkAgeMinutes);
  if (minutes === undefined || (minutes !== null && minutes > MAX_LINK_AGE_MINUTES)) {
    return { problem: `The membership age for links is a whole number of minutes up to ${MAX_LINK_AGE_MINUTES} (30 days), or empty.` };
  }
  const mentions = parseOptionalInt(form.maxMentions);
  if (mentions === undefined || (mentions !== null && (mentions < 1 || mentions > MAX_MENTIONS))) {
    return { problem: `The most mentions per message is a whole number from 1 to ${MAX_MENTIONS}, or empty.` };
  }
  return { value: { blocked_terms: terms, link_min_member_age_s: minutes === null ? null : minutes * 60, max_mentions: mentions } };
}

/** The form's text for settings from the server. */
export function automodToForm(a: Partial<Automod> | null | undefined): { terms: string; linkAgeMinutes: string; maxMentions: string } {
  const age = a?.link_min_member_age_s;
  return {
    terms: (a?.blocked_terms ?? []).join("\n"),
    linkAgeMinutes: typeof age === "number" ? String(Math.round(age / 60)) : "",
    maxMentions: typeof a?.max_mentions === "number" ? String(a.max_mentions) : "",
  };
}
