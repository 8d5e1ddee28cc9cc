// Chat rooms over the socket: one RoomSession per room (its MessageStore, presence, typing), joined while
// a screen holds it, rejoined with since_seq/since_rev after every reconnect, then its send queue flushed.
import { useCallback, useEffect, useMemo, useSyncExternalStore } from "react";
import type { Socket } from "socket.io-client";
import { api, query } from "./api";
import { call, getSocket, onSocket } from "./socket";
import type { Attachment } from "./media";
import { MessageStore, type Author, type ChatMessage, type JoinAck, type SendAck, type StoreSnapshot } from "../store/messages";

export interface RoomState {
  joined: boolean;
  joining: boolean;
  /** Why the last join failed (null when it did not). */
  joinError: unknown;
  /** Set when the server removed this socket from the room (`room:removed`). */
  removed: string | null;
  /** Users with a socket in the room (join ack `online`, then `presence`). */
  online: ReadonlySet<number>;
  /** Users that had a presence event in this room since it was joined. */
  presenceSeen: ReadonlySet<number>;
  /** user_id -> until when (ms) they are shown as typing. */
  typing: ReadonlyMap<number, number>;
  loadingOlder: boolean;
  /** The last error of a history or gap fetch. */
  historyError: unknown;
  /** The room's pinned seqs as the last `room:pins` said (null before any). */
  pins: readonly number[] | null;
  /** The `rev` of that `room:pins` (an older one is ignored). */
  pinsRev: number;
}

/** The server's `room:pins`: a pin change in a room. */
export interface PinsEvent {
  room_id: number;
  rev?: number;
  pins: number[];
}

const TYPING_SHOWN_MS = 5000;
const TYPING_SEND_EVERY_MS = 3000;
const HISTORY_PAGE = 50;
const RESEND_FIRST_MS = 1000;
const RESEND_MAX_MS = 30_000;

interface PresenceEvent {
  room_id: number;
  user_id: number;
  status: "online" | "offline";
}

function emptyState(): RoomState {
  return {
    joined: false,
    joining: false,
    joinError: null,
    removed: null,
    online: new Set(),
    presenceSeen: new Set(),
    typing: new Map(),
    loadingOlder: false,
    historyError: null,
    pins: null,
    pinsRev: 0,
  };
}

export class RoomSession {
  readonly roomId: number;
  readonly store: MessageStore;
  refs = 0;
  private hub: RoomHub;
  private st: RoomState = emptyState();
  private listeners = new Set<() => void>();
  private joinRun: Promise<void> | null = null;
  private gapRun: Promise<void> | null = null;
  private typingTimer: ReturnType<typeof setTimeout> | null = null;
  private lastTypingSent = 0;
  private readSent = 0;
  private readTimer: ReturnType<typeof setTimeout> | null = null;
  /** A send that timed out is tried again by this timer (same client_id), backing off. */
  private resendTimer: ReturnType<typeof setTimeout> | null = null;
  private resendDelayMs = RESEND_FIRST_MS;
  private readWanted = 0;

  constructor(roomId: number, hub: RoomHub) {
    this.roomId = roomId;
    this.hub = hub;
    this.store = new MessageStore(roomId);
  }

