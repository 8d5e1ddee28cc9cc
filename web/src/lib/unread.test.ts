import { describe, expect, it } from "vitest";
import { parseUnread, totalUnread, unknownRooms, unreadByClub, unreadLabel } from "./unread";

const clubs = new Map([
  [10, 1],
  [11, 1],
  [20, 2],
]);
const clubOf = (room: number) => clubs.get(room);

describe("parseUnread", () => {
  it("keeps the room counts and drops the mentions map and junk", () => {
    expect(parseUnread({ "10": 2, "11": 0, mentions: { "10": 1 }, "12": "x", "13": -1 })).toEqual({ "10": 2, "11": 0 });
    expect(parseUnread(null)).toEqual({});
    expect(parseUnread("nope")).toEqual({});
  });
});

describe("unreadByClub", () => {
  it("sums each club's rooms and leaves out rooms of no known club and zero counts", () => {
    const rooms = new Map([
      [10, 2],
      [11, 3],
      [20, 0],
      [99, 7],
    ]);
    const byClub = unreadByClub(rooms, clubOf);
    expect([...byClub]).toEqual([[1, 5]]);
    expect(totalUnread(byClub)).toBe(5);
    expect(unknownRooms(rooms, clubOf)).toEqual([99]);
  });
  it("is empty with nothing unread", () => {
    expect(totalUnread(unreadByClub(new Map(), clubOf))).toBe(0);
  });
});

describe("unreadLabel", () => {
  it("says the count, capped", () => {
    expect(unreadLabel(3)).toBe("3 unread");
    expect(unreadLabel(120)).toBe("99+ unread");
  });
});
