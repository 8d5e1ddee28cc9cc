import { describe, expect, it } from "vitest";
import {
  EMPTY_INBOX,
  bellLabel,
  notificationHref,
  parseMentionCounts,
  parseNotificationCount,
  reduce,
  type AppNotification,
  type InboxState,
} from "./notifications";

function n(id: number, minutesAgo: number, read = false, extra: Partial<AppNotification> = {}): AppNotification {
  return {
    id,
    kind: "mention",
    created_at: new Date(Date.UTC(2026, 0, 1, 12, 0) - minutesAgo * 60_000).toISOString(),
    read,
    room_id: 7,
    seq: id,
    text: `note ${id}`,
    ...extra,
  };
}

const ids = (s: InboxState) => s.items.map((x) => x.id);

describe("the inbox reducer", () => {
  it("keeps pages newest first, appends the next page once, and keeps live ones that crossed the first", () => {
    let s = reduce(EMPTY_INBOX, { type: "incoming", notification: n(5, 0) });
    expect(s.unread).toBe(1);
    s = reduce(s, { type: "page", first: true, page: { items: [n(5, 0), n(4, 1), n(3, 2, true)], next_cursor: "c1" } });
    expect(ids(s)).toEqual([5, 4, 3]);
    expect(s).toMatchObject({ loaded: true, nextCursor: "c1" });
    s = reduce(s, { type: "page", first: false, page: { items: [n(3, 2, true), n(2, 3), n(1, 4)], next_cursor: null } });
    expect(ids(s)).toEqual([5, 4, 3, 2, 1]);
    expect(s.nextCursor).toBeNull();
  });

  it("counts a live notification once, however often it arrives", () => {
    let s = reduce({ ...EMPTY_INBOX, unread: 2 }, { type: "incoming", notification: n(9, 0) });
    s = reduce(s, { type: "incoming", notification: n(9, 0) });
    expect(s.unread).toBe(3);
    expect(ids(s)).toEqual([9]);
  });

  it("marks read by id (only unread ones lower the count) and all at once", () => {
    let s = reduce(EMPTY_INBOX, { type: "page", first: true, page: { items: [n(3, 0), n(2, 1), n(1, 2, true)], next_cursor: null } });
    s = reduce(s, { type: "count", unread: 5 });
    s = reduce(s, { type: "read", ids: [3, 1, 99] });
    expect(s.unread).toBe(4);
    expect(s.items.map((x) => x.read)).toEqual([true, false, true]);
    const again = reduce(s, { type: "read", ids: ["3"] });
    expect(again).toBe(s); // nothing new: no re-render
    s = reduce(s, { type: "read", all: true });
    expect(s.unread).toBe(0);
    expect(s.items.every((x) => x.read)).toBe(true);
  });

  it("takes the server's count, and a zero count means none of the loaded ones is unread", () => {
    let s = reduce(EMPTY_INBOX, { type: "page", first: true, page: { items: [n(1, 0)], next_cursor: null } });
    s = reduce(s, { type: "count", unread: 3 });
    expect(s.unread).toBe(3);
    s = reduce(s, { type: "count", unread: 0 });
    expect(s.items[0].read).toBe(true);
  });
});

describe("GET /me/unread", () => {
  it("gives the notification count and the mentions per room, apart from the rooms' counts", () => {
    const body = { "12": 4, "13": 0, mentions: { "12": 2, x: 1 }, notifications: 3 };
    expect(parseNotificationCount(body)).toBe(3);
    expect(parseNotificationCount({ "12": 4 })).toBeNull();
    expect([...parseMentionCounts(body)]).toEqual([[12, 2]]);
  });
});

describe("where a notification leads", () => {
  it("opens the message in its room, the event, or the achievements", () => {
    expect(notificationHref({ kind: "mention", room_id: 7, seq: 42 })).toBe("/rooms/7?seq=42");
    expect(notificationHref({ kind: "reply", room_id: 7, seq: 3 })).toBe("/rooms/7?seq=3");
    expect(notificationHref({ kind: "dm", room_id: 9 })).toBe("/rooms/9");
    expect(notificationHref({ kind: "event_reminder", event_id: 5, room_id: 7 })).toBe("/events/5");
    expect(notificationHref({ kind: "live_started", event_id: 5 })).toBe("/events/5");
    expect(notificationHref({ kind: "achievement" })).toBe("/profile");
    expect(notificationHref({ kind: "report" })).toBeNull();
  });

  it("names the bell with its count", () => {
    expect(bellLabel(0)).toBe("Notifications");
    expect(bellLabel(3)).toBe("Notifications, 3 unread");
    expect(bellLabel(120)).toBe("Notifications, 99+ unread");
  });
});
