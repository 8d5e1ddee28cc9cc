// Direct messages of the logged-in user. A DM is a room with no club (`kind: "dm"`): joined, read and
// written like any room (lib/rooms.ts). `GET /dms` lists them newest activity first; `POST /dms
// {user_ids}` opens (or finds: the same people always get the same room) one. The list follows the
// live messages of the rooms held (the hub), a `dm` notification, and unread counts of unknown rooms.
// The state changes are pure (`sortDms`, `withMessage`, `dmTitle`: dms.test.ts).
import { useEffect, useSyncExternalStore } from "react";
import { api } from "./api";
import { hub } from "./rooms";
import { onSocket } from "./socket";
import type { Author, ChatMessage } from "../store/messages";

export interface DmRoom {
  room_id: number;
  members: Author[];
  last_message: ChatMessage | null;
}

export interface DmsState {
  rooms: readonly DmRoom[];
  loaded: boolean;
  loading: boolean;
  error: unknown;
}

const EMPTY: DmsState = { rooms: [], loaded: false, loading: false, error: null };
let state: DmsState = EMPTY;
const listeners = new Set<() => void>();

function emit(next: DmsState): void {
  state = next;
  for (const l of listeners) l();
}

/** When a DM last moved: its last message's time (0 without one). */
export function activity(room: DmRoom): number {
  const ts = room.last_message?.ts;
  return typeof ts === "number" ? ts : 0;
}

/** Newest activity first; a DM without messages by room id, newest room first. */
export function sortDms(rooms: readonly DmRoom[]): DmRoom[] {
  return [...rooms].sort((a, b) => activity(b) - activity(a) || b.room_id - a.room_id);
}

/** The list of an answer of `GET /dms` (malformed entries left out). */
export function parseDms(body: unknown): DmRoom[] {
  const raw = body && typeof body === "object" ? (body as { rooms?: unknown }).rooms : null;
  if (!Array.isArray(raw)) return [];
  return raw
    .filter((r): r is Record<string, unknown> => !!r && typeof r === "object" && typeof (r as { room_id?: unknown }).room_id === "number")
    .map((r) => ({
      room_id: r.room_id as number,
      members: Array.isArray(r.members)
        ? (r.members as unknown[])
            .filter((m): m is Author => !!m && typeof m === "object" && typeof (m as Author).id === "number")
            .map((m) => ({ id: m.id, display_name: typeof m.display_name === "string" ? m.display_name : `Member ${m.id}` }))
        : [],
      last_message: r.last_message && typeof r.last_message === "object" ? (r.last_message as ChatMessage) : null,
    }));
}

/** The list with `m` as its room's last message when it is newer (and the list re-sorted); the same list
 * when `m` is not of a listed DM or older. */
export function withMessage(rooms: readonly DmRoom[], m: ChatMessage): readonly DmRoom[] {
  const i = rooms.findIndex((r) => r.room_id === m.room_id);
  if (i < 0) return rooms;
  const held = rooms[i].last_message;
  if (held && (held.seq > m.seq || (held.seq === m.seq && (held.rev ?? 0) >= (m.rev ?? 0)))) return rooms;
  const next = rooms.slice();
  next[i] = { ...rooms[i], last_message: m };
  return sortDms(next);
}

/** What a DM is called: the other people's names ("Ann, Ben"); "Just you" when alone. */
export function dmTitle(room: Pick<DmRoom, "members">, meId: number | null): string {
  const others = room.members.filter((m) => m.id !== meId).map((m) => m.display_name);
  if (others.length === 0) return "Just you";
  if (others.length <= 3) return others.join(", ");
  return `${others.slice(0, 3).join(", ")} and ${others.length - 3} more`;
}

/** Whether `roomId` is one of the listed DMs. */
export function isDm(roomId: number): boolean {
  return state.rooms.some((r) => r.room_id === roomId);
}

export function dmById(roomId: number): DmRoom | undefined {
  return state.rooms.find((r) => r.room_id === roomId);
}

let loading: Promise<void> | null = null;

/** The list from the server (one request at a time). */
export function loadDms(): Promise<void> {
  if (loading) return loading;
  emit({ ...state, loading: true });
  loading = api<unknown>("GET", "/dms")
    .then(
      (body) => emit({ rooms: sortDms(parseDms(body)), loaded: true, loading: false, error: null }),
      (err: unknown) => emit({ ...state, loading: false, error: err }),
    )
    .finally(() => {
      loading = null;
    });
  return loading;
}

/** Opens the DM with `userIds` (found again when it exists) and resolves with its room id. */
export async function openDm(userIds: readonly number[]): Promise<number> {
  const out = await api<{ room_id: number }>("POST", "/dms", { user_ids: userIds });
  void loadDms();
  return out.room_id;
}

function subscribe(cb: () => void): () => void {
  listeners.add(cb);
  return () => listeners.delete(cb);
}

export function useDms(): DmsState {
  return useSyncExternalStore(subscribe, () => state);
}

let again: ReturnType<typeof setTimeout> | null = null;
/** The list again soon (several reasons at once make one request). */
export function refreshDmsSoon(): void {
  if (again) return;
  again = setTimeout(() => {
    again = null;
    void loadDms();
  }, 300);
}

/** Keeps the list current for the login (mount once, in the app's shell). */
export function useDmEvents(userId: number | null): void {
  useEffect(() => {
    if (userId === null) {
      emit(EMPTY);
      return;
    }
    void loadDms();
    const offMessages = hub.onMessages((list) => {
      let rooms = state.rooms;
      let unknown = false;
      for (const m of list) {
        if (!m || typeof m.room_id !== "number") continue;
        if (rooms.some((r) => r.room_id === m.room_id)) rooms = withMessage(rooms, m);
        else if (hub.clubOf(m.room_id) === undefined) unknown = true;
      }
      if (rooms !== state.rooms) emit({ ...state, rooms });
      if (unknown) refreshDmsSoon();
    });
    let off: (() => void) | null = null;
    const stop = onSocket((s) => {
      off?.();
      off = null;
      if (!s) return;
      const onNotification = (n: { kind?: string } | null) => {
        if (n?.kind === "dm") refreshDmsSoon();
      };
      s.on("notification", onNotification);
      s.on("connect", refreshDmsSoon);
      off = () => {
        s.off("notification", onNotification);
        s.off("connect", refreshDmsSoon);
      };
    });
    return () => {
      offMessages();
      stop();
      off?.();
    };
  }, [userId]);
}

/** Unread messages of the DMs: per room, and in all (for the "Messages" link and the list). */
export function dmUnread(rooms: readonly DmRoom[], unread: ReadonlyMap<number, number>): { byRoom: Map<number, number>; total: number } {
  const byRoom = new Map<number, number>();
  let total = 0;
  for (const r of rooms) {
    const n = unread.get(r.room_id) ?? 0;
    if (n > 0) {
      byRoom.set(r.room_id, n);
      total += n;
    }
  }
  return { byRoom, total };
}
