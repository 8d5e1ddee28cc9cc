import { describe, expect, it } from "vitest";
import { canCreateEvents, canExportSummary, membersLabel, parseInvite } from "./clubs";

describe("parseInvite", () => {
  it("reads the forms an invite is passed on in", () => {
    expect(parseInvite(" AbC-d_e ")).toBe("AbC-d_e");
    expect(parseInvite("http://127.0.0.1:8080/clubs?invite=q-w_e")).toBe("q-w_e");
    expect(parseInvite("/clubs?code=xyz")).toBe("xyz");
    expect(parseInvite("not a code!")).toBeNull();
    expect(parseInvite("")).toBeNull();
  });
});

describe("canCreateEvents", () => {
  it("follows roles.py: moderators and owners create events", () => {
    expect(canCreateEvents("owner")).toBe(true);
    expect(canCreateEvents("moderator")).toBe(true);
    expect(canCreateEvents("member")).toBe(false);
    expect(canCreateEvents(null)).toBe(false);
    expect(canCreateEvents("nonsense")).toBe(false);
  });
  it("says member counts", () => {
    expect(membersLabel(1)).toBe("1 member");
    expect(membersLabel(0)).toBe("0 members");
  });
});

describe("canExportSummary", () => {
  it("follows roles.py: the event's host, the club's moderators and owners", () => {
    expect(canExportSummary("member", true)).toBe(true);
    expect(canExportSummary(null, true)).toBe(true);
    expect(canExportSummary("moderator", false)).toBe(true);
    expect(canExportSummary("owner", false)).toBe(true);
    expect(canExportSummary("member", false)).toBe(false);
    expect(canExportSummary(null, false)).toBe(false);
  });
});
