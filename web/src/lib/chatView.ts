// Wording of the chat room that is no markup: the typing line, reply snippets, message times.
import type { ChatMessage } from "../store/messages";

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
