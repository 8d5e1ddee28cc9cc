import { describe, expect, it } from "vitest";
import { highlightSegments, hitHref } from "./search";

describe("search highlights", () => {
  it("splits marked excerpts into plain segments (never HTML)", () => {
    expect(highlightSegments("the <b>quick</b> fox <b>jumps</b>", "")).toEqual([
      { text: "the ", match: false },
      { text: "quick", match: true },
      { text: " fox ", match: false },
      { text: "jumps", match: true },
    ]);
    expect(highlightSegments("a <mark>b</mark>", "")).toEqual([
      { text: "a ", match: false },
      { text: "b", match: true },
    ]);
    expect(highlightSegments("[[x]] y", "")).toEqual([
      { text: "x", match: true },
      { text: " y", match: false },
    ]);
  });

  it("keeps markup inside the text as text", () => {
    const segs = highlightSegments("<b><img src=x onerror=alert(1)></b>", "");
    expect(segs).toEqual([{ text: "<img src=x onerror=alert(1)>", match: true }]);
    expect(highlightSegments("no marks <i>here</i>", "")).toEqual([{ text: "no marks <i>here</i>", match: false }]);
  });

  it("takes ranges over the text, and falls back to the text", () => {
    expect(highlightSegments([[4, 9], { start: 0, end: 3 }], "the quick fox")).toEqual([
      { text: "the", match: true },
      { text: " ", match: false },
      { text: "quick", match: true },
      { text: " fox", match: false },
    ]);
    expect(highlightSegments(null, "plain")).toEqual([{ text: "plain", match: false }]);
    expect(highlightSegments("open <b>end", "")).toEqual([
      { text: "open ", match: false },
      { text: "end", match: true },
    ]);
  });

  it("opens the room at the message", () => {
    expect(hitHref({ room_id: 4, seq: 12 })).toBe("/rooms/4?seq=12");
  });
});
