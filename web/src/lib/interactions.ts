/**
 * The feed's interaction logger: impressions, clicks and dwell time, queued and sent in batches to
 * `POST /interactions`.
 *
 * - Every interaction gets a client-made `interaction_id` (a UUID) when it is logged; a batch that
 *   failed is re-sent with the same ids, so the server never counts it twice.
 * - The queue is flushed every 5 s, as soon as 50 are queued, and when the page is hidden
 *   (`visibilitychange`, `pagehide`); one request carries at most 200 items.
 * - A failed flush keeps its items at the front of the queue for the next attempt. Errors the
 *   server will answer the same way again (4xx other than 408/429) drop the batch instead of
 *   retrying it forever.
 * - Dwell: `logClick(item)` opens the item; when the user comes back to the feed, navigates away
 *   from the item's page, or hides the tab, the time it was open is logged as `dwell`.
 *
 * The `InteractionLogger` class is plain TypeScript (timers, clock, path and transport injectable) so
 * it is unit-tested with fake timers; the functions at the bottom use one shared logger that talks
 * to the API.
 */
import { api, type Schema } from "./api";
import { newUuid } from "./uuid";

// Reels (issue 21) are logged as items of their own: how they were played.
export type ItemType = Schema<"InteractionIn">["item_type"] | "reel";
/** How a reel was watched: playback started, a stretch watched (`watch_ms`), played to the end, passed by. */
export type ReelKind = "play" | "watch" | "complete" | "skip";
// What a client may log ("impression", "click", "dwell", and a reel's playback); rsvp, join and attendance are
// recorded by the server from the actions themselves.
export type InteractionKind = Schema<"InteractionIn">["kind"] | ReelKind;

/** What the logger needs of a feed item (a `FeedItem` of `GET /feed` fits). */
export interface ItemRef {
  type: ItemType;
  id: number;
  club_id?: number;
}

export interface Interaction {
  item_type: ItemType;
  item_id: number;
  kind: InteractionKind;
  dwell_ms?: number;
  /** A reel's watched time (watch, complete, skip). */
  watch_ms?: number;
  interaction_id: string;
}

export interface LoggerOptions {
  /** Sends one batch; rejects on failure (an error with a numeric `status` for HTTP errors). */
  send: (batch: Interaction[]) => Promise<unknown>;
  intervalMs?: number;
  /** Flush as soon as this many are queued. */
  flushAt?: number;
  /** At most this many per request (the server accepts up to 200). */
  maxBatch?: number;
  /** Oldest items are dropped beyond this (a long offline spell must not grow without bound). */
  maxQueue?: number;
  newId?: () => string;
  now?: () => number;
  /** The current location path, to notice that the user left an opened item's page. */
  currentPath?: () => string;
  /** How often an opened item's page is checked while it is open. */
  dwellCheckMs?: number;
}

const ITEM_TYPES: readonly string[] = ["event", "club", "room", "reel"];
const WATCH_KINDS: readonly string[] = ["watch", "complete", "skip"];
export const MAX_DWELL_MS = 24 * 3600 * 1000;
/** The longest watch the server takes (an hour: longer is a client bug, not a viewing). */
export const MAX_WATCH_MS = 3600 * 1000;

export const newInteractionId = newUuid;

/** The app path of a feed item (event → its page, club → the club, room → the room in its club). */
export function itemPath(item: ItemRef): string {
  if (item.type === "event") return `/events/${item.id}`;
  if (item.type === "room") return item.club_id != null ? `/clubs/${item.club_id}/rooms/${item.id}` : "/clubs";
  if (item.type === "reel") return item.club_id != null ? `/clubs/${item.club_id}` : "/";
  return `/clubs/${item.id}`;
}

/** A stable key of an item (for "once per item" bookkeeping). */
export function itemKey(item: ItemRef): string {
  return `${item.type}:${item.id}`;
}

function isPermanentFailure(err: unknown): boolean {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === "number" && status >= 400 && status < 500 && status !== 408 && status !== 429;
}

interface OpenItem {
  item: ItemRef;
  path: string;
  openedAt: number;
}

export class InteractionLogger {
  private queue: Interaction[] = [];
  private sending: Promise<void> | null = null;
  private inFlight = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  private dwellTimer: ReturnType<typeof setInterval> | null = null;
  private open: OpenItem | null = null;
  private readonly opts: Required<Omit<LoggerOptions, "currentPath">> & Pick<LoggerOptions, "currentPath">;
  private detach: (() => void) | null = null;

  constructor(options: LoggerOptions) {
    this.opts = {
      intervalMs: 5000,
      flushAt: 50,
      maxBatch: 200,
      maxQueue: 5000,
      newId: newInteractionId,
      now: () => Date.now(),
      dwellCheckMs: 1000,
      ...options,
    };
  }

