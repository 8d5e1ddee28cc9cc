// Dates of the chat log in the reader's words: "Today", "Yesterday", "Monday, March 2", and message times
// that carry their date once it is not today (a weeks-old "12:45 AM" must not read like today's).

/** The local calendar day of `ts` as a key ("2026-3-2"): two times on the same day have the same key. */
export function dayKey(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

function startOfDay(ts: number): number {
  const d = new Date(ts);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** Whole calendar days from `ts` to `now` (0 today, 1 yesterday); DST days count as one. */
export function daysAgo(ts: number, now: number): number {
  return Math.round((startOfDay(now) - startOfDay(ts)) / 86_400_000);
}

/** The label of the day divider above the first message of a day. */
export function dayLabel(ts: number, now: number = Date.now()): string {
  const ago = daysAgo(ts, now);
  if (ago === 0) return "Today";
  if (ago === 1) return "Yesterday";
  const sameYear = new Date(ts).getFullYear() === new Date(now).getFullYear();
  return new Date(ts).toLocaleDateString([], {
    weekday: "long",
    month: "long",
    day: "numeric",
    ...(sameYear ? {} : { year: "numeric" }),
  });
}

/** A message's time: "14:05" today, "Yesterday 14:05", "Mar 2, 14:05" (with the year when not this one). */
export function messageTime(ts: number, now: number = Date.now()): string {
  const time = new Date(ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const ago = daysAgo(ts, now);
  if (ago === 0) return time;
  if (ago === 1) return `Yesterday ${time}`;
  const sameYear = new Date(ts).getFullYear() === new Date(now).getFullYear();
  const date = new Date(ts).toLocaleDateString([], { month: "short", day: "numeric", ...(sameYear ? {} : { year: "numeric" }) });
  return `${date}, ${time}`;
}

/** The full date and time, for a tooltip. */
export function fullTime(ts: number): string {
  return new Date(ts).toLocaleString([], { dateStyle: "full", timeStyle: "short" });
}
