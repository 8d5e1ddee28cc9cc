/**
 * Pure helpers of the live session screen: the shape of `live:state` (what `LiveSession.state()` sends),
 * question ordering, poll percentages, a small cache of display names and the summary's wording.
 */

export interface LiveQuestion {
  question_id: number;
  author_id: number;
  text: string;
  votes: number;
  answered: boolean;
}

export interface LivePoll {
  poll_id: number;
  question: string;
  options: string[];
  tallies: number[];
  closed: boolean;
}

export interface LiveState {
  event_id: number;
  room_id: number;
  status: string; // "live" | "ended"
  host_id: number;
  speakers: number[];
  audience_count: number;
  present: number;
  hands: number[]; // in the order raised
  questions: LiveQuestion[];
  polls: LivePoll[];
  pinned: string | null;
}

export interface LiveSummary {
  attendance?: number;
  peak_audience?: number;
  duration_s?: number;
  questions?: { text: string; votes: number; answered: boolean }[];
  polls?: { question: string; options: string[]; tallies: number[] }[];
}

/** Open questions first, by votes (most first), then oldest first; answered ones last in the same order. */
export function sortQuestions(questions: readonly LiveQuestion[]): LiveQuestion[] {
  return questions
    .map((q, index) => ({ q, index }))
    .sort((a, b) => {
      if (a.q.answered !== b.q.answered) return a.q.answered ? 1 : -1;
      if (a.q.votes !== b.q.votes) return b.q.votes - a.q.votes;
      if (a.q.question_id !== b.q.question_id) return a.q.question_id - b.q.question_id;
      return a.index - b.index;
    })
    .map(({ q }) => q);
}

export interface OptionResult {
  index: number;
  option: string;
  votes: number;
  /** Whole percent of all votes (0 when nobody voted). */
  percent: number;
}

/** Integer percentage of `count` in `total`; 0 for an empty total. */
export function percent(count: number, total: number): number {
  if (!(total > 0) || !(count > 0)) return 0;
  return Math.min(100, Math.round((count / total) * 100));
}

/** Per option its vote count and percentage (missing tallies count as 0). */
export function pollResults(poll: Pick<LivePoll, "options" | "tallies">): { total: number; options: OptionResult[] } {
  const counts = poll.options.map((_, i) => {
    const n = poll.tallies?.[i];
    return typeof n === "number" && n > 0 ? n : 0;
  });
  const total = counts.reduce((a, b) => a + b, 0);
  return {
    total,
    options: poll.options.map((option, index) => ({ index, option, votes: counts[index], percent: percent(counts[index], total) })),
  };
}

/** "1 vote" / "N votes". */
export function votesLabel(n: number): string {
  return n === 1 ? "1 vote" : `${n} votes`;
}

/** "N votes (P%)" as shown next to a poll option's result bar. */
export function resultLabel(result: Pick<OptionResult, "votes" | "percent">): string {
  return `${votesLabel(result.votes)} (${result.percent}%)`;
}

/** "1h 05m", "12m 30s", "45s". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds || 0));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m ${String(rest).padStart(2, "0")}s`;
  return `${rest}s`;
}

/** The non-empty, trimmed poll options, or an error sentence when they do not make a poll. */
export function cleanPollOptions(options: readonly string[]): { options: string[]; error?: string } {
  const cleaned = options.map((o) => o.trim()).filter((o) => o.length > 0);
  if (cleaned.length < 2) return { options: cleaned, error: "A poll needs at least two options." };
  if (cleaned.length > 10) return { options: cleaned, error: "A poll holds at most ten options." };
  if (new Set(cleaned).size !== cleaned.length) return { options: cleaned, error: "The options must all be different." };
  return { options: cleaned };
}

/** The viewer's role in a session. */
export function roleOf(state: Pick<LiveState, "host_id" | "speakers">, userId: number | null | undefined): "host" | "speaker" | "audience" {
  if (userId == null) return "audience";
  if (state.host_id === userId) return "host";
  if (state.speakers.includes(userId)) return "speaker";
  return "audience";
}

/**
 * Display names by user id, fetched once each (concurrent requests for one id share one fetch; a
 * failed fetch is retried on the next `load`).
 */
export class NameCache {
  private names = new Map<number, string>();
  private pending = new Map<number, Promise<void>>();

  constructor(private readonly fetchName: (id: number) => Promise<string>) {}

  get(id: number): string | undefined {
    return this.names.get(id);
  }

  set(id: number, name: string): void {
    this.names.set(id, name);
  }

  /** A name to show now: the cached one, else "User <id>". */
  label(id: number): string {
    return this.names.get(id) ?? `User ${id}`;
  }

  /** Fetches the names not known yet; resolves once they are in (failures are ignored). */
  load(ids: Iterable<number>): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const id of new Set(ids)) {
      if (this.names.has(id)) continue;
      let p = this.pending.get(id);
      if (!p) {
        p = this.fetchName(id)
          .then(
            (name) => {
              this.names.set(id, name);
            },
            () => undefined,
          )
          .finally(() => {
            this.pending.delete(id);
          });
        this.pending.set(id, p);
      }
      waits.push(p);
    }
    return Promise.all(waits).then(() => undefined);
  }
}

/** Every user id a state mentions (host, speakers, hands, question authors). */
export function userIdsOf(state: LiveState): number[] {
  const ids = new Set<number>([state.host_id, ...state.speakers, ...state.hands]);
  for (const q of state.questions) ids.add(q.author_id);
  return [...ids];
}
