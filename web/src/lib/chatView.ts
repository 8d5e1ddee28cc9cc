// Wording of the chat room that is no markup: the typing line, reply snippets, message times.
import type { ChatMessage, PendingMessage } from "../store/messages";
import { dayKey, dayLabel } from "./dates";

/** The longest message the server takes (characters). */
export const MAX_MESSAGE_CHARS = 4000;

export function timeOf(ts: number): string {
  return new Date(ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** A one-line excerpt of `text`, at most `n` characters (ending with "…" when cut). */
export function snippet(text: string, n = 80): string {
  const t = text.replace(/\s+/g, " ").trim();
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
}

/** What a message shows in a quote or a list: its text, else what it carries ("Photo", "2 attachments"). */
export function messageSnippet(m: { text?: string | null; attachments?: readonly { kind: string }[] | null }, n = 80): string {
  const text = snippet(m.text ?? "", n);
  if (text) return text;
  const media = m.attachments ?? [];
  if (media.length === 0) return "";
  if (media.length > 1) return `${media.length} attachments`;
  return media[0].kind === "video" ? "Video" : "Photo";
}

/** The display name of `userId` as their latest message shows it. */
export function authorName(messages: readonly ChatMessage[], userId: number): string | undefined {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i].author.id === userId) return messages[i].author.display_name;
  return undefined;
}

/** "Ann is typing…", "Ann and Ben are typing…", "Several people are typing…" (empty for nobody). */
export function typingLine(names: readonly string[]): string {
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return "Several people are typing…";
}

// -- the rows of the message log ------------------------------------------------------------------

/** Consecutive messages of one author this close together (ms) share one header. */
export const GROUP_WINDOW_MS = 5 * 60_000;

export type LogRow =
  | { kind: "day"; key: string; label: string }
  | { kind: "unread"; key: "unread" }
  | { kind: "message"; key: string; message: ChatMessage; grouped: boolean }
  | { kind: "pending"; key: string; pending: PendingMessage; grouped: boolean };

interface Item {
  authorId: number;
  ts: number;
  reply: boolean;
}

/** Whether `cur` continues `prev`'s group: same author, same day, within 5 minutes, not a reply. */
export function continuesGroup(prev: Item | null, cur: Item): boolean {
  return (
    prev !== null &&
    !cur.reply &&
    prev.authorId === cur.authorId &&
    cur.ts >= prev.ts &&
    cur.ts - prev.ts <= GROUP_WINDOW_MS &&
    dayKey(prev.ts) === dayKey(cur.ts)
  );
}

/**
 * The log as rows: a day divider before each day's first message, the "New since you left" divider before
 * `firstUnreadSeq`, and each message marked `grouped` when it goes under the previous one's header.
 * Pending messages (one's own, not stored yet) come last, as sent now.
 */
export function logRows(
  messages: readonly ChatMessage[],
  pending: readonly PendingMessage[],
  { now = Date.now(), firstUnreadSeq = null }: { now?: number; firstUnreadSeq?: number | null } = {},
): LogRow[] {
  const rows: LogRow[] = [];
  let prev: Item | null = null;
  let day = "";
  const divide = (ts: number) => {
    const key = dayKey(ts);
    if (key === day) return;
    day = key;
    rows.push({ kind: "day", key: `day-${key}`, label: dayLabel(ts, now) });
    prev = null;
  };
  for (const m of messages) {
    divide(m.ts);
    if (firstUnreadSeq !== null && m.seq === firstUnreadSeq) {
      rows.push({ kind: "unread", key: "unread" });
      prev = null;
    }
    const item = { authorId: m.author.id, ts: m.ts, reply: !!m.reply_to_seq };
    rows.push({ kind: "message", key: `m${m.seq}`, message: m, grouped: continuesGroup(prev, item) });
    prev = item;
  }
  for (const p of pending) {
    const ts = Math.max(p.created_at, prev ? prev.ts : 0);
    divide(ts);
    const item = { authorId: p.author.id, ts, reply: !!p.reply_to_seq };
    rows.push({ kind: "pending", key: `p${p.client_id}`, pending: p, grouped: continuesGroup(prev, item) });
    prev = item;
  }
  return rows;
}

/** The first message after `seenSeq` written by someone else (where "New since you left" goes), or null. */
export function firstUnread(messages: readonly ChatMessage[], seenSeq: number | null, meId: number): number | null {
  if (seenSeq === null) return null;
  for (const m of messages) if (m.seq > seenSeq && m.author.id !== meId) return m.seq;
  return null;
}