  /** Items waiting to be sent (a copy). */
  pending(): Interaction[] {
    return this.queue.slice();
  }

  /** Starts the periodic flush (idempotent). */
  start(): void {
    if (this.timer === null) {
      this.timer = setInterval(() => void this.flush(), this.opts.intervalMs);
    }
  }

  /** Flushes on page hide; returns the function that removes the listeners. */
  attachToPage(doc: Document = document, win: Window = window): () => void {
    if (this.detach) return this.detach;
    const onVisibility = () => {
      if (doc.visibilityState === "hidden") this.pageHidden();
    };
    const onPageHide = () => this.pageHidden();
    doc.addEventListener("visibilitychange", onVisibility);
    win.addEventListener("pagehide", onPageHide);
    this.detach = () => {
      doc.removeEventListener("visibilitychange", onVisibility);
      win.removeEventListener("pagehide", onPageHide);
      this.detach = null;
    };
    return this.detach;
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.stopDwellCheck();
    this.detach?.();
  }

  /** The page is going away or into the background: close the opened item and send everything. */
  pageHidden(): void {
    this.closeItem();
    void this.flushAll();
  }

  log(item: ItemRef, kind: InteractionKind, dwellMs?: number): Interaction | null {
    if (!ITEM_TYPES.includes(item.type) || !Number.isInteger(item.id) || item.id < 1) return null;
    const entry: Interaction = {
      item_type: item.type,
      item_id: item.id,
      kind,
      interaction_id: this.opts.newId(),
    };
    if (kind === "dwell") {
      const ms = Number.isFinite(dwellMs) ? Math.round(dwellMs as number) : 1;
      entry.dwell_ms = Math.min(MAX_DWELL_MS, Math.max(1, ms));
    } else if (WATCH_KINDS.includes(kind)) {
      const ms = Number.isFinite(dwellMs) ? Math.round(dwellMs as number) : 0;
      entry.watch_ms = Math.min(MAX_WATCH_MS, Math.max(0, ms));
    }
    this.queue.push(entry);
    if (this.queue.length > this.opts.maxQueue) {
      // Drop the oldest that are not part of a request in flight.
      this.queue.splice(this.inFlight, this.queue.length - this.opts.maxQueue);
    }
    this.start();
    if (this.queue.length >= this.opts.flushAt) void this.flush();
    return entry;
  }

  logImpression(item: ItemRef): Interaction | null {
    return this.log(item, "impression");
  }

  /** A click opens the item: its dwell time runs until the user leaves its page (see `closeItem`). */
  logClick(item: ItemRef): Interaction | null {
    const entry = this.log(item, "click");
    if (entry) this.openItem(item);
    return entry;
  }

  logDwell(item: ItemRef, ms: number): Interaction | null {
    return this.log(item, "dwell", ms);
  }

  /** Starts timing an item's page (a click does this). A previously opened item is closed first. */
  openItem(item: ItemRef, path: string = itemPath(item)): void {
    this.closeItem();
    this.open = { item, path, openedAt: this.opts.now() };
    if (this.opts.currentPath) {
      this.stopDwellCheck();
      this.dwellTimer = setInterval(() => this.checkPath(), this.opts.dwellCheckMs);
    }
  }

  /** Ends the opened item's dwell time (if any) and logs it; returns the logged interaction. */
  closeItem(): Interaction | null {
    const open = this.open;
    this.open = null;
    this.stopDwellCheck();
    if (!open) return null;
    return this.logDwell(open.item, this.opts.now() - open.openedAt);
  }

  private checkPath(): void {
    const open = this.open;
    const getPath = this.opts.currentPath;
    if (!open || !getPath) return;
    const path = getPath();
    if (path !== open.path && !path.startsWith(open.path + "/")) this.closeItem();
  }

  private stopDwellCheck(): void {
    if (this.dwellTimer !== null) clearInterval(this.dwellTimer);
    this.dwellTimer = null;
  }

  /**
   * Sends up to `maxBatch` queued items as one request. Only one request is in flight at a time (a
   * flush during one waits for it). On failure the items stay queued, with their ids, for the next
   * flush. Never rejects.
   */
  flush(): Promise<void> {
    if (this.sending) return this.sending;
    if (this.queue.length === 0) return Promise.resolve();
    const batch = this.queue.slice(0, this.opts.maxBatch);
    this.inFlight = batch.length;
    const finish = (drop: boolean) => {
      if (drop) {
        // Remove exactly the items sent (the queue may have been trimmed meanwhile).
        const ids = new Set(batch.map((i) => i.interaction_id));
        this.queue = this.queue.filter((i) => !ids.has(i.interaction_id));
      }
      this.inFlight = 0;
      this.sending = null;
    };
    // A send that throws at once fails like one that rejects.
    const request = new Promise<unknown>((resolve) => resolve(this.opts.send(batch)));
    this.sending = request.then(
      () => {
        finish(true);
        // More piled up while this one was in flight: do not wait for the timer.
        if (this.queue.length >= this.opts.flushAt) void this.flush();
      },
      (err: unknown) => finish(isPermanentFailure(err)),
    );
    return this.sending;
  }

