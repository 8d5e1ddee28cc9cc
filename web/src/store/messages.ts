// The message store of one chat room: plain TypeScript (no React), unit-tested in messages.test.ts.
//
// - Messages are kept in `seq` order, one per `seq` (a newer `rev` of the same seq replaces the older).
// - `lastSeq` is the highest seq up to which the store holds every message of its window (from
//   `windowStart`); a live message past `lastSeq + 1` reveals a gap, reported for a history fetch.
// - Messages typed by this user go through a queue: each gets a `client_id` at once and is sent in order
//   when the room is joined; a network failure leaves it queued and it is sent again later with the SAME
//   `client_id` (the server answers a re-sent client_id with the first ack and stores it once). A message
//   is never in flight twice, and its ack replaces the queued entry with the stored message.

import type { Attachment } from "../lib/media";
import { newUuid } from "../lib/uuid";

export interface Author {
  id: number;
  display_name: string;
}

export interface ChatMessage {
  room_id: number;
  seq: number;
  rev: number;
  message_id: string;
  author: Author;
  text: string;
  ts: number;
  reply_to_seq?: number | null;
  edited_at?: number | null;
  deleted?: boolean;
  /** emoji -> ids of the users who reacted with it */
  reactions: Record<string, number[]>;
  /** The users the message mentions, as the server resolved them at send time (absent on older messages). */
  mentions?: number[];
  /** An `@everyone` by a moderator. */
  mentions_everyone?: boolean;
  /** A reply in the thread of that message of the room (shown in the thread panel, not in the log). */
  thread_root_seq?: number | null;
  /** On a thread's root: how many replies it has and when the last came. */
  thread?: { reply_count: number; last_reply_ts?: number | null } | null;
  /** Set while the message is pinned in its room. */
  pinned?: { by?: number | Author | null; at?: number | string | null } | null;
  /** The author is someone the reader blocked (the message is shown collapsed). */
  author_blocked?: boolean;
  /** Its images and videos (none on a deleted message). */
  attachments?: Attachment[];
}

/** Whether `m` mentions the user `meId`: the server's `mentions` when it has them, else "@name" in the text
 * (`mentionsName`, for messages stored before the server resolved mentions). */
export function mentionsUser(
  m: Pick<ChatMessage, "mentions" | "mentions_everyone" | "author">,
  meId: number,
  mentionsName: () => boolean,
): boolean {
  if (m.author?.id === meId) return false;
  if (m.mentions_everyone) return true;
  if (Array.isArray(m.mentions)) return m.mentions.includes(meId);
  return mentionsName();
}

/** The ack of `message:send`. */
export interface SendAck {
  seq: number;
  rev: number;
  message_id: string;
  ts: number;
}

/** The ack of `room:join`. */
export interface JoinAck {
  room_id: number;
  club_id?: number;
  last_seq: number;
  rev: number;
  online: number[];
  missed: ChatMessage[];
  updated: ChatMessage[];
  truncated: boolean;
}

export type PendingStatus = "pending" | "sending" | "failed";

export interface PendingMessage {
  client_id: string;
  room_id: number;
  text: string;
  reply_to_seq?: number;
  /** A reply in that message's thread. */
  thread_root_seq?: number;
  /** Ready media sent with it (their ids go to the server). */
  attachments?: Attachment[];
  author: Author;
  created_at: number;
  status: PendingStatus;
  /** Why the server refused it (status "failed"). */
  error?: unknown;
}

/** Seqs `afterSeq + 1 … beforeSeq - 1` are missing. */
export interface Gap {
  afterSeq: number;
  beforeSeq: number;
}

export interface StoreSnapshot {
  roomId: number;
  messages: readonly ChatMessage[];
  pending: readonly PendingMessage[];
  hasOlder: boolean;
  lastSeq: number;
  rev: number;
  joinedOnce: boolean;
}

export type SendFn = (message: PendingMessage) => Promise<SendAck>;

/** The longest rate-limit wait the queue sits out by itself; a longer one (slow mode) fails the message. */
export const MAX_AUTO_WAIT_S = 60;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The wait a `rate_limited` refusal asks for, in seconds (null for any other error). */
export function rateLimitWait(err: unknown): number | null {
  const e = err as { code?: unknown; retryAfter?: unknown } | null;
  if (!e || typeof e !== "object" || e.code !== "rate_limited") return null;
  return typeof e.retryAfter === "number" && e.retryAfter >= 0 ? e.retryAfter : 1;
}

