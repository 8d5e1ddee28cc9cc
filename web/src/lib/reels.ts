// Reels: a club's short videos. Their shape as the feed and `GET /reels/{id}` give them, posting one
// (`POST /clubs/{id}/reels`), and the watch tracker that turns a strip's playback into interactions.
//
// `ReelWatchTracker` is plain TypeScript (clock injectable; `log` is the interaction logger's) so it is
// unit-tested:
// - play: when playback starts (once, and again only after the reel was watched to its end);
// - watch: the time played, when playback stops (a pause, the reel leaving the view, the page hidden);
// - complete: the reel played to its end;
// - skip: the reel left the view within `skipMs` of coming in, without being watched to its end.

import { api } from "./api";
import { attachmentsOf, type Attachment } from "./media";
import type { ReelKind } from "./interactions";

export interface Reel {
  id: number;
  club_id?: number;
  club_name?: string;
  author?: { id: number; display_name: string } | null;
  caption: string;
  created_at?: string;
  media: Attachment;
}

/** The reel a feed item (or a `GET /reels/{id}` answer) carries: its fields at the top or under `reel`;
 * null when it has no playable video (then `GET /reels/{id}` is asked). */
export function reelOf(raw: unknown): Reel | null {
  if (!raw || typeof raw !== "object") return null;
  const item = raw as Record<string, unknown>;
  const src = (item.reel && typeof item.reel === "object" ? item.reel : item) as Record<string, unknown>;
  const id = Number(src.id ?? item.id);
  const [media] = attachmentsOf([src.media ?? item.media]);
  if (!Number.isInteger(id) || id < 1 || !media || media.kind !== "video") return null;
  const author = (src.author ?? item.author) as Reel["author"];
  return {
    id,
    club_id: typeof (src.club_id ?? item.club_id) === "number" ? ((src.club_id ?? item.club_id) as number) : undefined,
    club_name: typeof (src.club_name ?? item.club_name) === "string" ? ((src.club_name ?? item.club_name) as string) : undefined,
    author: author && typeof author === "object" && typeof author.display_name === "string" ? author : null,
    caption: typeof src.caption === "string" ? src.caption : "",
    created_at: typeof src.created_at === "string" ? src.created_at : undefined,
    media,
  };
}

/** `GET /reels/{id}`. */
export async function loadReel(id: number): Promise<Reel | null> {
  return reelOf(await api("GET", `/reels/${id}`));
}

/** `POST /clubs/{id}/reels`: a ready video of the caller, with a caption. */
export async function postReel(clubId: number, mediaId: string, caption: string): Promise<number> {
  const out = await api<{ reel_id: number }>("POST", `/clubs/${clubId}/reels`, { media_id: mediaId, caption });
  return out.reel_id;
}

/** The longest caption (the server's limit). */
export const MAX_CAPTION_CHARS = 500;

export type ReelLog = (reelId: number, kind: ReelKind, watchMs?: number) => void;

interface ReelState {
  /** When it came into view (null: not in view). */
  shownAt: number | null;
  /** When the current stretch of playback began (null: not playing). */
  playingSince: number | null;
  /** Play was logged and the reel not finished since. */
  played: boolean;
  /** Watched to the end during this view. */
  completed: boolean;
  /** Everything played of it on this page (ms). */
  watched: number;
}

export class ReelWatchTracker {
  private reels = new Map<number, ReelState>();
  private readonly log: ReelLog;
  private readonly now: () => number;
  private readonly skipMs: number;
  /** Stretches shorter than this (a play() at once paused) are not worth a watch. */
  private readonly minWatchMs: number;

  constructor(log: ReelLog, options: { now?: () => number; skipMs?: number; minWatchMs?: number } = {}) {
    this.log = log;
    this.now = options.now ?? (() => Date.now());
    this.skipMs = options.skipMs ?? 2000;
    this.minWatchMs = options.minWatchMs ?? 100;
  }

  private state(id: number): ReelState {
    let s = this.reels.get(id);
    if (!s) {
      s = { shownAt: null, playingSince: null, played: false, completed: false, watched: 0 };
      this.reels.set(id, s);
    }
    return s;
  }

  /** The reel came into view. */
  visible(id: number): void {
    const s = this.state(id);
    if (s.shownAt === null) {
      s.shownAt = this.now();
      s.completed = false;
    }
  }

  /** The reel left the view: its stretch of playback ends; passed by quickly, it was skipped. */
  hidden(id: number): void {
    const s = this.state(id);
    const watched = this.stop(id);
    if (s.shownAt !== null && !s.completed && this.now() - s.shownAt < this.skipMs) this.log(id, "skip", watched);
    s.shownAt = null;
  }

  /** Playback started (the video's `playing` event). */
  playing(id: number): void {
    const s = this.state(id);
    if (s.playingSince !== null) return;
    s.playingSince = this.now();
    if (!s.played) {
      s.played = true;
      this.log(id, "play");
    }
  }

  /** Playback stopped (the video's `pause` event): the stretch is logged as watched. */
  paused(id: number): void {
    this.stop(id);
  }

  /** Played to its end (the video's `ended` event). */
  ended(id: number): void {
    const s = this.state(id);
    this.stop(id);
    if (!s.completed) {
      s.completed = true;
      this.log(id, "complete", s.watched);
    }
    s.played = false; // playing it again is another play
  }

  /** The page is hidden or left: every stretch of playback ends. */
  stopAll(): void {
    for (const id of this.reels.keys()) this.stop(id);
  }

  /** Ends the current stretch (logging it as watched); returns its length (0 when it was not playing). */
  private stop(id: number): number {
    const s = this.state(id);
    if (s.playingSince === null) return 0;
    const ms = Math.max(0, this.now() - s.playingSince);
    s.playingSince = null;
    s.watched += ms;
    if (ms >= this.minWatchMs) this.log(id, "watch", ms);
    return ms;
  }
}