  /** Flushes until the queue is empty or a flush fails. */
  async flushAll(): Promise<void> {
    let before = Number.POSITIVE_INFINITY;
    while (this.queue.length > 0 && this.queue.length < before) {
      if (this.sending) await this.sending;
      before = this.queue.length;
      await this.flush();
    }
  }
}

// -- the app's logger -------------------------------------------------------------------------------

let shared: InteractionLogger | null = null;

function logger(): InteractionLogger {
  if (shared === null) {
    const browser = typeof window !== "undefined" && typeof document !== "undefined";
    shared = new InteractionLogger({
      send: (batch) => api("POST", "/interactions", batch),
      currentPath: browser ? () => window.location.pathname : undefined,
    });
    if (browser) shared.attachToPage();
  }
  return shared;
}

/** An item became visible on the feed. */
export function logImpression(item: ItemRef): void {
  logger().logImpression(item);
}

/** The user opened an item from the feed; its dwell time is measured from now. */
export function logClick(item: ItemRef): void {
  logger().logClick(item);
}

/** A reel's playback: `play`, or `watch`/`complete`/`skip` with the time watched (ms). */
export function logReel(reelId: number, kind: ReelKind, watchMs?: number): void {
  logger().log({ type: "reel", id: reelId }, kind, watchMs);
}

/** Time spent on an item (ms ≥ 1). */
export function logDwell(item: ItemRef, ms: number): void {
  logger().logDwell(item, ms);
}

/** The user is back on the feed: the item opened from it (if any) is closed and its dwell logged. */
export function closeOpenedItem(): void {
  logger().closeItem();
}

/** Sends what is queued now. */
export function flushInteractions(): Promise<void> {
  return logger().flushAll();
}

// -- the reason on a feed card ------------------------------------------------------------------------

/** What a feed item says about itself (`GET /feed`: the ranker's fields and the facts the gateway adds). */
export interface FeedFacts {
  type: ItemType;
  score: number;
  reason: string;
  club_name?: string;
  starts_at?: string;
  status?: string;
  member?: boolean | null;
  going?: number | null;
  friends_going?: number | null;
  friends_club?: string | null;
  member_count?: number | null;
  friends_members?: number | null;
}

const SOON_MS = 48 * 3600 * 1000;

function people(n: number): string {
  return n === 1 ? "1 person" : `${n} people`;
}

/**
 * Why an item is in the feed, in a member's words. People you know come first ("3 people from Jazz Circle
 * are going"); then the trained ranker's own reason (it names the one feature that lifted the item most,
 * already in words); while no model is trained (`trained` false) the server's reason is the same
 * popularity sentence on every card, so the card's facts are said instead.
 */
export function feedReason(item: FeedFacts, trained: boolean, now: number = Date.now()): string {
  const club = item.club_name ?? "";
  if (item.type === "event" && (item.friends_going ?? 0) > 0 && item.friends_club) {
    const n = item.friends_going ?? 0;
    return `${people(n)} from ${item.friends_club} ${n === 1 ? "is" : "are"} going`;
  }
  if (item.type === "club" && (item.friends_members ?? 0) > 0) {
    const n = item.friends_members ?? 0;
    return `${people(n)} from your clubs ${n === 1 ? "is a member" : "are members"}`;
  }
  if (trained && item.reason) return item.reason;
  const popular = item.score > 0;
  switch (item.type) {
    case "event": {
      if (item.status === "live") return item.member ? `Live now in your club ${club}` : `Live now in ${club}`;
      const starts = item.starts_at ? new Date(item.starts_at).getTime() : NaN;
      const soon = !Number.isNaN(starts) && starts - now <= SOON_MS && starts >= now - 3600 * 1000;
      if (item.member) return soon ? `Coming up soon in your club ${club}` : `Coming up in your club ${club}`;
      if (popular) return "Popular in clubs like yours";
      return soon ? `Coming up soon in ${club}` : `Open to everyone in ${club}`;
    }
    case "club":
      return popular ? "Popular in clubs like yours" : "A new club you might like";
    case "room":
      return popular ? `Active now in your club ${club}` : `A room of your club ${club}`;
    case "reel":
      return item.member ? `New in your club ${club}` : popular ? "Popular in clubs like yours" : `From ${club}`;
    default:
      return item.reason;
  }
}
