// Message search (`GET /search/messages?q=&club_id=&room_id=&limit=&cursor=` → `{items, next_cursor}`,
// best match first, only rooms the reader may read now). A result's `highlight` is the matching excerpt
// with the matched words between markers; it is turned into plain segments (`highlightSegments`, tested)
// and drawn as text with <mark>: nothing of it is ever put into the page as HTML.
import { api, query } from "./api";
import type { Author } from "../store/messages";

export interface SearchHit {
  room_id: number;
  seq: number;
  author: Author;
  text: string;
  ts: number;
  highlight?: unknown;
  /** Where the room is, when the server says (a club's room or a DM). */
  club_id?: number | null;
  room_name?: string | null;
  /** The message's media, when it has some. */
  attachments?: { kind: string }[] | null;
}

export interface SearchPage {
  items: SearchHit[];
  next_cursor: string | null;
}

export interface Segment {
  text: string;
  match: boolean;
}

export const SEARCH_PAGE = 20;
/** The shortest query sent (one character matches too much to be useful). */
export const MIN_QUERY = 2;

/** Pairs of markers a highlight may use around a match. The server's is `<mark>`…`</mark>` in HTML-escaped
 * text (storage/search.py `highlight`): the segments are unescaped into plain text. */
const MARKERS: readonly [string, string, boolean][] = [
  ["<mark>", "</mark>", true],
  ["<b>", "</b>", true],
  ["[[", "]]", false],
  ["\u0002", "\u0003", false],
];

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** The text of HTML-escaped text (the named entities above and numeric ones); anything else stays as is. */
export function unescapeHtml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, code: string) => {
    if (code[0] === "#") {
      const n = code[1] === "x" || code[1] === "X" ? parseInt(code.slice(2), 16) : parseInt(code.slice(1), 10);
      return Number.isFinite(n) && n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : whole;
    }
    return ENTITIES[code.toLowerCase()] ?? whole;
  });
}

function fromRanges(text: string, ranges: readonly [number, number][]): Segment[] {
  const sorted = ranges
    .map(([a, b]) => [Math.max(0, Math.min(a, text.length)), Math.max(0, Math.min(b, text.length))] as [number, number])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  const out: Segment[] = [];
  let at = 0;
  for (const [a, b] of sorted) {
    if (a < at) continue; // overlapping: the first wins
    if (a > at) out.push({ text: text.slice(at, a), match: false });
    out.push({ text: text.slice(a, b), match: true });
    at = b;
  }
  if (at < text.length) out.push({ text: text.slice(at), match: false });
  return out;
}

/** A highlight as text segments, matched or not. A string with markers (`<mark>`/`<b>` pairs, `[[…]]`,
 * STX/ETX) is split at them; a list of `[start, end]` (or `{start, end}`) ranges applies to `text`;
 * anything else gives `text` unmarked. The segments' text is shown as text, never parsed as HTML. */
export function highlightSegments(highlight: unknown, text: string): Segment[] {
  if (Array.isArray(highlight)) {
    const ranges: [number, number][] = [];
    for (const r of highlight as unknown[]) {
      if (Array.isArray(r) && typeof r[0] === "number" && typeof r[1] === "number") ranges.push([r[0], r[1]]);
      else if (r && typeof r === "object" && typeof (r as { start?: unknown }).start === "number" && typeof (r as { end?: unknown }).end === "number") {
        ranges.push([(r as { start: number }).start, (r as { end: number }).end]);
      }
    }
    return fromRanges(text, ranges);
  }
  if (typeof highlight !== "string" || !highlight) return text ? [{ text, match: false }] : [];
  const pair = MARKERS.find(([open]) => highlight.includes(open));
  if (!pair) return [{ text: unescapeHtml(highlight), match: false }];
  const [open, close, escaped] = pair;
  const plain = (t: string) => (escaped ? unescapeHtml(t) : t);
  const out: Segment[] = [];
  let rest = highlight;
  while (rest) {
    const a = rest.indexOf(open);
    if (a < 0) {
      out.push({ text: rest, match: false });
      break;
    }
    if (a > 0) out.push({ text: rest.slice(0, a), match: false });
    const b = rest.indexOf(close, a + open.length);
    if (b < 0) {
      out.push({ text: rest.slice(a + open.length), match: true });
      break;
    }
    if (b > a + open.length) out.push({ text: rest.slice(a + open.length, b), match: true });
    rest = rest.slice(b + close.length);
  }
  // Neighbours of the same kind as one (an empty match between two texts leaves two).
  return out.map((seg) => ({ ...seg, text: plain(seg.text) })).reduce<Segment[]>((acc, s) => {
    const last = acc[acc.length - 1];
    if (last && last.match === s.match) last.text += s.text;
    else acc.push({ ...s });
    return acc;
  }, []);
}

/** Where a result opens: its room, scrolled to the message (`/rooms/:id?seq=N` finds the club or DM). */
export function hitHref(hit: Pick<SearchHit, "room_id" | "seq">): string {
  return `/rooms/${hit.room_id}?seq=${hit.seq}`;
}

export function searchMessages(
  q: string,
  opts: { clubId?: number | null; roomId?: number | null; cursor?: string | null; limit?: number; signal?: AbortSignal } = {},
): Promise<SearchPage> {
  return api<SearchPage>(
    "GET",
    `/search/messages${query({ q, club_id: opts.clubId, room_id: opts.roomId, cursor: opts.cursor, limit: opts.limit ?? SEARCH_PAGE })}`,
    undefined,
    { signal: opts.signal },
  );
}
