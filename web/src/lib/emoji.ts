// The emoji offered for reactions and the composer: a small curated set (no emoji database in the bundle),
// and the ones this member used last, kept in localStorage.

export interface EmojiInfo {
  emoji: string;
  /** What a screen reader says and the picker's filter matches. */
  name: string;
}

export const EMOJI: readonly EmojiInfo[] = [
  { emoji: "👍", name: "thumbs up" },
  { emoji: "❤️", name: "red heart" },
  { emoji: "😂", name: "face with tears of joy" },
  { emoji: "🎉", name: "party popper" },
  { emoji: "😮", name: "surprised face" },
  { emoji: "😢", name: "crying face" },
  { emoji: "🙏", name: "folded hands" },
  { emoji: "👀", name: "eyes" },
  { emoji: "🔥", name: "fire" },
  { emoji: "✅", name: "check mark" },
  { emoji: "👎", name: "thumbs down" },
  { emoji: "👏", name: "clapping hands" },
  { emoji: "🙌", name: "raising hands" },
  { emoji: "💯", name: "hundred points" },
  { emoji: "😀", name: "grinning face" },
  { emoji: "😊", name: "smiling face" },
  { emoji: "😉", name: "winking face" },
  { emoji: "😍", name: "heart eyes" },
  { emoji: "🤔", name: "thinking face" },
  { emoji: "😅", name: "grinning face with sweat" },
  { emoji: "🙃", name: "upside-down face" },
  { emoji: "😎", name: "smiling face with sunglasses" },
  { emoji: "🥳", name: "partying face" },
  { emoji: "😴", name: "sleeping face" },
  { emoji: "🤯", name: "exploding head" },
  { emoji: "😬", name: "grimacing face" },
  { emoji: "👋", name: "waving hand" },
  { emoji: "💪", name: "flexed biceps" },
  { emoji: "🤝", name: "handshake" },
  { emoji: "⭐", name: "star" },
  { emoji: "✨", name: "sparkles" },
  { emoji: "🚀", name: "rocket" },
  { emoji: "💡", name: "light bulb" },
  { emoji: "📌", name: "pushpin" },
  { emoji: "🎵", name: "musical note" },
  { emoji: "☕", name: "hot beverage" },
  { emoji: "🍕", name: "pizza" },
  { emoji: "❓", name: "question mark" },
  { emoji: "❗", name: "exclamation mark" },
  { emoji: "➕", name: "plus" },
];

const NAMES = new Map(EMOJI.map((e) => [e.emoji, e.name]));

/** The name of `emoji` for labels (the emoji itself when it is not in the set, e.g. a reaction from elsewhere). */
export function emojiName(emoji: string): string {
  return NAMES.get(emoji) ?? emoji;
}

export const RECENT_KEY = "chh:recent-emoji";
export const MAX_RECENT = 8;

function storage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

/** The emoji this member used last, newest first. */
export function recentEmoji(store: Storage | null = storage()): string[] {
  if (!store) return [];
  try {
    const raw = JSON.parse(store.getItem(RECENT_KEY) ?? "[]") as unknown;
    if (!Array.isArray(raw)) return [];
    // Only short non-blank strings: the value is shown as text and sent as a reaction.
    return raw.filter((e): e is string => typeof e === "string" && e.length > 0 && e.length <= 32 && !/\s/.test(e)).slice(0, MAX_RECENT);
  } catch {
    return [];
  }
}

/** Puts `emoji` first among the recent ones (at most MAX_RECENT). */
export function rememberEmoji(emoji: string, store: Storage | null = storage()): string[] {
  const next = [emoji, ...recentEmoji(store).filter((e) => e !== emoji)].slice(0, MAX_RECENT);
  try {
    store?.setItem(RECENT_KEY, JSON.stringify(next));
  } catch {
    // quota exceeded: recents are a convenience
  }
  return next;
}

/** The emoji whose name contains `query` (all for an empty query). */
export function filterEmoji(query: string): readonly EmojiInfo[] {
  const q = query.trim().toLowerCase();
  return q ? EMOJI.filter((e) => e.name.includes(q) || e.emoji === q) : EMOJI;
}