  // -- state for React ----------------------------------------------------------------------------
  get state(): RoomState {
    return this.st;
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getState = (): RoomState => this.st;

  private set(patch: Partial<RoomState>): void {
    this.st = { ...this.st, ...patch };
    for (const l of this.listeners) l();
  }

  // -- joining -------------------------------------------------------------------------------------
  /** `room:join` (with since_seq/since_rev after the first), then the latest page on a first join, a gap
   * fetch if needed, and the send queue. */
  join(): Promise<void> {
    if (this.joinRun) return this.joinRun;
    const run = async () => {
      const s = getSocket();
      if (!s || !s.connected || this.st.removed) return;
      this.set({ joining: true });
      let ack: JoinAck;
      try {
        ack = await call<JoinAck>("room:join", { room_id: this.roomId, ...this.store.sinceParams() });
      } catch (err) {
        this.set({ joining: false, joined: false, joinError: err });
        return;
      }
      const first = !this.store.joinedOnce;
      const gap = this.store.applyJoin(ack);
      this.set({
        joining: false,
        joined: true,
        joinError: null,
        online: new Set(ack.online),
        presenceSeen: new Set(),
        typing: new Map(),
      });
      // A DM's ack says club 0 (no club).
      if (typeof ack.club_id === "number" && ack.club_id > 0) this.hub.noteRoomClub(this.roomId, ack.club_id);
      this.hub.notifyJoined(this.roomId);
      if (first && ack.last_seq > 0 && this.store.messages().length < HISTORY_PAGE) {
        await this.loadOlder(true);
      }
      if (gap) void this.fillGaps();
      void this.flush();
    };
    this.joinRun = run().finally(() => {
      this.joinRun = null;
    });
    return this.joinRun;
  }

  /** The server forgot this socket (disconnect): not joined until the next join. */
  connectionLost(): void {
    if (this.st.joined || this.st.joining) this.set({ joined: false, joining: false, typing: new Map() });
  }

  async leave(): Promise<void> {
    const wasJoined = this.st.joined;
    this.set({ joined: false });
    if (wasJoined) {
      try {
        await call("room:leave", { room_id: this.roomId });
      } catch {
        // Leaving a room of a lost connection: the server already dropped it.
      }
    }
  }

  // -- history -------------------------------------------------------------------------------------
  /** "Load older messages": the page before the oldest held (or the latest page when `latest`). */
  async loadOlder(latest = false): Promise<void> {
    if (this.st.loadingOlder) return;
    const before = latest ? undefined : this.store.oldestSeq ?? undefined;
    this.set({ loadingOlder: true, historyError: null });
    try {
      const out = await call<{ messages: ChatMessage[] }>("message:history", {
        room_id: this.roomId,
        ...(before ? { before_seq: before } : {}),
        limit: HISTORY_PAGE,
      });
      this.store.prependHistory(out.messages);
      this.set({ loadingOlder: false });
    } catch (err) {
      this.set({ loadingOlder: false, historyError: err });
    }
  }

  /** Makes sure the message `seq` is held, loading older pages (contiguously, up to `maxPages` of 100)
   * until it is; resolves with whether it is held now. Joins first when needed. */
  async reveal(seq: number, maxPages = 30): Promise<boolean> {
    if (!this.store.joinedOnce) await this.join();
    if (this.joinRun) await this.joinRun;
    for (let page = 0; page < maxPages; page++) {
      if (this.store.get(seq)) return true;
      const oldest = this.store.oldestSeq;
      if (!this.store.joinedOnce || (oldest !== null && seq > oldest) || !this.store.hasOlder) break;
      let out: { messages: ChatMessage[] };
      this.set({ loadingOlder: true, historyError: null });
      try {
        // The page right before the oldest held, so the window stays whole.
        out = await api<{ messages: ChatMessage[] }>(
          "GET",
          `/rooms/${this.roomId}/messages${query({ before_seq: oldest ?? undefined, limit: 100 })}`,
        );
      } catch (err) {
        this.set({ loadingOlder: false, historyError: err });
        return false;
      }
      this.store.prependHistory(out.messages);
      this.set({ loadingOlder: false });
      if (out.messages.length === 0) break;
    }
    return !!this.store.get(seq);
  }

  /** Fetches the messages of every open gap (`GET /rooms/{id}/messages?after_seq=`). */
  fillGaps(): Promise<void> {
    if (this.gapRun) return this.gapRun;
    const run = async () => {
      for (let i = 0; i < 20; i++) {
        const gap = this.store.gap();
        if (!gap) return;
        const limit = Math.min(100, gap.beforeSeq - gap.afterSeq - 1);
        let out: { messages: ChatMessage[] };
        try {
          out = await api<{ messages: ChatMessage[] }>(
            "GET",
            `/rooms/${this.roomId}/messages${query({ after_seq: gap.afterSeq, before_seq: gap.beforeSeq, limit })}`,
          );
        } catch (err) {
          this.set({ historyError: err });
          return;
        }
        if (out.messages.length === 0) return; // nothing more to get: do not loop
        this.store.fillGap(out.messages);
      }
    };
    this.gapRun = run().finally(() => {
      this.gapRun = null;
    });
    return this.gapRun;
  }

  // -- live events ---------------------------------------------------------------------------------
  onMessages(messages: ChatMessage[]): void {
    const gap = this.store.applyBatch(messages);
    const authors = new Set(messages.map((m) => m.author?.id));
    if ([...this.st.typing.keys()].some((id) => authors.has(id))) {
      const typing = new Map(this.st.typing);
      for (const id of authors) typing.delete(id);
      this.set({ typing });
    }
    if (gap) void this.fillGaps();
  }

  onUpdated(message: ChatMessage): void {
    this.store.applyUpdate(message);
  }

  /** `room:pins`: the room's pinned seqs now (kept unless an older revision). */
  onPins(p: PinsEvent): void {
    if (!Array.isArray(p.pins)) return;
    const rev = typeof p.rev === "number" ? p.rev : this.st.pinsRev;
    if (rev < this.st.pinsRev) return;
    this.set({ pins: p.pins.filter((n) => typeof n === "number"), pinsRev: rev });
  }

  onPresence(p: PresenceEvent): void {
    const online = new Set(this.st.online);
    if (p.status === "online") online.add(p.user_id);
    else online.delete(p.user_id);
    const presenceSeen = new Set(this.st.presenceSeen).add(p.user_id);
    let typing = this.st.typing;
    if (p.status === "offline" && typing.has(p.user_id)) {
      const next = new Map(typing);
      next.delete(p.user_id);
      typing = next;
    }
    this.set({ online, presenceSeen, typing });
  }

  onTyping(userId: number): void {
    const typing = new Map(this.st.typing);
    typing.set(userId, Date.now() + TYPING_SHOWN_MS);
    this.set({ typing });
    this.scheduleTypingExpiry();
  }

  private scheduleTypingExpiry(): void {
    if (this.typingTimer) clearTimeout(this.typingTimer);
    if (this.st.typing.size === 0) return;
    const next = Math.min(...this.st.typing.values());
    this.typingTimer = setTimeout(() => {
      this.typingTimer = null;
      const now = Date.now();
      const typing = new Map([...this.st.typing].filter(([, until]) => until > now));
      if (typing.size !== this.st.typing.size) this.set({ typing });
      this.scheduleTypingExpiry();
    }, Math.max(50, next - Date.now() + 10));
  }

  /** `room:removed`: the member is out of the club. The screen says why and offers nothing more; the
   * hub forgets the session (no rejoin after a reconnect, a later visit starts afresh). */
  onRemoved(reason: string): void {
    this.stopTimers();
    this.set({ joined: false, joining: false, removed: reason || "removed", typing: new Map(), online: new Set() });
    this.hub.forget(this);
  }

  // -- actions -------------------------------------------------------------------------------------
  /** Queues a message (shown at once as "Sending…") and sends the queue if the room is joined. */
  send(
    text: string,
    author: Author,
    replyToSeq?: number | null,
    threadRootSeq?: number | null,
    attachments?: readonly Attachment[],
  ): void {
    this.store.enqueue(text, author, replyToSeq, undefined, threadRootSeq, attachments);
    void this.flush();
  }

  /** Sends the queued messages in order (each with its own client_id, at most once at a time). */
  flush(): Promise<void> {
    if (!this.st.joined || !getSocket()?.connected) return Promise.resolve();
    return this.store.flush((p) =>
      call<SendAck>("message:send", {
        room_id: this.roomId,
        client_id: p.client_id,
        text: p.text,
        ...(p.reply_to_seq ? { reply_to_seq: p.reply_to_seq } : {}),
        ...(p.thread_root_seq ? { thread_root_seq: p.thread_root_seq } : {}),
        ...(p.attachments?.length ? { attachments: p.attachments.map((a) => a.id) } : {}),
      }),
    ).then(() => {
      this.scheduleResend();
      this.hub.maybeLeave(this);
    });
  }

  /** A flush that stopped on a retryable failure (an ack that timed out while the socket stayed up) left
   * messages queued: without a reconnect or another send nothing would send them again, and one the
   * server did store would show twice (queued and delivered) for ever. Try again with the same client_id
   * after 1 s, 2 s, 4 s… up to 30 s; the server answers a stored one with its first ack. */
  private scheduleResend(): void {
    const waiting = this.store.pending.some((p) => p.status === "pending");
    if (!waiting) {
      this.resendDelayMs = RESEND_FIRST_MS;
      return;
    }
    if (this.resendTimer) return;
    this.resendTimer = setTimeout(() => {
      this.resendTimer = null;
      void this.flush();
    }, this.resendDelayMs);
    this.resendDelayMs = Math.min(RESEND_MAX_MS, this.resendDelayMs * 2);
  }

  retry(clientId: string): void {
    this.store.retry(clientId);
    void this.flush();
  }

  async edit(seq: number, text: string): Promise<void> {
    await call("message:edit", { room_id: this.roomId, seq, text });
  }

  async remove(seq: number): Promise<void> {
    await call("message:delete", { room_id: this.roomId, seq });
  }

  /** Pins (`POST /rooms/{id}/pins`) or unpins a message; `room:pins` then tells every member. */
  async pin(seq: number, pinned: boolean): Promise<void> {
    if (pinned) await api("POST", `/rooms/${this.roomId}/pins`, { seq });
    else await api("DELETE", `/rooms/${this.roomId}/pins/${seq}`);
    const now = new Set(this.st.pins ?? this.store.messages().filter((m) => m.pinned).map((m) => m.seq));
    if (pinned) now.add(seq);
    else now.delete(seq);
    this.set({ pins: [...now] });
  }

  async react(seq: number, emoji: string, add: boolean): Promise<void> {
    await call(add ? "reaction:add" : "reaction:remove", { room_id: this.roomId, seq, emoji });
  }

  /** Throttled `typing` (at most one every 3 s). */
  typing(): void {
    const now = Date.now();
    if (!this.st.joined || now - this.lastTypingSent < TYPING_SEND_EVERY_MS) return;
    this.lastTypingSent = now;
    call("typing", { room_id: this.roomId }).catch(() => undefined);
  }

  /** Marks the room read up to `seq` (sent at most every 500 ms, only when it moves forward). */
  markRead(seq: number): void {
    this.hub.setUnread(this.roomId, 0);
    if (seq <= this.readSent || seq <= this.readWanted) return;
    this.readWanted = seq;
    if (this.readTimer) return;
    this.readTimer = setTimeout(() => {
      this.readTimer = null;
      const target = this.readWanted;
      if (!this.st.joined || target <= this.readSent) return;
      call("read", { room_id: this.roomId, seq: target }).then(
        () => {
          if (target > this.readSent) this.readSent = target;
        },
        () => {
          this.readWanted = this.readSent; // try again with the next message or scroll
        },
      );
    }, 300);
  }

  private stopTimers(): void {
    if (this.typingTimer) clearTimeout(this.typingTimer);
    if (this.readTimer) clearTimeout(this.readTimer);
    if (this.resendTimer) clearTimeout(this.resendTimer);
    this.typingTimer = null;
    this.readTimer = null;
    this.resendTimer = null;
  }

  /** Releases timers (the session is dropped). */
  dispose(): void {
    this.stopTimers();
    this.listeners.clear();
  }
}

/** The rooms of this login: routes the socket's room events to their sessions, rejoins them after a
 * reconnect, and keeps the unread counts of the rooms in view. */
export class RoomHub {
  private sessions = new Map<number, RoomSession>();
  private socket: Socket | null = null;
  private unbind: (() => void) | null = null;
  private unread = new Map<number, number>();
  private unreadListeners = new Set<() => void>();
  private unreadSnapshot: ReadonlyMap<number, number> = new Map();
  private readListeners = new Set<(roomId: number) => void>();
  private reconnectListeners = new Set<() => void>();
  private joinedListeners = new Set<(roomId: number) => void>();
  private messageListeners = new Set<(messages: ChatMessage[]) => void>();
  private roomClubs = new Map<number, number>();
  /** The room on screen: its new messages are not counted unread. */
  activeRoom: number | null = null;
  me: number | null = null;