/** Errors after which the same message is worth sending again later (same client_id): the server may
 * not have seen it, or may have stored it and the ack was lost. Everything else is a refusal. */
export function isRetryable(err: unknown): boolean {
  const e = err as { status?: unknown; code?: unknown } | null;
  if (!e || typeof e !== "object") return true;
  if (e.status === 0) return true;
  return e.code === "unavailable" || e.code === "internal" || e.code === "network" || e.code === "timeout"
    || e.code === "offline" || e.code === "unauthorized";
}

export const newClientId = newUuid;

/** Whether a queued message and a stored one carry the same media (by id, in order). */
function sameAttachments(a: readonly Attachment[] | undefined, b: readonly Attachment[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((att, i) => att.id === y[i]?.id);
}

export class MessageStore {
  readonly roomId: number;
  private bySeq = new Map<number, ChatMessage>();
  private sorted: ChatMessage[] | null = [];
  private queue: PendingMessage[] = [];
  /** client_id -> seq, for acks already applied (a second ack of the same send changes nothing). */
  private acked = new Map<string, number>();
  private listeners = new Set<() => void>();
  private snapshot: StoreSnapshot | null = null;
  private flushing: Promise<void> | null = null;

  /** Every message from `windowStart` to `lastSeq` is held. */
  lastSeq = 0;
  /** The oldest seq of the window (older messages come from "Load older messages"). */
  windowStart = 1;
  /** The room's revision as far as this store has seen it (for `since_rev`). */
  rev = 0;
  /** Whether older messages than the window exist. */
  hasOlder = false;
  /** A join ack has been applied (so a rejoin sends since_seq/since_rev). */
  joinedOnce = false;

  constructor(roomId: number) {
    this.roomId = roomId;
  }

  // -- reading ------------------------------------------------------------------------------------

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  getSnapshot(): StoreSnapshot {
    if (!this.snapshot) {
      this.snapshot = {
        roomId: this.roomId,
        messages: this.messages(),
        pending: this.queue.slice(),
        hasOlder: this.hasOlder,
        lastSeq: this.lastSeq,
        rev: this.rev,
        joinedOnce: this.joinedOnce,
      };
    }
    return this.snapshot;
  }

  /** The messages in seq order. */
  messages(): ChatMessage[] {
    if (!this.sorted) this.sorted = [...this.bySeq.values()].sort((a, b) => a.seq - b.seq);
    return this.sorted;
  }

  get(seq: number): ChatMessage | undefined {
    return this.bySeq.get(seq);
  }

  get pending(): readonly PendingMessage[] {
    return this.queue;
  }

  /** The highest seq held (may be past `lastSeq` while a gap is open). */
  get maxSeq(): number {
    let max = 0;
    for (const seq of this.bySeq.keys()) if (seq > max) max = seq;
    return max;
  }

  /** The oldest seq held, or null when empty. */
  get oldestSeq(): number | null {
    const list = this.messages();
    return list.length ? list[0].seq : null;
  }

  /** `room:join` arguments after the first join: what the server should replay. */
  sinceParams(): { since_seq?: number; since_rev?: number } {
    return this.joinedOnce ? { since_seq: this.lastSeq, since_rev: this.rev } : {};
  }

  /** The first open gap of the window, if any. */
  gap(): Gap | null {
    let next: number | null = null;
    for (const seq of this.bySeq.keys()) if (seq > this.lastSeq && (next === null || seq < next)) next = seq;
    return next !== null && next > this.lastSeq + 1 ? { afterSeq: this.lastSeq, beforeSeq: next } : null;
  }

  // -- changes ------------------------------------------------------------------------------------

  private changed(): void {
    this.sorted = null;
    this.snapshot = null;
    for (const l of this.listeners) l();
  }

  /** Stores `m` unless a copy at least as new is held. */
  private put(m: ChatMessage): boolean {
    if (m.room_id !== undefined && m.room_id !== this.roomId) return false;
    if (m.rev > this.rev) this.rev = m.rev;
    const held = this.bySeq.get(m.seq);
    if (held && held.rev >= m.rev) return false;
    this.bySeq.set(m.seq, m);
    if (m.seq < this.windowStart) this.windowStart = m.seq;
    return true;
  }

  /** Moves `lastSeq` over every seq now held right after it. */
  private advance(): void {
    while (this.bySeq.has(this.lastSeq + 1)) this.lastSeq += 1;
  }

  /** A live `message`. Returns the gap it reveals, if any. */
  receive(m: ChatMessage): Gap | null {
    return this.receiveMany([m]);
  }

  /** A `message:batch`: exactly as that many `message` events. */
  applyBatch(messages: readonly ChatMessage[]): Gap | null {
    return this.receiveMany(messages);
  }

  private receiveMany(list: readonly ChatMessage[]): Gap | null {
    let any = false;
    for (const m of list) {
      if (m.room_id !== this.roomId) continue;
      if (this.put(m)) {
        any = true;
        // One's own message may be broadcast before the ack of its send arrives: it takes the queued
        // entry's place in this same update, so "Sending…" and the stored copy are never shown together
        // (the ack then finds nothing left to do).
        this.claim(m);
      }
    }
    const before = this.lastSeq;
    this.advance();
    if (any || this.lastSeq !== before) this.changed();
    return this.gap();
  }

  /** A `message:updated`: applied only when its rev is newer than the held copy's. Messages outside the
   * window (older than the oldest held) are ignored: they are fetched whole when needed. */
  applyUpdate(m: ChatMessage): boolean {
    if (m.room_id !== this.roomId) return false;
    const held = this.bySeq.get(m.seq);
    if (!held) {
      if (m.rev > this.rev) this.rev = m.rev;
      if (m.seq < this.windowStart || m.seq > this.maxSeq) return false;
    }
    if (!this.put(m)) return false;
    this.advance();
    this.changed();
    return true;
  }

  /** Drops the queued entry `m` is the stored copy of: the first one not failed with the same author,
   * text and reply (a broadcast carries no client_id; only one send is in flight at a time). */
  private claim(m: ChatMessage): void {
    if (this.queue.length === 0) return;
    const i = this.queue.findIndex(
      (p) =>
        p.status !== "failed" &&
        p.author.id === m.author.id &&
        p.text === m.text &&
        (p.reply_to_seq ?? null) === (m.reply_to_seq ?? null) &&
        (p.thread_root_seq ?? null) === (m.thread_root_seq ?? null) &&
        sameAttachments(p.attachments, m.attachments),
    );
    if (i < 0) return;
    this.acked.set(this.queue[i].client_id, m.seq);
    this.queue.splice(i, 1);
  }

  /** The ack of `room:join`: the first join sets the window at the room's end (the latest page is then
   * fetched with `prependHistory`); a rejoin applies `missed` and `updated`. Returns a gap left open. */
  applyJoin(ack: JoinAck): Gap | null {
    const first = !this.joinedOnce;
    if (ack.truncated && ack.missed.length) {
      // More was missed than the server replays: the window restarts at what it sent.
      this.bySeq.clear();
      this.windowStart = ack.missed[0].seq;
      this.lastSeq = this.windowStart - 1;
      this.hasOlder = this.windowStart > 1;
    } else if (first && this.bySeq.size === 0) {
      this.lastSeq = ack.last_seq;
      this.windowStart = ack.last_seq + 1;
      this.hasOlder = ack.last_seq > 0;
    }
    for (const m of ack.missed) this.put(m);
    for (const m of ack.updated) {
      const held = this.bySeq.get(m.seq);
      if (held || (m.seq >= this.windowStart && m.seq <= ack.last_seq)) this.put(m);
    }
    this.advance();
    if (ack.rev > this.rev) this.rev = ack.rev;
    this.joinedOnce = true;
    this.changed();
    if (this.lastSeq < ack.last_seq) {
      const after = this.gap();
      return after ?? { afterSeq: this.lastSeq, beforeSeq: ack.last_seq + 1 };
    }
    return this.gap();
  }

  /** A page of older messages (ascending seq), e.g. `message:history {before_seq: oldest}`. */
  prependHistory(messages: readonly ChatMessage[]): void {
    let oldest = Infinity;
    for (const m of messages) {
      if (m.room_id !== this.roomId) continue;
      this.put(m);
      if (m.seq < oldest) oldest = m.seq;
    }
    if (oldest !== Infinity && oldest < this.windowStart) this.windowStart = oldest;
    if (messages.length === 0) this.hasOlder = false;
    else this.hasOlder = this.windowStart > 1;
    // The first page after the first join may end past the join's last_seq, or fill the window's start.
    if (this.windowStart <= this.lastSeq + 1 || this.lastSeq === 0) {
      if (this.lastSeq < this.windowStart - 1) this.lastSeq = this.windowStart - 1;
      this.advance();
    }
    this.changed();
  }

  /** Messages fetched to close a gap (`GET /rooms/{id}/messages?after_seq=`). Returns the gap still open. */
  fillGap(messages: readonly ChatMessage[]): Gap | null {
    return this.receiveMany(messages);
  }

  // -- the send queue -------------------------------------------------------------------------------

  /** Queues a message typed by `author`: shown at once as pending, sent by `flush`. */
  enqueue(
    text: string,
    author: Author,
    replyToSeq?: number | null,
    clientId: string = newClientId(),
    threadRootSeq?: number | null,
    attachments?: readonly Attachment[],
  ): PendingMessage {
    const p: PendingMessage = {
      client_id: clientId,
      room_id: this.roomId,
      text,
      author,
      created_at: Date.now(),
      status: "pending",
      ...(replyToSeq ? { reply_to_seq: replyToSeq } : {}),
      ...(threadRootSeq ? { thread_root_seq: threadRootSeq } : {}),
      ...(attachments && attachments.length ? { attachments: [...attachments] } : {}),
    };
    this.queue.push(p);
    this.changed();
    return p;
  }

  private setPending(clientId: string, patch: Partial<PendingMessage>): void {
    const i = this.queue.findIndex((p) => p.client_id === clientId);
    if (i < 0) return;
    this.queue[i] = { ...this.queue[i], ...patch };
    this.changed();
  }

  /** The ack of a send: the queued entry gives way to the stored message (kept as is if the broadcast
   * already brought it). A repeated ack of the same client_id changes nothing. */
  ack(clientId: string, ack: SendAck): void {
    const i = this.queue.findIndex((p) => p.client_id === clientId);
    if (i < 0) return;
    const p = this.queue[i];
    this.queue.splice(i, 1);
    this.acked.set(clientId, ack.seq);
    if (!this.bySeq.has(ack.seq)) {
      this.put({
        room_id: this.roomId,
        seq: ack.seq,
        rev: ack.rev,
        message_id: ack.message_id,
        author: p.author,
        text: p.text,
        ts: ack.ts,
        reactions: {},
        ...(p.reply_to_seq ? { reply_to_seq: p.reply_to_seq } : {}),
        ...(p.thread_root_seq ? { thread_root_seq: p.thread_root_seq } : {}),
        ...(p.attachments?.length ? { attachments: p.attachments } : {}),
      });
      this.advance();
    }
    this.changed();
  }

  /** The seq the server gave a sent client_id, if its ack was applied. */
  seqOf(clientId: string): number | undefined {
    return this.acked.get(clientId);
  }

  /** Sends every queued message in order, one at a time, each at most once at a time. A retryable failure
   * (network, timeout, offline) stops the flush and leaves the message queued for the next one, with its
   * client_id; a refusal marks it failed and the flush goes on. Concurrent calls share one flush. */
  flush(send: SendFn, sleep: (ms: number) => Promise<void> = defaultSleep): Promise<void> {
    if (this.flushing) return this.flushing;
    const run = async () => {
      for (;;) {
        const next = this.queue.find((p) => p.status === "pending");
        if (!next) return;
        this.setPending(next.client_id, { status: "sending", error: undefined });
        let ack: SendAck | null = null;
        for (let attempt = 0; ack === null; attempt++) {
          try {
            ack = await send(next);
          } catch (err) {
            // Over the send rate (a long queue sent at once): wait as told and send it again.
            const wait = rateLimitWait(err);
            if (wait !== null && wait <= MAX_AUTO_WAIT_S && attempt < 20) {
              await sleep(Math.max(100, wait * 1000));
              if (!this.queue.some((p) => p.client_id === next.client_id)) break; // discarded meanwhile
              continue;
            }
            if (isRetryable(err)) {
              this.setPending(next.client_id, { status: "pending" });
              return;
            }
            this.setPending(next.client_id, { status: "failed", error: err });
            break;
          }
        }
        if (ack) this.ack(next.client_id, ack);
      }
    };
    this.flushing = run().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  /** Whether a flush is running. */
  get isFlushing(): boolean {
    return this.flushing !== null;
  }

  /** A failed message goes back in the queue (same client_id). */
  retry(clientId: string): void {
    this.setPending(clientId, { status: "pending", error: undefined });
  }

  /** Drops a queued message that was not sent (a failed one). */
  discard(clientId: string): void {
    const i = this.queue.findIndex((p) => p.client_id === clientId && p.status !== "sending");
    if (i < 0) return;
    this.queue.splice(i, 1);
    this.changed();
  }
}
