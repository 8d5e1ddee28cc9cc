// The notification inbox of the logged-in user: the bell's unread count and the list behind it.
//
// - `GET /notifications?cursor=&limit=` (newest first, `{items, next_cursor}`) fills the list page by page;
//   `GET /me/unread`'s `notifications` key is the unread count (lib/unreadClubs.ts polls it).
// - The socket's `notification` puts a new one on top (once: by id) and counts it; `notification:read`
//   (`{ids}` or `{all: true}`: read on another device, or here) marks them read.
// - Reading here (`POST /notifications/read`) is applied at once, then sent.
//
// The state changes are the pure `reduce` (unit-tested); the module keeps one store for the login.
import { useEffect, useSyncExternalStore } from "react";
import { api, query } from "./api";
import { onSocket } from "./socket";

export type NotificationKind = "mention" | "reply" | "dm" | "event_reminder" | "live_started" | "report" | "achievement";

export interface AppNotification {
  id: number | string;
  /** A `NotificationKind` (a newer server may send others: shown as "Notification"). */
  kind: string;
  /** ISO date-time (or epoch ms/s, tolerated). */
  created_at: string | number;
  read: boolean;
  room_id?: number | null;
  seq?: number | null;
  event_id?: number | null;
  actor?: { id: number; display_name: string } | null;
  text: string;
}

export interface NotificationsPage {
  items: AppNotification[];
  next_cursor: string | null;
}

export interface InboxState {
  items: readonly AppNotification[];
  /** The cursor of the next (older) page; null when the list is complete (or not loaded). */
  nextCursor: string | null;
  /** Whether the first page has been loaded. */
  loaded: boolean;
  loading: boolean;
  error: unknown;
  /** Unread notifications in all (the server's count, kept in step with live events). */
  unread: number;
}

export const EMPTY_INBOX: InboxState = { items: [], nextCursor: null, loaded: false, loading: false, error: null, unread: 0 };

export type InboxAction =
  | { type: "loading" }
  | { type: "failed"; error: unknown }
  /** A page of the list: `first` replaces the list, otherwise it is put below. */
  | { type: "page"; page: NotificationsPage; first: boolean }
  /** A new notification (the socket's `notification`). */
  | { type: "incoming"; notification: AppNotification }
  /** Read here or elsewhere (`notification:read`). */
  | { type: "read"; ids?: readonly (number | string)[]; all?: boolean }
  /** The server's unread count (`GET /me/unread`). */
  | { type: "count"; unread: number };

const sameId = (a: number | string, b: number | string) => String(a) === String(b);

/** Newest first, by `created_at` and then id (a page and a live one may cross). */
function byNewest(a: AppNotification, b: AppNotification): number {
  const t = toMs(b.created_at) - toMs(a.created_at);
  if (t !== 0) return t;
  const na = Number(a.id);
  const nb = Number(b.id);
  return Number.isFinite(na) && Number.isFinite(nb) ? nb - na : String(b.id).localeCompare(String(a.id));
}

/** A `created_at` as epoch ms (ISO strings, epoch seconds or ms). */
export function toMs(value: string | number): number {
  if (typeof value === "number") return value < 1e12 ? value * 1000 : value;
  const n = Date.parse(value);
  return Number.isNaN(n) ? 0 : n;
}

export function reduce(state: InboxState, action: InboxAction): InboxState {
  switch (action.type) {
    case "loading":
      return { ...state, loading: true, error: null };
    case "failed":
      return { ...state, loading: false, error: action.error };
    case "page": {
      const incoming = action.page.items ?? [];
      // Live ones that arrived while the page was on its way stay (once).
      const kept = action.first ? state.items.filter((n) => !incoming.some((m) => sameId(m.id, n.id))) : state.items;
      const added = action.first ? incoming : incoming.filter((m) => !kept.some((n) => sameId(n.id, m.id)));
      const items = [...kept, ...added].sort(byNewest);
      return { ...state, items, nextCursor: action.page.next_cursor ?? null, loaded: true, loading: false, error: null };
    }
    case "incoming": {
      const n = action.notification;
      if (!n || n.id === undefined || state.items.some((m) => sameId(m.id, n.id))) return state;
      return { ...state, items: [n, ...state.items].sort(byNewest), unread: state.unread + (n.read ? 0 : 1) };
    }
    case "read": {
      if (action.all) {
        return { ...state, unread: 0, items: state.items.map((n) => (n.read ? n : { ...n, read: true })) };
      }
      const ids = action.ids ?? [];
      let newlyRead = 0;
      const items = state.items.map((n) => {
        if (n.read || !ids.some((id) => sameId(id, n.id))) return n;
        newlyRead += 1;
        return { ...n, read: true };
      });
      if (newlyRead === 0) return state;
      return { ...state, items, unread: Math.max(0, state.unread - newlyRead) };
    }
    case "count": {
      const unread = Math.max(0, Math.floor(action.unread));
      // Nothing unread on the server's word: none of the loaded ones is unread either.
      const items = unread === 0 && state.items.some((n) => !n.read) ? state.items.map((n) => ({ ...n, read: true })) : state.items;
      return { ...state, unread, items };
    }
  }
}