  constructor() {
    onSocket((s) => this.bind(s));
  }

  private bind(s: Socket | null): void {
    if (s === this.socket) return;
    this.unbind?.();
    this.unbind = null;
    if (this.socket && !s) this.reset(); // logged out: nothing of that login stays
    this.socket = s;
    if (!s) return;
    const route = (roomId: unknown) => (typeof roomId === "number" ? this.sessions.get(roomId) : undefined);
    const handlers: Record<string, (payload: never) => void> = {
      message: (m: ChatMessage) => {
        route(m?.room_id)?.onMessages([m]);
        this.countUnread([m]);
        this.emitMessages([m]);
      },
      "message:batch": (b: { room_id: number; messages: ChatMessage[] }) => {
        const list = (b?.messages ?? []).map((m) => ({ ...m, room_id: m.room_id ?? b.room_id }));
        route(b?.room_id)?.onMessages(list);
        this.countUnread(list);
        this.emitMessages(list);
      },
      "room:pins": (p: PinsEvent) => route(p?.room_id)?.onPins(p),
      "message:updated": (m: ChatMessage) => route(m?.room_id)?.onUpdated(m),
      presence: (p: PresenceEvent) => route(p?.room_id)?.onPresence(p),
      typing: (t: { room_id: number; user_id: number }) => {
        if (t?.user_id !== this.me) route(t?.room_id)?.onTyping(t.user_id);
      },
      "read:updated": (r: { room_id: number; seq: number }) => {
        for (const l of this.readListeners) l(r.room_id);
      },
      "room:removed": (r: { room_id: number; reason: string }) => route(r?.room_id)?.onRemoved(r.reason),
      connect: () => {
        for (const session of this.sessions.values()) {
          if (session.refs > 0 || session.store.pending.length > 0) void session.join();
        }
        for (const l of this.reconnectListeners) l();
      },
      disconnect: () => {
        for (const session of this.sessions.values()) session.connectionLost();
      },
    };
    for (const [event, fn] of Object.entries(handlers)) s.on(event, fn as (...args: unknown[]) => void);
    this.unbind = () => {
      for (const [event, fn] of Object.entries(handlers)) s.off(event, fn as (...args: unknown[]) => void);
    };
  }

