// Unsent composer text per room, kept in localStorage so a room switch or a reload keeps it. Bounded: at most
// MAX_DRAFTS rooms (the least recently typed in go first) and MAX_DRAFT_CHARS each.

export const DRAFTS_KEY = "chh:drafts";
export const MAX_DRAFTS = 50;
/** A little over a message's limit, so an over-long draft is kept for the member to shorten. */
export const MAX_DRAFT_CHARS = 8000;

interface Draft {
  text: string;
  /** When it was last changed (ms), for dropping the oldest. */
  at: number;
}

type Drafts = Record<string, Draft>;

function storage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // storage disabled (privacy settings): drafts live as long as the page
  }
}

function readAll(store: Storage | null): Drafts {
  if (!store) return {};
  try {
    const raw = JSON.parse(store.getItem(DRAFTS_KEY) ?? "{}") as unknown;
    if (!raw || typeof raw !== "object" || Array.isArray(raw)) return {};
    const out: Drafts = {};
    for (const [room, d] of Object.entries(raw as Record<string, unknown>)) {
      const draft = d as Partial<Draft> | null;
      if (draft && typeof draft.text === "string" && typeof draft.at === "number") out[room] = { text: draft.text, at: draft.at };
    }
    return out;
  } catch {
    return {};
  }
}

function writeAll(store: Storage | null, drafts: Drafts): void {
  if (!store) return;
  try {
    if (Object.keys(drafts).length === 0) store.removeItem(DRAFTS_KEY);
    else store.setItem(DRAFTS_KEY, JSON.stringify(drafts));
  } catch {
    // quota exceeded: the draft stays in the composer, only the copy for a reload is lost
  }
}

/** The unsent text of `room` ("" for none). */
export function loadDraft(room: string | number, store: Storage | null = storage()): string {
  return readAll(store)[String(room)]?.text ?? "";
}

/** Keeps `text` as the draft of `room`; empty (or only blanks) removes it. */
export function saveDraft(room: string | number, text: string, store: Storage | null = storage(), now = Date.now()): void {
  const drafts = readAll(store);
  const key = String(room);
  if (!text.trim()) {
    if (!(key in drafts)) return;
    delete drafts[key];
  } else {
    drafts[key] = { text: text.slice(0, MAX_DRAFT_CHARS), at: now };
    const rooms = Object.keys(drafts);
    if (rooms.length > MAX_DRAFTS) {
      rooms.sort((a, b) => drafts[a].at - drafts[b].at);
      for (const old of rooms.slice(0, rooms.length - MAX_DRAFTS)) delete drafts[old];
    }
  }
  writeAll(store, drafts);
}

/** Forgets the draft of `room` (it was sent). */
export function clearDraft(room: string | number, store: Storage | null = storage()): void {
  saveDraft(room, "", store);
}
