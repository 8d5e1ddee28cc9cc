import { describe, expect, it, vi } from "vitest";

const JOIN_ACK = { ok: true, room_id: 5, last_seq: 0, rev: 0, online: [], missed: [], updated: [], truncated: false };
const call = vi.fn((_event: string, _payload: unknown): Promise<unknown> => Promise.resolve(JOIN_ACK));
vi.mock("./socket", () => ({
  call: (event: string, payload: unknown) => call(event, payload),
  getSocket: () => ({ connected: true }),
  onSocket: () => () => undefined,
}));
vi.mock("./api", () => ({ api: vi.fn(), query: () => "" }));

import { RoomHub } from "./rooms";

describe("room:removed", () => {
  it("the screen keeps the reason, the hub forgets the room and never joins it again", async () => {
    const hub = new RoomHub();
    const session = hub.acquire(5);
    await session.join();
    call.mockClear();
    session.store.enqueue("unsent", { id: 1, display_name: "Ann" });
    session.onRemoved("banned");
    expect(session.state).toMatchObject({ joined: false, removed: "banned" });
    expect(hub.isHeld(5)).toBe(false);
    await session.join();
    await session.flush();
    expect(call).not.toHaveBeenCalled();
    // A later visit starts afresh.
    expect(hub.session(5)).not.toBe(session);
    expect(hub.session(5).state.removed).toBeNull();
  });
});

describe("a send whose ack timed out", () => {
  it("is sent again with the same client_id after a backoff, with no other trigger, and leaves the queue", async () => {
    vi.useFakeTimers();
    try {
      const hub = new RoomHub();
      const session = hub.acquire(6);
      call.mockImplementation(() => Promise.resolve({ ...JOIN_ACK, room_id: 6 }));
      await session.join();
      const sends: string[] = [];
      let first = true;
      call.mockImplementation((event: string, payload: unknown) => {
        if (event !== "message:send") return Promise.resolve({ ok: true });
        sends.push((payload as { client_id: string }).client_id);
        if (first) {
          first = false;
          return Promise.reject(Object.assign(new Error("timeout"), { status: 0, code: "timeout" }));
        }
        return Promise.resolve({ ok: true, seq: 1, rev: 1, message_id: "m1", ts: 1 });
      });
      session.send("hello", { id: 1, display_name: "Ann" });
      await vi.advanceTimersByTimeAsync(0);
      expect(sends).toHaveLength(1);
      expect(session.store.pending.map((p) => p.status)).toEqual(["pending"]);
      await vi.advanceTimersByTimeAsync(1000);
      expect(sends).toHaveLength(2);
      expect(sends[1]).toBe(sends[0]);
      expect(session.store.pending).toHaveLength(0);
      expect(session.store.messages().map((m) => m.seq)).toEqual([1]);
    } finally {
      vi.useRealTimers();
    }
  });
});
