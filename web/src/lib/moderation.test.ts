import { describe, expect, it } from "vitest";
import { parseBlocks } from "./blocks";
import { MAX_REASON_CHARS, actionLabel, automodFromForm, automodToForm, parseMinutes, parseTerms, reasonProblem, snapshotAuthor } from "./moderation";

describe("reports", () => {
  it("asks for a reason of a bounded length", () => {
    expect(reasonProblem("   ")).toMatch(/why/);
    expect(reasonProblem("spam")).toBeNull();
    expect(reasonProblem("x".repeat(MAX_REASON_CHARS + 3))).toMatch(/3 characters too long/);
  });

  it("takes timeouts of whole minutes up to a week", () => {
    expect(parseMinutes("60")).toBe(60);
    expect(parseMinutes("0")).toBeNull();
    expect(parseMinutes("1.5")).toBeNull();
    expect(parseMinutes("40320")).toBe(40320);
    expect(parseMinutes("99999")).toBeNull();
  });

  it("names actions and snapshot authors", () => {
    expect(actionLabel("delete")).toBe("Delete message");
    expect(actionLabel(null)).toBe("Resolved");
    expect(snapshotAuthor({ snapshot: { text: "", author: { id: 1, display_name: "Ann" }, ts: 0 } })).toBe("Ann");
    expect(snapshotAuthor({ snapshot: { text: "", author: "Ben", ts: 0 } })).toBe("Ben");
  });
});

describe("auto-moderation form", () => {
  it("reads terms one a line, trimmed, once", () => {
    expect(parseTerms(" spam \n\nSpam\nscam\r\n")).toEqual(["spam", "scam"]);
  });

  it("turns the form into settings and back", () => {
    const out = automodFromForm({ terms: "a\nb", linkAgeMinutes: "10", maxMentions: "" });
    expect(out).toEqual({ value: { blocked_terms: ["a", "b"], link_min_member_age_s: 600, max_mentions: null } });
    expect(automodFromForm({ terms: "", linkAgeMinutes: "x", maxMentions: "" })).toHaveProperty("problem");
    expect(automodFromForm({ terms: "", linkAgeMinutes: "", maxMentions: "-1" })).toHaveProperty("problem");
    expect(automodFromForm({ terms: "", linkAgeMinutes: "", maxMentions: "0" })).toHaveProperty("problem");
    expect(automodFromForm({ terms: "", linkAgeMinutes: "50000", maxMentions: "" })).toHaveProperty("problem");
    expect(automodToForm({ blocked_terms: ["a"], link_min_member_age_s: 600, max_mentions: 3 })).toEqual({ terms: "a", linkAgeMinutes: "10", maxMentions: "3" });
    expect(automodToForm(null)).toEqual({ terms: "", linkAgeMinutes: "", maxMentions: "" });
  });
});

describe("blocks", () => {
  it("parses GET /me/blocks leniently", () => {
    expect(parseBlocks({ blocks: [{ user_id: 3, display_name: "Cy", created_at: "2024-01-01" }, { user_id: "x" }, { user_id: 4 }] })).toEqual([
      { user_id: 3, display_name: "Cy", created_at: "2024-01-01" },
      { user_id: 4, display_name: "Member 4", created_at: null },
    ]);
  });
});
