// Mentions ("@Display Name") in message text, split into plain and mention parts so they render as React
// text nodes (never as HTML).

export interface TextPart {
  text: string;
  /** The mentioned display name, for a mention part. */
  mention?: string;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Splits `text` at mentions of the known display `names` (longest first, so "@Ann Lee" wins over "@Ann"),
 * and of single words after "@" when no known name matches. */
export function splitMentions(text: string, names: readonly string[] = []): TextPart[] {
  const known = [...new Set(names.map((n) => n.trim()).filter(Boolean))].sort((a, b) => b.length - a.length);
  const alternatives = known.map(escapeRegExp);
  // A mention starts the text or follows a non-word character; a known name must end at a word boundary.
  const pattern = new RegExp(
    `(^|[^\\p{L}\\p{N}_])@(${alternatives.length ? `(?:${alternatives.join("|")})(?![\\p{L}\\p{N}_])|` : ""}[\\p{L}\\p{N}_][\\p{L}\\p{N}_.-]*)`,
    "giu",
  );
  const parts: TextPart[] = [];
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    const start = (m.index ?? 0) + m[1].length;
    if (start > last) parts.push({ text: text.slice(last, start) });
    const name = m[2].replace(/[.-]+$/, "");
    parts.push({ text: `@${name}`, mention: name });
    last = start + 1 + name.length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}

/** Whether `text` mentions `name`. */
export function mentions(text: string, name: string): boolean {
  const lower = name.toLowerCase();
  return splitMentions(text, [name]).some((p) => p.mention?.toLowerCase() === lower);
}