  private reset(): void {
    for (const session of this.sessions.values()) session.dispose();
    this.sessions.clear();
    this.unread.clear();
    this.roomClubs.clear();
    this.activeRoom = null;
    this.emitUnread();
  }

  /** Drops a session the member was removed from (a screen may still show its `removed` state). */
  forget(session: RoomSession): void {
    if (this.sessions.get(session.roomId) !== session) return;
    this.sessions.delete(session.roomId);
    this.setUnread(session.roomId, 0);
  }

  /** Whether a screen holds `roomId` (or its session is still joined). */
  isHeld(roomId: number): boolean {
    const s = this.sessions.get(roomId);
    return !!s && (s.refs > 0 || s.state.joined || s.state.joining);
  }

  /** The session of `roomId` (made on first use; joined only while held). */
  session(roomId: number): RoomSession {
    let session = this.sessions.get(roomId);
    if (!session) {
      session = new RoomSession(roomId, this);
      this.sessions.set(roomId, session);
    }
    return session;
  }

  /** The session of `roomId`, joined while held (every `acquire` needs its `release`). */
  acquire(roomId: number): RoomSession {
    const session = this.session(roomId);
    session.refs += 1;
    if (session.refs === 1 && !session.state.joined) void session.join();
    return session;
  }

  release(session: RoomSession): void {
    session.refs = Math.max(0, session.refs - 1);
    // Let a screen that takes the room right back (a re-render, a route change within the club) keep it.
    setTimeout(() => this.maybeLeave(session), 1000);
  }

