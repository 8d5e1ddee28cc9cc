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
