// The unread counts of the person's clubs while logged in: GET /me/unread every 15 s (and when the tab
// comes back, the socket reconnects or another device reads), fed into the room hub, summed per club;
// its `notifications` key is the bell's count (lib/notifications.ts).
import { useEffect, useMemo, useSyncExternalStore } from "react";
import { api, type Club, type Schema } from "./api";
import { loadMyClubs } from "./clubs";
import { onNotificationsReadElsewhere, parseNotificationCount, setNotificationCount } from "./notifications";
import { isDm, refreshDmsSoon } from "./dms";
import { hub, useUnread } from "./rooms";
import { parseUnread, totalUnread, unknownRooms, unreadByClub } from "./unread";

const POLL_MS = 15_000;
const CLUBS_AGAIN_MS = 20_000;

interface ClubsState {
  clubs: readonly Club[];
  roomClub: ReadonlyMap<number, number>;
}

let state: ClubsState = { clubs: [], roomClub: new Map() };
const listeners = new Set<() => void>();
let loading: Promise<void> | null = null;
let loadedAt = 0;

function emit(next: ClubsState): void {
  state = next;
  for (const l of listeners) l();
}

/** The person's clubs and which club each of their rooms belongs to (again at most every 20 s unless
 * `force`: after joining a club or making a room). */
export function refreshClubs(force = false): Promise<void> {
  if (loading) return loading;
  if (!force && Date.now() - loadedAt < CLUBS_AGAIN_MS) return Promise.resolve();
  loading = (async () => {
    try {
      const clubs = await loadMyClubs();
      const lists = await Promise.all(
        clubs.map((c) =>
          api<Schema<"RoomsOut">>("GET", `/clubs/${c.id}/rooms`).then(
            (out) => out.rooms,
            () => [],
          ),
        ),
      );
      const roomClub = new Map<number, number>();
      clubs.forEach((c, i) => lists[i].forEach((r) => roomClub.set(r.id, c.id)));
      loadedAt = Date.now();
      emit({ clubs, roomClub });
    } catch {
      // kept as it was; the next poll tries again
    } finally {
      loading = null;
    }
  })();
  return loading;
}

/** The club of one of the person's rooms, fetching the club lists again once when it is not known
 * (undefined: none of their clubs has it). */
export async function findClubOfRoom(roomId: number): Promise<number | undefined> {
  const known = clubOf(roomId);
  if (known !== undefined) return known;
  await refreshClubs(true);
  return clubOf(roomId);
}

function clubOf(roomId: number): number | undefined {
  return state.roomClub.get(roomId) ?? hub.clubOf(roomId);
}

async function fetchUnread(): Promise<void> {
  try {
    const body = await api<unknown>("GET", "/me/unread");
    hub.setUnreadCounts(parseUnread(body));
    const notifications = parseNotificationCount(body);
    if (notifications !== null) setNotificationCount(notifications);
  } catch {
    return; // an outage or a dropped connection: the counts stay as they were
  }
  // A room of no known club nor DM: a new room of a club, or a new DM.
  if (unknownRooms(hub.getUnread(), clubOf).some((id) => !isDm(id))) {
    void refreshClubs();
    refreshDmsSoon();
  }
}

/** Keeps the counts current while `userId` is logged in (mount once, in the app's shell). */
export function useUnreadPolling(userId: number | null): void {
  useEffect(() => {
    if (userId === null) {
      emit({ clubs: [], roomClub: new Map() });
      loadedAt = 0;
      return;
    }
    hub.me = userId;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const soon = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => void fetchUnread(), 300);
    };
    void refreshClubs(true).then(fetchUnread);
    const poll = setInterval(() => {
      if (document.visibilityState === "visible") void fetchUnread();
    }, POLL_MS);
    const onVisible = () => {
      if (document.visibilityState === "visible") soon();
    };
    document.addEventListener("visibilitychange", onVisible);
    window.addEventListener("focus", soon);
    const offRead = hub.onRead(soon);
    const offReconnect = hub.onReconnect(soon);
    const offNotificationsRead = onNotificationsReadElsewhere(soon);
    return () => {
      offNotificationsRead();
      clearInterval(poll);
      if (timer) clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisible);
      window.removeEventListener("focus", soon);
      offRead();
      offReconnect();
    };
  }, [userId]);
}

function subscribe(cb: () => void): () => void {
  listeners.add(cb);
  return () => listeners.delete(cb);
}

export interface ClubUnread {
  /** The person's clubs, by name. */
  clubs: readonly Club[];
  /** club id -> unread messages (clubs with none are absent). */
  byClub: ReadonlyMap<number, number>;
  total: number;
}

/** Unread messages per club of the person, and in all. */
export function useClubUnread(): ClubUnread {
  const rooms = useUnread();
  const clubs = useSyncExternalStore(subscribe, () => state);
  return useMemo(() => {
    const byClub = unreadByClub(rooms, (id) => clubs.roomClub.get(id) ?? hub.clubOf(id));
    return { clubs: clubs.clubs, byClub, total: totalUnread(byClub) };
  }, [rooms, clubs]);
}
