// Unread counts per club, for the nav, the club list and the tab title. The rooms' counts are the hub's
// (lib/rooms.ts: the server's GET /me/unread, then live messages of joined rooms); which club a room
// belongs to comes from each club's room list (and the join acks).

/** The counts of an answer of GET /me/unread: `{room_id: count}` (other keys, such as `mentions`, and
 * values that are not counts are left out). */
export function parseUnread(body: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (!body || typeof body !== "object") return out;
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    if (!/^\d+$/.test(key)) continue;
    if (typeof value === "number" && Number.isFinite(value) && value >= 0) out[key] = Math.floor(value);
  }
  return out;
}

/** The sum of the rooms' counts per club (rooms of no known club are left out; zero counts too). */
export function unreadByClub(
  rooms: ReadonlyMap<number, number>,
  clubOf: (roomId: number) => number | undefined,
): Map<number, number> {
  const out = new Map<number, number>();
  for (const [roomId, n] of rooms) {
    if (!(n > 0)) continue;
    const club = clubOf(roomId);
    if (club === undefined) continue;
    out.set(club, (out.get(club) ?? 0) + n);
  }
  return out;
}

export function totalUnread(byClub: ReadonlyMap<number, number>): number {
  let total = 0;
  for (const n of byClub.values()) total += n;
  return total;
}

/** Rooms with unread messages whose club is not known yet: the club lists are fetched again then. */
export function unknownRooms(rooms: ReadonlyMap<number, number>, clubOf: (roomId: number) => number | undefined): number[] {
  return [...rooms].filter(([id, n]) => n > 0 && clubOf(id) === undefined).map(([id]) => id);
}

/** "3 unread" as people read it (for badges and their accessible names). */
export function unreadLabel(n: number): string {
  return n > 99 ? "99+ unread" : `${n} unread`;
}