  /** Leaves a room nobody holds once its queue is empty (queued messages are sent first). */
  maybeLeave(session: RoomSession): void {
    if (session.refs > 0 || session.store.pending.some((p) => p.status !== "failed")) return;
    if (session.state.joined) void session.leave();
  }

  // -- unread counts -----------------------------------------------------------------------------------
  private countUnread(messages: ChatMessage[]): void {
    let changed = false;
    for (const m of messages) {
      if (!m || m.author?.id === this.me) continue;
      if (m.room_id === this.activeRoom && typeof document !== "undefined" && document.visibilityState === "visible") {
        continue;
      }
      this.unread.set(m.room_id, (this.unread.get(m.room_id) ?? 0) + 1);
      changed = true;
    }
    if (changed) this.emitUnread();
  }

  /** Replaces the counts with the server's (`GET /me/unread`). */
  setUnreadCounts(counts: Record<string, number>): void {
    for (const [room, n] of Object.entries(counts)) {
      const id = Number(room);
      // Keys that are no room id (`mentions`, `notifications` of GET /me/unread) are not counts of a room.
      if (!Number.isInteger(id) || typeof n !== "number") continue;
      this.unread.set(id, id === this.activeRoom ? 0 : n);
    }
    this.emitUnread();
  }

  setUnread(roomId: number, n: number): void {
    if ((this.unread.get(roomId) ?? 0) === n) return;
    this.unread.set(roomId, n);
    this.emitUnread();
  }

