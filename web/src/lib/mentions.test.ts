import { describe, expect, it } from "vitest";
import { mentions, splitMentions } from "./mentions";

describe("splitMentions", () => {
  it("finds known display names with spaces, longest first", () => {
    expect(splitMentions("hi @Ann Lee and @Ann!", ["Ann", "Ann Lee"])).toEqual([
      { text: "hi " },
      { text: "@Ann Lee", mention: "Ann Lee" },
      { text: " and " },
      { text: "@Ann", mention: "Ann" },
      { text: "!" },
    ]);
  });

  it("falls back to one word for unknown names and ignores emails", () => {
    expect(splitMentions("mail a@b.c or ping @bob.", [])).toEqual([
      { text: "mail a@b.c or ping " },
      { text: "@bob", mention: "bob" },
      { text: "." },
    ]);
  });

  it("keeps markup as text", () => {
    const parts = splitMentions("<b>@Eve</b>", ["Eve"]);
    expect(parts.map((p) => p.text).join("")).toBe("<b>@Eve</b>");
    expect(parts.find((p) => p.mention)?.mention).toBe("Eve");
  });

  it("tells whether a name is mentioned", () => {
    expect(mentions("hello @Display Name", "Display Name")).toBe(true);
    expect(mentions("hello Display Name", "Display Name")).toBe(false);
  });
});
