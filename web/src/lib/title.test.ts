import { describe, expect, it } from "vitest";
import { formatTitle } from "./title";

describe("formatTitle", () => {
  it("puts the unread count in front of the name", () => {
    expect(formatTitle(3)).toBe("(3) ClubHoloHub");
    expect(formatTitle(1, "Feed")).toBe("(1) Feed");
  });
  it("says nothing with nothing unread (or a count that is not one)", () => {
    expect(formatTitle(0)).toBe("ClubHoloHub");
    expect(formatTitle(-2)).toBe("ClubHoloHub");
    expect(formatTitle(Number.NaN)).toBe("ClubHoloHub");
  });
  it("caps the count at 99+", () => {
    expect(formatTitle(99)).toBe("(99) ClubHoloHub");
    expect(formatTitle(250)).toBe("(99+) ClubHoloHub");
  });
});
