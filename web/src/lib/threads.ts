// Threads, pins and blocked authors as the chat view sees them (pure, tested in threads.test.ts).
//
// A thread reply is a message of the room like any other (same seq sequence, so the store stays gapless),
// with `thread_root_seq` set: it is shown in the thread panel only, and its root shows "N replies".
import type { ChatMessage, PendingMessage } from "../store/messages";

/** Whether a message (or a queued one) belongs in the room's log: thread replies do not. */
export function inMainLog(m: Pick<ChatMessage, "thread_root_seq">): boolean {
  return !m.thread_root_seq;
}

/** The room's log without the thread replies (the same arrays when there is none, so memoised rows hold). */
export function mainLog<T extends Pick<ChatMessage, "thread_root_seq">>(list: readonly T[]): readonly T[] {
  return list.some((m) => !inMainLog(m)) ? list.filter(inMainLog) : list;
}

/** The replies of thread `rootSeq`: those fetched (`GET /rooms/{id}/threads/{root}`) and those the room's
 * store holds (live), one per seq (the newer `rev` wins), in seq order. */
export function threadReplies(
  rootSeq: number,
  fetched: readonly ChatMessage[],
  held: readonly ChatMessage[],
): ChatMessage[] {
  const bySeq = new Map<number, ChatMessage>();
  for (const m of [...fetched, ...held]) {
    if (m.thread_root_seq !== rootSeq || m.seq === rootSeq) continue;
    const prev = bySeq.get(m.seq);
    if (!prev || (m.rev ?? 0) >= (prev.rev ?? 0)) bySeq.set(m.seq, m);
  }
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

/** One's own replies to thread `rootSeq` not stored yet. */
export function pendingReplies(rootSeq: number, pending: readonly PendingMessage[]): PendingMessage[] {
  return pending.filter((p) => p.thread_root_seq === rootSeq);
}

/** How many replies a root has: the server's count, or more when more have arrived since. */
export function replyCount(root: Pick<ChatMessage, "seq" | "thread">, held: readonly ChatMessage[]): number {
  const server = root.thread?.reply_count ?? 0;
  let live = 0;
  for (const m of held) if (m.thread_root_seq === root.seq && !m.deleted) live += 1;
  return Math.max(server, live);
}

/** "1 reply", "N replies". */
export function repliesLabel(n: number): string {
  return n === 1 ? "1 reply" : `${n} replies`;
}

/** The seqs pinned in a room: from the last `room:pins` when there was one, else from the messages'
 * `pinned` marks. */
export function pinnedSeqs(pins: readonly number[] | null, messages: readonly ChatMessage[]): ReadonlySet<number> {
  if (pins) return new Set(pins);
  return new Set(messages.filter((m) => m.pinned && !m.deleted).map((m) => m.seq));
}

/** Whether a message is shown collapsed. The reader's block list once it is known (a block or an unblock
 * made after the message arrived counts: a held message is not sent again), else the server's
 * `author_blocked` mark. */
export function isFromBlocked(
  m: Pick<ChatMessage, "author" | "author_blocked">,
  blocked: ReadonlySet<number> | null,
): boolean {
  if (blocked) return blocked.has(m.author?.id);
  return m.author_blocked === true;
}

/** Replies per thread root among `messages` (the roots' own counts or the replies held, whichever is more). */
export function replyCounts(messages: readonly ChatMessage[]): Map<number, number> {
  const live = new Map<number, number>();
  for (const m of messages) {
    if (m.thread_root_seq && !m.deleted) live.set(m.thread_root_seq, (live.get(m.thread_root_seq) ?? 0) + 1);
  }
  const out = new Map<number, number>();
  for (const m of messages) {
    const n = Math.max(m.thread?.reply_count ?? 0, live.get(m.seq) ?? 0);
    if (n > 0) out.set(m.seq, n);
  }
  return out;
}