/** The unread notification count of an answer of `GET /me/unread` (null when it has none). */
export function parseNotificationCount(body: unknown): number | null {
  if (!body || typeof body !== "object") return null;
  const n = (body as Record<string, unknown>).notifications;
  return typeof n === "number" && Number.isFinite(n) && n >= 0 ? Math.floor(n) : null;
}

/** Unread mentions per room of an answer of `GET /me/unread` (`mentions: {room_id: count}`). */
export function parseMentionCounts(body: unknown): Map<number, number> {
  const out = new Map<number, number>();
  const m = body && typeof body === "object" ? (body as Record<string, unknown>).mentions : null;
  if (!m || typeof m !== "object") return out;
  for (const [key, value] of Object.entries(m as Record<string, unknown>)) {
    if (/^\d+$/.test(key) && typeof value === "number" && value > 0) out.set(Number(key), Math.floor(value));
  }
  return out;
}

// -- where a notification leads --------------------------------------------------------------------

/** The app address a notification opens: the message in its room (`/rooms/{id}?seq=`, which finds the
 * club), the event, or one's achievements. Null when it leads nowhere. Kept in step with public/sw.js. */
export function notificationHref(n: Pick<AppNotification, "kind" | "room_id" | "seq" | "event_id">): string | null {
  if ((n.kind === "event_reminder" || n.kind === "live_started") && n.event_id) return `/events/${n.event_id}`;
  if (n.kind === "achievement") return "/profile";
  if (n.room_id) return `/rooms/${n.room_id}${n.seq ? `?seq=${n.seq}` : ""}`;
  if (n.event_id) return `/events/${n.event_id}`;
  return null;
}

/** What a notification is about, in a few words (the title of a push, the label of its kind). */
export function kindLabel(kind: string): string {
  switch (kind) {
    case "mention":
      return "Mention";
    case "reply":
      return "Reply";
    case "dm":
      return "Direct message";
    case "event_reminder":
      return "Event reminder";
    case "live_started":
      return "Live now";
    case "report":
      return "New report";
    case "achievement":
      return "Achievement";
    default:
      return "Notification";
  }
}

/** The bell's accessible name: "Notifications, 3 unread" (or just "Notifications"). */
export function bellLabel(unread: number): string {
  if (!(unread > 0)) return "Notifications";
  return `Notifications, ${unread > 99 ? "99+" : unread} unread`;
}

// -- the store of this login -------------------------------------------------------------------------

const PAGE = 20;

let state: InboxState = EMPTY_INBOX;
const listeners = new Set<() => void>();
const readElsewhere = new Set<() => void>();
let firstLoad: Promise<void> | null = null;
let moreLoad: Promise<void> | null = null;
/** Bumped on logout: answers of the last login's requests are dropped. */
let generation = 0;

function dispatch(action: InboxAction): void {
  const next = reduce(state, action);
  if (next === state) return;
  state = next;
  for (const l of listeners) l();
}

export function getInbox(): InboxState {
  return state;
}

function subscribe(cb: () => void): () => void {
  listeners.add(cb);
  return () => listeners.delete(cb);
}

/** The inbox state, re-rendering on every change. */
export function useInbox(): InboxState {
  return useSyncExternalStore(subscribe, getInbox, () => EMPTY_INBOX);
}

