import { describe, expect, it, vi } from "vitest";
import type { ChatMessage } from "../store/messages";
import { mentionsUser } from "../store/messages";

// A room of 260 messages whose latest 50 are loaded by the first join.
const LAST = 260;
const msg = (seq: number): ChatMessage => ({
  room_id: 3,
  seq,
  rev: seq,
  message_id: `m${seq}`,
  author: { id: 2, display_name: "Bo" },
  text: `#${seq}`,
  ts: seq,
  reactions: {},
});
const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => msg(from + i));

const call = vi.fn((event: string, payload: { before_seq?: number; limit?: number }): Promise<unknown> => {
  if (event === "room:join") {
    return Promise.resolve({ ok: true, room_id: 3, last_seq: LAST, rev: LAST, online: [], missed: [], updated: [], truncated: false });
  }
  if (event === "message:history") {
    const hi = (payload.before_seq ?? LAST + 1) - 1;
    return Promise.resolve({ ok: true, messages: range(Math.max(1, hi - (payload.limit ?? 50) + 1), hi) });
  }
  return Promise.resolve({ ok: true });
});
const api = vi.fn((_method: string, path: string): Promise<unknown> => {
  const url = new URL(path, "http://x");
  const hi = Number(url.searchParams.get("before_seq")) - 1;
  const limit = Number(url.searchParams.get("limit"));
  return Promise.resolve({ messages: range(Math.max(1, hi - limit + 1), hi) });
});
vi.mock("./socket", () => ({
  call: (event: string, payload: { before_seq?: number }) => call(event, payload),
  getSocket: () => ({ connected: true }),
  onSocket: () => () => undefined,
}));
vi.mock("./api", () => ({
  api: (method: string, path: string) => api(method, path),
  query: (p: Record<string, unknown>) =>
    "?" + Object.entries(p).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${String(v)}`).join("&"),
}));

import { RoomHub } from "./rooms";

describe("reveal (a notification's message)", () => {
  it("loads older pages before the oldest held, the window staying whole, until the message is in", async () => {
    const hub = new RoomHub();
    const session = hub.acquire(3);
    await session.join();
    expect(session.store.oldestSeq).toBe(LAST - 49);
    expect(await session.reveal(40)).toBe(true);
    expect(session.store.get(40)?.text).toBe("#40");
    // Two pages of 100 reach below 40; nothing is missing in between.
    expect(api).toHaveBeenCalledTimes(2);
    const seqs = session.store.messages().map((m) => m.seq);
    expect(seqs).toEqual(range(11, LAST).map((m) => m.seq));
    expect(session.store.gap()).toBeNull();
    // Held already: no request.
    expect(await session.reveal(200)).toBe(true);
    expect(api).toHaveBeenCalledTimes(2);
  });

  it("says so when the message is not there", async () => {
    const hub = new RoomHub();
    const session = hub.acquire(3);
    expect(await session.reveal(LAST + 5)).toBe(false);
  });
});

describe("a message mentioning the reader", () => {
  const author = { id: 2, display_name: "Bo" };
  it("goes by the server's mentions when there are any, else by the name in the text", () => {
    expect(mentionsUser({ author, mentions: [1, 5] }, 1, () => false)).toBe(true);
    expect(mentionsUser({ author, mentions: [5] }, 1, () => true)).toBe(false);
    expect(mentionsUser({ author, mentions: [], mentions_everyone: true }, 1, () => false)).toBe(true);
    expect(mentionsUser({ author }, 1, () => true)).toBe(true);
    expect(mentionsUser({ author, mentions: [2] }, 2, () => true)).toBe(false); // one's own message
  });
});
