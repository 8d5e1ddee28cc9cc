import { describe, expect, it } from "vitest";

import { memoryStorage } from "./testing";
import { clearDraft, DRAFTS_KEY, loadDraft, MAX_DRAFT_CHARS, MAX_DRAFTS, saveDraft } from "./drafts";

describe("drafts", () => {
  it("keeps one draft per room and clears it when sent", () => {
    const s = memoryStorage();
    saveDraft(1, "hello general", s);
    saveDraft(2, "hello coding", s);
    expect(loadDraft(1, s)).toBe("hello general");
    expect(loadDraft(2, s)).toBe("hello coding");
    expect(loadDraft(3, s)).toBe("");
    clearDraft(1, s);
    expect(loadDraft(1, s)).toBe("");
    expect(loadDraft(2, s)).toBe("hello coding");
    saveDraft(2, "   ", s);
    expect(s.getItem(DRAFTS_KEY)).toBeNull();
  });

  it("keeps at most MAX_DRAFTS rooms, dropping the least recently typed", () => {
    const s = memoryStorage();
    for (let room = 0; room < MAX_DRAFTS; room++) saveDraft(room, `draft ${room}`, s, 1000 + room);
    saveDraft(0, "typed again", s, 5000); // room 0 is now the newest
    saveDraft(999, "one more", s, 6000);
    expect(Object.keys(JSON.parse(s.getItem(DRAFTS_KEY)!) as Record<string, unknown>)).toHaveLength(MAX_DRAFTS);
    expect(loadDraft(1, s)).toBe(""); // the oldest went
    expect(loadDraft(0, s)).toBe("typed again");
    expect(loadDraft(999, s)).toBe("one more");
  });

  it("bounds a draft's length and survives broken or missing storage", () => {
    const s = memoryStorage();
    saveDraft(1, "x".repeat(MAX_DRAFT_CHARS + 10), s);
    expect(loadDraft(1, s)).toHaveLength(MAX_DRAFT_CHARS);
    s.setItem(DRAFTS_KEY, "{not json");
    expect(loadDraft(1, s)).toBe("");
    s.setItem(DRAFTS_KEY, JSON.stringify({ 1: { text: 5 }, 2: { text: "ok", at: 1 } }));
    expect(loadDraft(1, s)).toBe("");
    expect(loadDraft(2, s)).toBe("ok");
    expect(loadDraft(1, null)).toBe("");
    expect(() => saveDraft(1, "x", null)).not.toThrow();
  });
});
