import { describe, expect, it } from "vitest";

import { memoryStorage } from "./testing";
import { EMOJI, emojiName, filterEmoji, MAX_RECENT, RECENT_KEY, recentEmoji, rememberEmoji } from "./emoji";

describe("emoji", () => {
  it("the set has unique emoji, each with a name, and more than a thumbs up", () => {
    expect(new Set(EMOJI.map((e) => e.emoji)).size).toBe(EMOJI.length);
    expect(EMOJI.length).toBeGreaterThan(20);
    expect(EMOJI.every((e) => e.name && !/\s/.test(e.emoji))).toBe(true);
    expect(emojiName("🎉")).toBe("party popper");
    expect(emojiName("🦄")).toBe("🦄");
  });

  it("recent emoji: newest first, no duplicates, at most MAX_RECENT", () => {
    const s = memoryStorage();
    expect(recentEmoji(s)).toEqual([]);
    rememberEmoji("👍", s);
    rememberEmoji("🎉", s);
    expect(rememberEmoji("👍", s)).toEqual(["👍", "🎉"]);
    expect(recentEmoji(s)).toEqual(["👍", "🎉"]);
    for (const e of EMOJI.slice(0, MAX_RECENT + 3)) rememberEmoji(e.emoji, s);
    expect(recentEmoji(s)).toHaveLength(MAX_RECENT);
    expect(recentEmoji(s)[0]).toBe(EMOJI[MAX_RECENT + 2].emoji);
  });

  it("ignores broken stored values", () => {
    const s = memoryStorage();
    s.setItem(RECENT_KEY, "nope");
    expect(recentEmoji(s)).toEqual([]);
    s.setItem(RECENT_KEY, JSON.stringify(["🔥", 3, "", "a b", "x".repeat(40)]));
    expect(recentEmoji(s)).toEqual(["🔥"]);
    expect(recentEmoji(null)).toEqual([]);
    expect(rememberEmoji("🔥", null)).toEqual(["🔥"]);
  });

  it("filters by name", () => {
    expect(filterEmoji("thumbs").map((e) => e.emoji)).toEqual(["👍", "👎"]);
    expect(filterEmoji("  ")).toBe(EMOJI);
  });
});
