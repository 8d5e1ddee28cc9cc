import { describe, expect, it } from "vitest";
import type { ChatMessage } from "../store/messages";
import { dmTitle, dmUnread, parseDms, sortDms, withMessage, type DmRoom } from "./dms";

function m(room: number, seq: number, ts: number): ChatMessage {
  return { room_id: room, seq, rev: seq, message_id: `${room}:${seq}`, author: { id: 2, display_name: "Ben" }, text: "x", ts, reactions: {} };
}

const ann = { id: 1, display_name: "Ann" };
const ben = { id: 2, display_name: "Ben" };

describe("dms", () => {
  it("sorts newest activity first, empty ones by room id", () => {
    const rooms: DmRoom[] = [
      { room_id: 1, members: [], last_message: m(1, 1, 100) },
      { room_id: 2, members: [], last_message: null },
      { room_id: 3, members: [], last_message: m(3, 4, 300) },
      { room_id: 4, members: [], last_message: null },
    ];
    expect(sortDms(rooms).map((r) => r.room_id)).toEqual([3, 1, 4, 2]);
  });

  it("moves a DM to the top on a newer message, ignores older or unknown ones", () => {
    const rooms = sortDms([
      { room_id: 1, members: [], last_message: m(1, 1, 100) },
      { room_id: 2, members: [], last_message: m(2, 5, 200) },
    ]);
    const moved = withMessage(rooms, m(1, 2, 300));
    expect(moved.map((r) => r.room_id)).toEqual([1, 2]);
    expect(moved[0].last_message?.seq).toBe(2);
    expect(withMessage(moved, m(1, 1, 100))).toBe(moved);
    expect(withMessage(moved, m(9, 1, 999))).toBe(moved);
  });

  it("names a DM by the other people", () => {
    expect(dmTitle({ members: [ann, ben] }, 1)).toBe("Ben");
    expect(dmTitle({ members: [ann] }, 1)).toBe("Just you");
    const many = [ann, ben, { id: 3, display_name: "Cy" }, { id: 4, display_name: "Di" }, { id: 5, display_name: "Ed" }];
    expect(dmTitle({ members: many }, 1)).toBe("Ben, Cy, Di and 1 more");
  });

  it("parses GET /dms leniently and sums unread of DMs only", () => {
    const rooms = parseDms({ rooms: [{ room_id: 5, members: [ann, { id: 2 }], last_message: null }, { nope: 1 }, null] });
    expect(rooms).toEqual([{ room_id: 5, members: [ann, { id: 2, display_name: "Member 2" }], last_message: null }]);
    expect(parseDms(null)).toEqual([]);
    const u = dmUnread(rooms, new Map([[5, 3], [6, 9]]));
    expect(u.total).toBe(3);
    expect([...u.byRoom]).toEqual([[5, 3]]);
  });
});
