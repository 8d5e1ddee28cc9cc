import { describe, expect, it } from "vitest";

import { BOTTOM_SLACK_PX, isAtBottom, planScroll } from "./useStickyScroll";

describe("isAtBottom", () => {
  it("counts the last few pixels as the bottom", () => {
    expect(isAtBottom({ scrollHeight: 1000, clientHeight: 400, scrollTop: 600 })).toBe(true);
    expect(isAtBottom({ scrollHeight: 1000, clientHeight: 400, scrollTop: 600 - BOTTOM_SLACK_PX + 1 })).toBe(true);
    expect(isAtBottom({ scrollHeight: 1000, clientHeight: 400, scrollTop: 600 - BOTTOM_SLACK_PX })).toBe(false);
  });
});

describe("planScroll", () => {
  const base = { anchor: null, atBottom: false, latest: 10, prevLatest: 10, scrollHeight: 1000 };

  it("follows new content while the reader is at the bottom", () => {
    expect(planScroll({ ...base, atBottom: true, latest: 11 })).toEqual({ scrollTop: 1000, anchor: null, newBelow: false });
  });

  it("says a newer message arrived below a reader scrolled up, and leaves the view alone", () => {
    expect(planScroll({ ...base, latest: 11 })).toEqual({ scrollTop: null, anchor: null, newBelow: true });
    // Nothing newer (an edit, a reaction, a queued message): nothing to say.
    expect(planScroll(base).newBelow).toBe(false);
  });

  it("the first messages of a room are no news", () => {
    expect(planScroll({ ...base, latest: 30, prevLatest: 0 }).newBelow).toBe(false);
  });

  it("keeps the view still when older messages are put above", () => {
    const anchor = { height: 1000, top: 20 };
    // Not in yet: keep the anchor for the next change.
    expect(planScroll({ ...base, anchor })).toEqual({ scrollTop: null, anchor, newBelow: false });
    // In: the same messages stay where they were, even for a reader at the bottom.
    expect(planScroll({ ...base, anchor, atBottom: true, scrollHeight: 1600 })).toEqual({
      scrollTop: 620,
      anchor: null,
      newBelow: false,
    });
  });
});
