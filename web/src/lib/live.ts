/**
 * Pure helpers of the live session screen: the shape of the state the `live:join` ack carries (what
 * `LiveSession.state()` sends), the `live:update` reducer that applies the deltas after it, question
 * ordering, poll percentages, a small cache of display names and the summary's wording.
 */

export interface LiveQuestion {
  question_id: number;
  /** null for an anonymous question: nobody is told who asked, the host neither. */
  author_id: number | null;
  text: string;
  votes: number;
  answered: boolean;
  anonymous?: boolean;
}

/** A question awaiting the host's approval (`live:pending`, the `pending` of a `live:join` ack): the host
 * gets every one, a member its own (`mine`). */
export interface LivePendingQuestion extends LiveQuestion {
  mine: boolean;
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
  /** Moderated Q&A: a new question waits for the host's approval before anyone else sees it. */
  moderated: boolean;
  /** Questions awaiting approval (their text reaches only the host and their authors). */
  pending_count: number;
  /** Raised by one with every change; `live:update`s apply on the version they name. */
  version: number;
}

// A type, not an interface: it refines the open object the OpenAPI document gives a summary.
export type LiveSummary = {
  attendance?: number;
  peak_audience?: number;
  duration_s?: number;
  questions?: { text: string; votes: number; answered: boolean }[];
  polls?: { question: string; options: string[]; tallies: number[] }[];
};

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

  /** Every name known now (a copy). */
  known(): ReadonlyMap<number, string> {
    return new Map(this.names);
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
  for (const q of state.questions) if (q.author_id != null) ids.add(q.author_id);
  return [...ids];
}

// -- live:update ---------------------------------------------------------------------------------------

/** The text limits the server enforces on `live:ask` (contract: "Live sessions"). */
export const MAX_QUESTION_CHARS = 500;
export const MAX_OPEN_QUESTIONS_PER_MEMBER = 5;
export const MAX_QUESTIONS_PER_SESSION = 200;

/** One change of a `live:update`; each raises the session's version by one. */
export type LiveChange =
  | { kind: "presence"; user_id: number; online: boolean; present: number; audience_count: number }
  | { kind: "hand"; user_id: number; raised: boolean }
  | { kind: "role"; user_id: number; role: "speaker" | "audience" }
  | { kind: "question"; question: LiveQuestion }
  | { kind: "poll"; poll: LivePoll }
  | { kind: "pin"; pinned: string | null }
  | { kind: "status"; status: string }
  // A question entered or left the review queue; no text, no author (everyone gets this one).
  | { kind: "pending"; question_id: number; status: "new" | "approved" | "dismissed"; count: number }
  | { kind: "moderation"; moderated: boolean };

export interface LiveUpdate {
  event_id: number;
  /** The version after the last change. */
  version: number;
  changes: LiveChange[];
}

/** What `applyLiveUpdate` did: `applied` (the state moved on), `stale` (nothing new: every change is
 * already in), `gap` (changes are missing in between: join again and replace the state), `other` (not
 * this session's update, or not an update at all). */
export type UpdateOutcome = "applied" | "stale" | "gap" | "other";

/** The server's order of questions: most votes first, then the oldest (lowest id). */
function byVotes(a: LiveQuestion, b: LiveQuestion): number {
  return b.votes - a.votes || a.question_id - b.question_id;
}

function without(ids: readonly number[], id: number): number[] {
  return ids.includes(id) ? ids.filter((x) => x !== id) : (ids as number[]);
}

function upsert<T>(list: readonly T[], item: T, same: (x: T) => boolean): T[] {
  const i = list.findIndex(same);
  if (i < 0) return [...list, item];
  const next = [...list];
  next[i] = item;
  return next;
}

/** One change applied to a state (the version is left alone; unknown kinds change nothing). */
export function applyChange(state: LiveState, change: LiveChange): LiveState {
  switch (change.kind) {
    case "presence":
      return {
        ...state,
        present: change.present,
        audience_count: change.audience_count,
        hands: change.online ? state.hands : without(state.hands, change.user_id),
      };
    case "hand": {
      const hands = without(state.hands, change.user_id);
      return { ...state, hands: change.raised ? [...hands, change.user_id] : hands };
    }
    case "role": {
      const speakers = without(state.speakers, change.user_id);
      if (change.role === "speaker") {
        return { ...state, speakers: [...speakers, change.user_id], hands: without(state.hands, change.user_id) };
      }
      return { ...state, speakers };
    }
    case "question": {
      const q = change.question;
      const questions = upsert(state.questions, q, (x) => x.question_id === q.question_id).sort(byVotes);
      return { ...state, questions };
    }
    case "poll": {
      const p = change.poll;
      return { ...state, polls: upsert(state.polls, p, (x) => x.poll_id === p.poll_id) };
    }
    case "pin":
      return { ...state, pinned: change.pinned ?? null };
    case "status":
      return { ...state, status: change.status };
    case "pending":
      return { ...state, pending_count: change.count };
    case "moderation":
      return { ...state, moderated: change.moderated };
    default:
      return state;
  }
}

