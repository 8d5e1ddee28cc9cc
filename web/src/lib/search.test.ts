import { describe, expect, it } from "vitest";
import { highlightSegments, hitHref, unescapeHtml } from "./search";

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

  it("takes the server's escaped excerpt back to plain text (shown as text, never HTML)", () => {
    expect(highlightSegments("a &lt;img src=x onerror=alert(1)&gt; <mark>cat</mark> &amp; &quot;dog&#x27;s&quot;", "")).toEqual([
      { text: "a <img src=x onerror=alert(1)> ", match: false },
      { text: "cat", match: true },
      { text: ' & "dog\'s"', match: false },
    ]);
    expect(highlightSegments("no marks &lt;i&gt;here", "")).toEqual([{ text: "no marks <i>here", match: false }]);
    expect(unescapeHtml("&bogus; &#0; &#65;")).toBe("&bogus; &#0; A");
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
