import { describe, expect, it } from "vitest";

import type { ChatMessage } from "../store/messages";
import { authorName, firstUnread, logRows, snippet, typingLine, type LogRow } from "./chatView";
import { dayLabel, messageTime } from "./dates";

describe("typingLine", () => {
  it("names one or two, then says several", () => {
    expect(typingLine([])).toBe("");
    expect(typingLine(["Ann"])).toBe("Ann is typing…");
    expect(typingLine(["Ann", "Ben"])).toBe("Ann and Ben are typing…");
    expect(typingLine(["Ann", "Ben", "Cat"])).toBe("Several people are typing…");
  });
});

describe("snippet", () => {
  it("puts the text on one line and cuts it with an ellipsis", () => {
    expect(snippet("a\n  b")).toBe("a b");
    expect(snippet("abcdef", 4)).toBe("abc…");
    expect(snippet("abcd", 4)).toBe("abcd");
  });
});

describe("authorName", () => {
  it("is the name of the author's latest message", () => {
    const m = (seq: number, id: number, name: string) =>
      ({ seq, author: { id, display_name: name } }) as unknown as ChatMessage;
    expect(authorName([m(1, 5, "Old"), m(2, 6, "Ben"), m(3, 5, "New")], 5)).toBe("New");
    expect(authorName([], 5)).toBeUndefined();
  });
});

describe("logRows", () => {
  const ann = { id: 1, display_name: "Ann" };
  const ben = { id: 2, display_name: "Ben" };
  const at = (y: number, mo: number, d: number, h: number, mi: number) => new Date(y, mo - 1, d, h, mi).getTime();
  const now = at(2026, 3, 10, 12, 0);
  const m = (seq: number, author: typeof ann, ts: number, extra: Partial<ChatMessage> = {}): ChatMessage => ({
    room_id: 1,
    seq,
    rev: seq,
    message_id: `m${seq}`,
    author,
    text: `t${seq}`,
    ts,
    reactions: {},
    ...extra,
  });
  const shape = (rows: LogRow[]) =>
    rows.map((r) =>
      r.kind === "day" ? `[${r.label}]` : r.kind === "unread" ? "[new]" : r.kind === "message" ? `${r.message.seq}${r.grouped ? "g" : ""}` : `p${r.grouped ? "g" : ""}`,
    );

  it("groups one author's messages within 5 minutes under one header", () => {
    const rows = logRows(
      [
        m(1, ann, at(2026, 3, 10, 9, 0)),
        m(2, ann, at(2026, 3, 10, 9, 4)),
        m(3, ann, at(2026, 3, 10, 9, 9)), // 5 min after #2: still grouped
        m(4, ann, at(2026, 3, 10, 9, 15)), // 6 min after #3: a new header
        m(5, ben, at(2026, 3, 10, 9, 16)),
        m(6, ann, at(2026, 3, 10, 9, 17)),
        m(7, ann, at(2026, 3, 10, 9, 18), { reply_to_seq: 5 }), // a reply shows its own header
      ],
      [],
      { now },
    );
    expect(shape(rows)).toEqual(["[Today]", "1", "2g", "3g", "4", "5", "6", "7"]);
  });

  it("puts a day divider before each day's first message and never groups across days", () => {
    const rows = logRows(
      [
        m(1, ann, at(2026, 2, 2, 23, 58)),
        m(2, ann, at(2026, 3, 9, 23, 58)),
        m(3, ann, at(2026, 3, 10, 0, 1)),
        m(4, ann, at(2026, 3, 10, 0, 2)),
      ],
      [],
      { now },
    );
    const labels = shape(rows);
    expect(labels[0]).toMatch(/^\[Monday, February 2\]$/);
    expect(labels.slice(1)).toEqual(["1", "[Yesterday]", "2", "[Today]", "3", "4g"]);
  });

  it("puts 'New since you left' before the first unread message and starts a header there", () => {
    const rows = logRows(
      [m(1, ann, at(2026, 3, 10, 9, 0)), m(2, ben, at(2026, 3, 10, 9, 1)), m(3, ben, at(2026, 3, 10, 9, 2))],
      [],
      { now, firstUnreadSeq: 3 },
    );
    expect(shape(rows)).toEqual(["[Today]", "1", "2", "[new]", "3"]);
  });

  it("puts pending messages last, grouped with one's previous message", () => {
    const p = { client_id: "c1", room_id: 1, text: "x", author: ann, created_at: at(2026, 3, 10, 9, 1), status: "sending" as const };
    expect(shape(logRows([m(1, ann, at(2026, 3, 10, 9, 0))], [p], { now }))).toEqual(["[Today]", "1", "pg"]);
    expect(shape(logRows([], [p], { now }))).toEqual(["[Today]", "p"]);
  });
});

describe("firstUnread", () => {
  const msgs = [1, 2, 3, 4].map((seq) => ({ seq, author: { id: seq === 3 ? 9 : 1, display_name: "x" } }) as ChatMessage);
  it("is the first message after the seen one written by someone else", () => {
    expect(firstUnread(msgs, 1, 1)).toBe(3);
    expect(firstUnread(msgs, 3, 1)).toBeNull();
    expect(firstUnread(msgs, null, 1)).toBeNull();
  });
});

describe("dates", () => {
  const now = new Date(2026, 2, 10, 12, 0).getTime();
  it("says Today, Yesterday, then the date; old times carry their date", () => {
    expect(dayLabel(new Date(2026, 2, 10, 0, 5).getTime(), now)).toBe("Today");
    expect(dayLabel(new Date(2026, 2, 9, 23, 59).getTime(), now)).toBe("Yesterday");
    expect(dayLabel(new Date(2025, 11, 24, 8, 0).getTime(), now)).toMatch(/2025/);
    expect(messageTime(new Date(2026, 2, 10, 9, 5).getTime(), now)).not.toMatch(/Mar|Yesterday/);
    expect(messageTime(new Date(2026, 2, 9, 9, 5).getTime(), now)).toMatch(/^Yesterday /);
    expect(messageTime(new Date(2026, 1, 2, 9, 5).getTime(), now)).toMatch(/Feb 2, /);
  });
});