  private emitUnread(): void {
    this.unreadSnapshot = new Map(this.unread);
    for (const l of this.unreadListeners) l();
  }

  subscribeUnread = (listener: () => void): (() => void) => {
    this.unreadListeners.add(listener);
    return () => this.unreadListeners.delete(listener);
  };

  getUnread = (): ReadonlyMap<number, number> => this.unreadSnapshot;

  /** Another device of this user read a room (`read:updated`). */
  onRead(listener: (roomId: number) => void): () => void {
    this.readListeners.add(listener);
    return () => this.readListeners.delete(listener);
  }

  /** A room was joined (or rejoined): counts kept elsewhere may be stale. */
  onJoined(listener: (roomId: number) => void): () => void {
    this.joinedListeners.add(listener);
    return () => this.joinedListeners.delete(listener);
  }

  notifyJoined(roomId: number): void {
    for (const l of this.joinedListeners) l(roomId);
  }

  /** Every live message of any room (after its session has it). */
  onMessages(listener: (messages: ChatMessage[]) => void): () => void {
    this.messageListeners.add(listener);
    return () => this.messageListeners.delete(listener);
  }

  private emitMessages(list: ChatMessage[]): void {
    for (const l of this.messageListeners) l(list);
  }

  /** The socket is back (after a drop). */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  // -- room -> club (learnt from join acks) ---------------------------------------------------------------
  noteRoomClub(roomId: number, clubId: number): void {
    this.roomClubs.set(roomId, clubId);
  }

  clubOf(roomId: number): number | undefined {
    return this.roomClubs.get(roomId);
  }
}

export const hub = new RoomHub();

/** Holds the session of `roomId` while mounted (null for no room). */
export function useRoomSession(roomId: number | null): RoomSession | null {
  // The session is there from the first render of a room (no blank frame when switching rooms); it is
  // held, and so joined, from the effect on.
  const session = useMemo(() => (roomId === null ? null : hub.session(roomId)), [roomId]);
  useEffect(() => {
    if (!session) return;
    hub.acquire(session.roomId);
    return () => hub.release(session);
  }, [session]);
  return session;
}

const EMPTY_STATE: RoomState = emptyState();

const noop = () => () => undefined;

export function useRoomState(session: RoomSession | null): RoomState {
  return useSyncExternalStore(session ? session.subscribe : noop, session ? session.getState : () => EMPTY_STATE);
}

export function useUnread(): ReadonlyMap<number, number> {
  return useSyncExternalStore(hub.subscribeUnread, hub.getUnread);
}

const EMPTY_SNAPSHOT = new MessageStore(0).getSnapshot();

/** The messages and queue of a session's store, re-rendering on every change. */
export function useMessages(session: RoomSession | null): StoreSnapshot {
  const store = session?.store ?? null;
  const subscribe = useCallback((cb: () => void) => (store ? store.subscribe(cb) : () => undefined), [store]);
  const get = useCallback(() => (store ? store.getSnapshot() : EMPTY_SNAPSHOT), [store]);
  return useSyncExternalStore(subscribe, get);
}