/**
 * What a `live:update` says about the review queue: whether a question joined it (`fresh`: the host asks
 * `live:pending` for its text) and which left it (`resolved`: approved or dismissed; drop them from the
 * list shown). Unlike the state, the queue's texts come by request, so this reads every update, applied
 * or not: a resolved id is final (ids are never reused).
 */
export function pendingNews(update: unknown, eventId: number): { fresh: boolean; resolved: number[] } {
  const out = { fresh: false, resolved: [] as number[] };
  if (!isUpdate(update) || update.event_id !== eventId) return out;
  for (const c of update.changes) {
    if (c?.kind !== "pending") continue;
    if (c.status === "new") out.fresh = true;
    else out.resolved.push(c.question_id);
  }
  return out;
}

function isUpdate(u: unknown): u is LiveUpdate {
  const x = u as LiveUpdate | null;
  return !!x && typeof x.event_id === "number" && Number.isInteger(x.version) && Array.isArray(x.changes);
}

/**
 * A `live:update` applied to `state`. It applies on version `update.version - changes.length`: when that
 * is the state's version all changes apply; when the state already holds the first few (an update that
 * raced the join ack) only the rest apply; when it is beyond the state's version some changes were missed
 * and the outcome is `gap` (the state is returned unchanged).
 */
export function applyLiveUpdate(state: LiveState, update: unknown): { state: LiveState; outcome: UpdateOutcome } {
  if (!isUpdate(update) || update.event_id !== state.event_id) return { state, outcome: "other" };
  const base = update.version - update.changes.length;
  if (update.version <= state.version) return { state, outcome: "stale" };
  if (base > state.version) return { state, outcome: "gap" };
  let next = state;
  for (const change of update.changes.slice(state.version - base)) next = applyChange(next, change);
  return { state: { ...next, version: update.version }, outcome: "applied" };
}

/** A join ack's state with its questions in the server's order (votes desc, then id). */
export function fromJoin(state: LiveState): LiveState {
  return {
    ...state,
    version: state.version ?? 0,
    moderated: state.moderated ?? false,
    pending_count: state.pending_count ?? 0,
    questions: [...state.questions].sort(byVotes),
  };
}

/**
 * The state of one session as the socket delivers it: the `live:join` ack, then `live:update`s. Updates
 * that arrive while a join is under way are kept and applied on its state (the ack and a broadcast may
 * cross on the wire). `onGap` is told to join again; the next `joined` replaces the state.
 */
export class LiveSync {
  state: LiveState | null = null;
  private joining = false;
  private early: unknown[] = [];

  constructor(private readonly onGap: () => void) {}

  /** A `live:join` was sent: hold the updates until its ack. */
  joinSent(): void {
    this.joining = true;
    this.early = [];
  }

  /** The join failed: nothing to apply the held updates on. */
  joinFailed(): void {
    this.joining = false;
    this.early = [];
  }

  /** The ack of `live:join`: its state replaces ours, then the updates held meanwhile apply. */
  joined(state: LiveState): LiveState {
    this.joining = false;
    let next = fromJoin(state);
    const early = this.early;
    this.early = [];
    for (const u of early) {
      const r = applyLiveUpdate(next, u);
      if (r.outcome === "gap") {
        this.state = next;
        this.onGap();
        return next;
      }
      next = r.state;
    }
    this.state = next;
    return next;
  }

  /** A `live:update`: the new state, or null when it changed nothing on screen (held, stale, a gap). */
  update(update: unknown): LiveState | null {
    if (this.joining || !this.state) {
      if (this.joining) this.early.push(update);
      return null;
    }
    const r = applyLiveUpdate(this.state, update);
    if (r.outcome === "gap") {
      this.onGap();
      return null;
    }
    if (r.outcome !== "applied") return null;
    this.state = r.state;
    return r.state;
  }

  /** The state set on this side (the host's own end of the session). */
  set(state: LiveState | null): void {
    this.state = state;
  }
}

/**
 * The member's own unanswered questions, as the server counts them against its limit: those shown with
 * its id, its anonymous ones (known by the ids it asked, `asked`) and its own awaiting approval.
 */
export function openQuestionsOf(
  state: Pick<LiveState, "questions">,
  userId: number | null | undefined,
  asked: ReadonlySet<number> = new Set(),
  pending: readonly LivePendingQuestion[] = [],
): number {
  if (userId == null) return 0;
  const shown = state.questions.filter((q) => !q.answered && (q.author_id === userId || asked.has(q.question_id)));
  return shown.length + pending.filter((q) => q.mine).length;
}

/** Characters as the server counts them (code points, not UTF-16 units). */
export function charCount(text: string): number {
  return [...text].length;
}
