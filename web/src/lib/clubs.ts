// The clubs of the logged-in user (`GET /me/clubs`) and invite codes as people pass them on.
import { api, type Club, type Schema } from "./api";

/** The user's clubs (each with `my_role`), by name. */
export async function loadMyClubs(): Promise<Club[]> {
  const out = await api<Schema<"MyClubsOut">>("GET", "/me/clubs");
  return [...out.clubs].sort((a, b) => a.name.localeCompare(b.name));
}

/** The code in an invite as people pass it on: the bare code, or a link with ?invite= (or ?code=). */
export function parseInvite(raw: string): string | null {
  const text = raw.trim();
  if (!text) return null;
  if (/^[A-Za-z0-9_-]{1,64}$/.test(text)) return text;
  try {
    const url = new URL(text, "http://x");
    const code = url.searchParams.get("invite") ?? url.searchParams.get("code");
    if (code && /^[A-Za-z0-9_-]{1,64}$/.test(code)) return code;
  } catch {
    // not a link
  }
  return null;
}

/** Join the club an invite code belongs to. */
export function acceptInvite(code: string): Promise<Club> {
  return api<Club>("POST", "/invites/accept", { invite_code: code });
}

// Who may do what in a club, as actors/domain/roles.py says it (owner > moderator > member); the client
// only uses it to leave out controls the server would refuse.
const RANK: Record<string, number> = { member: 1, moderator: 2, owner: 3 };

/** `POST /clubs/{id}/events` needs the moderator role (roles.py ACTIONS["create_event"]). */
export function canCreateEvents(role: string | null | undefined): boolean {
  return (RANK[role ?? ""] ?? 0) >= RANK.moderator;
}

/** `GET /events/{id}/summary.csv`: the event's host, or a moderator of its club (roles.py
 * ACTIONS["export_live_summary"]). */
export function canExportSummary(role: string | null | undefined, isHost: boolean): boolean {
  return isHost || (RANK[role ?? ""] ?? 0) >= RANK.moderator;
}

/** "1 member", "24 members". */
export function membersLabel(n: number | null | undefined): string {
  const count = n ?? 0;
  return `${count} member${count === 1 ? "" : "s"}`;
}

/** Join a public club (`POST /clubs/{id}/join`): the club with the caller's role. */
export function joinClub(clubId: number): Promise<Club> {
  return api<Club>("POST", `/clubs/${clubId}/join`, {});
}
