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