/** The first page again (opening the inbox, a reconnect). */
export function loadInbox(): Promise<void> {
  if (firstLoad) return firstLoad;
  const gen = generation;
  dispatch({ type: "loading" });
  firstLoad = api<NotificationsPage>("GET", `/notifications${query({ limit: PAGE })}`)
    .then(
      (page) => {
        if (gen === generation) dispatch({ type: "page", page, first: true });
      },
      (error: unknown) => {
        if (gen === generation) dispatch({ type: "failed", error });
      },
    )
    .finally(() => {
      firstLoad = null;
    });
  return firstLoad;
}

/** "Load more": the page after the oldest loaded. */
export function loadMoreInbox(): Promise<void> {
  const cursor = state.nextCursor;
  if (!cursor || moreLoad) return moreLoad ?? Promise.resolve();
  const gen = generation;
  dispatch({ type: "loading" });
  moreLoad = api<NotificationsPage>("GET", `/notifications${query({ cursor, limit: PAGE })}`)
    .then(
      (page) => {
        if (gen === generation) dispatch({ type: "page", page, first: false });
      },
      (error: unknown) => {
        if (gen === generation) dispatch({ type: "failed", error });
      },
    )
    .finally(() => {
      moreLoad = null;
    });
  return moreLoad;
}

/** Marks notifications read here at once, then on the server (the other devices hear it from there). */
export async function markNotificationsRead(ids: readonly (number | string)[]): Promise<void> {
  const unread = ids.filter((id) => state.items.some((n) => sameId(n.id, id) && !n.read));
  if (unread.length === 0) return;
  dispatch({ type: "read", ids: unread });
  await api("POST", "/notifications/read", { ids: unread });
}

export async function markAllNotificationsRead(): Promise<void> {
  dispatch({ type: "read", all: true });
  await api("POST", "/notifications/read", { all: true });
}

/** The server's unread count (from `GET /me/unread`). */
export function setNotificationCount(unread: number): void {
  dispatch({ type: "count", unread });
}

/** Called after every `notification:read` (ones not loaded here may have been read: the count is
 * fetched again). */
export function onNotificationsReadElsewhere(listener: () => void): () => void {
  readElsewhere.add(listener);
  return () => readElsewhere.delete(listener);
}

// Whether the inbox is open: outside the bell, which the top bar draws in another place on phones (a
// rotated phone or a resized window keeps it open).
let inboxOpen = false;
const openListeners = new Set<() => void>();

export function setInboxOpen(open: boolean): void {
  if (open === inboxOpen) return;
  inboxOpen = open;
  for (const l of openListeners) l();
}

export function useInboxOpen(): boolean {
  return useSyncExternalStore(
    (cb) => {
      openListeners.add(cb);
      return () => openListeners.delete(cb);
    },
    () => inboxOpen,
    () => false,
  );
}

/** Forgets everything of the last login. */
export function resetInbox(): void {
  generation += 1;
  setInboxOpen(false);
  state = EMPTY_INBOX;
  for (const l of listeners) l();
}

/** Live updates for `userId`'s login (mount once, in the app's shell): `notification` and
 * `notification:read` on every socket of the login; the list reloads after a reconnect once loaded. */
export function useNotificationEvents(userId: number | null): void {
  useEffect(() => {
    if (userId === null) {
      resetInbox();
      return;
    }
    let off: (() => void) | null = null;
    const stop = onSocket((s) => {
      off?.();
      off = null;
      if (!s) return;
      const onNotification = (n: AppNotification) => dispatch({ type: "incoming", notification: n });
      const onRead = (r: { ids?: (number | string)[]; all?: boolean } | null) => {
        if (r?.all) dispatch({ type: "read", all: true });
        else if (Array.isArray(r?.ids)) dispatch({ type: "read", ids: r.ids });
        for (const l of readElsewhere) l();
      };
      // Missed while away: the list (if it was loaded) and the count come again.
      const onConnect = () => {
        if (state.loaded) void loadInbox();
      };
      s.on("notification", onNotification);
      s.on("notification:read", onRead);
      s.on("connect", onConnect);
      off = () => {
        s.off("notification", onNotification);
        s.off("notification:read", onRead);
        s.off("connect", onConnect);
      };
    });
    return () => {
      stop();
      off?.();
    };
  }, [userId]);
}
