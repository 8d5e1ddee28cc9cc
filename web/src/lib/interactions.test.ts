import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("./api", () => ({ api: vi.fn(() => Promise.resolve({ accepted: 0 })) }));

import { InteractionLogger, feedReason, itemPath, newInteractionId, type Interaction } from "./interactions";

const event = { type: "event" as const, id: 7 };
const club = { type: "club" as const, id: 3 };
const room = { type: "room" as const, id: 11, club_id: 3 };

function setup(send: (batch: Interaction[]) => Promise<unknown>, extra: Partial<ConstructorParameters<typeof InteractionLogger>[0]> = {}) {
  let n = 0;
  return new InteractionLogger({ send, newId: () => `id-${String(++n).padStart(6, "0")}`, ...extra });
}

/** Lets pending promise callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe("InteractionLogger", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("sends queued interactions as one batch every 5 s", async () => {
    const send = vi.fn((_batch: Interaction[]) => Promise.resolve());
    const logger = setup(send);
    logger.logImpression(event);
    logger.logImpression(club);
    logger.logClick(room);
    expect(send).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(4999);
    expect(send).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(send).toHaveBeenCalledTimes(1);
    expect(send.mock.calls[0][0]).toEqual([
      { item_type: "event", item_id: 7, kind: "impression", interaction_id: "id-000001" },
      { item_type: "club", item_id: 3, kind: "impression", interaction_id: "id-000002" },
      { item_type: "room", item_id: 11, kind: "click", interaction_id: "id-000003" },
    ]);
    expect(logger.pending()).toEqual([]);
    // Nothing queued: the next tick sends nothing.
    await vi.advanceTimersByTimeAsync(5000);
    expect(send).toHaveBeenCalledTimes(1);
    logger.stop();
  });

  it("flushes at once when 50 are queued", async () => {
    const send = vi.fn((_batch: Interaction[]) => Promise.resolve());
    const logger = setup(send);
    for (let i = 1; i <= 49; i++) logger.logImpression({ type: "event", id: i });
    expect(send).not.toHaveBeenCalled();
    logger.logImpression({ type: "event", id: 50 });
    expect(send).toHaveBeenCalledTimes(1);
    expect(send.mock.calls[0][0]).toHaveLength(50);
    await settle();
    expect(logger.pending()).toEqual([]);
    logger.stop();
  });

  it("never puts more than 200 in one request", async () => {
    const send = vi.fn((_batch: Interaction[]): Promise<unknown> => Promise.reject(new TypeError("Failed to fetch")));
    const logger = setup(send);
    for (let i = 1; i <= 450; i++) logger.logImpression({ type: "event", id: i });
    await settle();
    send.mockImplementation(() => Promise.resolve());
    await logger.flushAll();
    const sizes = send.mock.calls.map((c) => c[0].length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(200);
    expect(logger.pending()).toEqual([]);
    // Every interaction was delivered once in a successful request.
    const delivered = send.mock.calls.slice(-3).flatMap((c) => c[0].map((i) => i.item_id));
    expect(delivered).toEqual(Array.from({ length: 450 }, (_, i) => i + 1));
    logger.stop();
  });

  it("retries a failed flush with the same interaction ids", async () => {
    const send = vi
      .fn((_batch: Interaction[]) => Promise.resolve())
      .mockImplementationOnce(() => Promise.reject(Object.assign(new Error("unavailable"), { status: 503 })));
    const logger = setup(send);
    logger.logImpression(event);
    logger.logDwell(event, 1234);
    await vi.advanceTimersByTimeAsync(5000);
    expect(send).toHaveBeenCalledTimes(1);
    expect(logger.pending()).toHaveLength(2);
    logger.logClick(club);
    await vi.advanceTimersByTimeAsync(5000);
    expect(send).toHaveBeenCalledTimes(2);
    const first = send.mock.calls[0][0];
    const second = send.mock.calls[1][0];
    expect(second.slice(0, 2)).toEqual(first);
    expect(second.slice(0, 2).map((i) => i.interaction_id)).toEqual(["id-000001", "id-000002"]);
    expect(second[2]).toMatchObject({ item_type: "club", kind: "click", interaction_id: "id-000003" });
    expect(logger.pending()).toEqual([]);
    logger.stop();
  });

  it("retries on network errors and 429, drops batches the server refuses for good", async () => {
    const send = vi.fn((_batch: Interaction[]): Promise<unknown> =>
      Promise.reject(Object.assign(new Error("rate"), { status: 429 })),
    );
    const logger = setup(send);
    logger.logImpression(event);
    await logger.flush();
    expect(logger.pending()).toHaveLength(1);
    send.mockImplementationOnce(() => Promise.reject(new TypeError("Failed to fetch")));
    await logger.flush();
    expect(logger.pending()).toHaveLength(1);
    send.mockImplementationOnce(() => Promise.reject(Object.assign(new Error("invalid"), { status: 422 })));
    await logger.flush();
    expect(logger.pending()).toEqual([]);
    logger.stop();
  });

  it("keeps one request in flight; items logged meanwhile go in the next one", async () => {
    let resolve!: () => void;
    const send = vi.fn((_batch: Interaction[]) => new Promise<void>((r) => (resolve = r)));
    const logger = setup(send);
    logger.logImpression(event);
    const p = logger.flush();
    logger.logImpression(club);
    expect(logger.flush()).toBe(p);
    expect(send).toHaveBeenCalledTimes(1);
    resolve();
    await p;
    expect(logger.pending().map((i) => i.item_type)).toEqual(["club"]);
    send.mockImplementation(() => Promise.resolve());
    await logger.flush();
    expect(send.mock.calls[1][0].map((i) => i.item_type)).toEqual(["club"]);
    logger.stop();
  });

  it("dwell has dwell_ms of at least 1 ms and only dwell carries it", () => {
    const logger = setup(() => Promise.resolve());
    expect(logger.logDwell(event, 0)).toMatchObject({ kind: "dwell", dwell_ms: 1 });
    expect(logger.logDwell(event, 2500.4)).toMatchObject({ dwell_ms: 2500 });
    expect(logger.logDwell(event, Number.NaN)).toMatchObject({ dwell_ms: 1 });
    expect(logger.logDwell(event, 1e12)?.dwell_ms).toBe(24 * 3600 * 1000);
    expect(logger.logImpression(event)).not.toHaveProperty("dwell_ms");
    logger.stop();
  });

  it("ignores items that are not events, clubs or rooms with a positive id", () => {
    const logger = setup(() => Promise.resolve());
    expect(logger.logImpression({ type: "event", id: 0 })).toBeNull();
    expect(logger.logImpression({ type: "user" as never, id: 1 })).toBeNull();
    expect(logger.pending()).toEqual([]);
    logger.stop();
  });

  it("measures dwell from the click until the user leaves the item's page", async () => {
    let now = 1_000_000;
    let path = "/";
    const send = vi.fn((_batch: Interaction[]) => Promise.resolve());
    const logger = setup(send, { now: () => now, currentPath: () => path, dwellCheckMs: 1000, intervalMs: 60_000 });
    logger.logClick(room);
    path = "/clubs/3/rooms/11";
    now += 1000;
    await vi.advanceTimersByTimeAsync(1000);
    path = "/clubs/3/rooms/11/"; // still the item's page
    now += 7000;
    await vi.advanceTimersByTimeAsync(7000);
    expect(logger.pending().map((i) => i.kind)).toEqual(["click"]);
    path = "/clubs";
    now += 1000;
    await vi.advanceTimersByTimeAsync(1000);
    expect(logger.pending().map((i) => i.kind)).toEqual(["click", "dwell"]);
    expect(logger.pending()[1]).toMatchObject({ item_type: "room", item_id: 11, dwell_ms: 9000 });
    // Closed once: nothing more is logged.
    await vi.advanceTimersByTimeAsync(5000);
    expect(logger.closeItem()).toBeNull();
    expect(logger.pending()).toHaveLength(2);
    logger.stop();
  });

  it("closes the opened item and sends everything when the page is hidden", async () => {
    let now = 0;
    const send = vi.fn((_batch: Interaction[]) => Promise.resolve());
    const logger = setup(send, { now: () => now });
    logger.logClick(event);
    now += 4200;
    logger.pageHidden();
    await settle();
    expect(send).toHaveBeenCalledTimes(1);
    expect(send.mock.calls[0][0].map((i) => [i.kind, i.dwell_ms])).toEqual([
      ["click", undefined],
      ["dwell", 4200],
    ]);
    logger.stop();
  });

  it("flushes on visibilitychange to hidden", async () => {
    const send = vi.fn((_batch: Interaction[]) => Promise.resolve());
    const logger = setup(send);
    const docListeners = new Map<string, () => void>();
    const winListeners = new Map<string, () => void>();
    const doc = {
      visibilityState: "visible",
      addEventListener: (t: string, f: () => void) => docListeners.set(t, f),
      removeEventListener: (t: string) => docListeners.delete(t),
    };
    const win = {
      addEventListener: (t: string, f: () => void) => winListeners.set(t, f),
      removeEventListener: (t: string) => winListeners.delete(t),
    };
    logger.attachToPage(doc as unknown as Document, win as unknown as Window);
    logger.logImpression(event);
    docListeners.get("visibilitychange")?.();
    expect(send).not.toHaveBeenCalled();
    doc.visibilityState = "hidden";
    docListeners.get("visibilitychange")?.();
    await settle();
    expect(send).toHaveBeenCalledTimes(1);
    logger.stop();
    expect(docListeners.size).toBe(0);
    expect(winListeners.size).toBe(0);
  });

  it("drops the oldest beyond the queue bound", () => {
    const logger = setup(() => new Promise(() => {}), { maxQueue: 5, flushAt: 1000 });
    for (let i = 1; i <= 8; i++) logger.logImpression({ type: "event", id: i });
    expect(logger.pending().map((i) => i.item_id)).toEqual([4, 5, 6, 7, 8]);
    logger.stop();
  });
});

describe("helpers", () => {
  it("item paths", () => {
    expect(itemPath(event)).toBe("/events/7");
    expect(itemPath(club)).toBe("/clubs/3");
    expect(itemPath(room)).toBe("/clubs/3/rooms/11");
  });

  it("interaction ids match the server's pattern", () => {
    for (let i = 0; i < 20; i++) expect(newInteractionId()).toMatch(/^[A-Za-z0-9_-]{8,64}$/);
  });
});

describe("feedReason", () => {
  const now = Date.parse("2026-12-01T12:00:00Z");
  const event = { type: "event" as const, score: 0.4, reason: "A popular event — ranked by popularity until …", club_name: "Jazz Circle" };

  it("people the member knows first, whatever ranked it", () => {
    expect(feedReason({ ...event, friends_going: 3, friends_club: "Jazz Circle" }, false, now)).toBe(
      "3 people from Jazz Circle are going",
    );
    expect(feedReason({ ...event, friends_going: 1, friends_club: "Chess" }, true, now)).toBe("1 person from Chess is going");
    expect(feedReason({ type: "club", score: 1, reason: "x", friends_members: 2 }, false, now)).toBe(
      "2 people from your clubs are members",
    );
  });

  it("a trained ranker's reason is kept", () => {
    expect(feedReason({ ...event, reason: "Because you're active in Jazz Circle" }, true, now)).toBe(
      "Because you're active in Jazz Circle",
    );
  });

  it("without a model: the card's facts, never the popularity sentence", () => {
    const soon = "2026-12-02T09:00:00Z";
    const later = "2026-12-20T09:00:00Z";
    expect(feedReason({ ...event, member: true, starts_at: soon }, false, now)).toBe("Coming up soon in your club Jazz Circle");
    expect(feedReason({ ...event, member: true, starts_at: later }, false, now)).toBe("Coming up in your club Jazz Circle");
    expect(feedReason({ ...event, member: false, starts_at: later }, false, now)).toBe("Popular in clubs like yours");
    expect(feedReason({ ...event, score: 0, member: false, starts_at: later }, false, now)).toBe("Open to everyone in Jazz Circle");
    expect(feedReason({ ...event, member: true, status: "live" }, false, now)).toBe("Live now in your club Jazz Circle");
    expect(feedReason({ type: "club", score: 2, reason: "x", club_name: "Go" }, false, now)).toBe("Popular in clubs like yours");
    expect(feedReason({ type: "club", score: 0, reason: "x", club_name: "Go" }, false, now)).toBe("A new club you might like");
    expect(feedReason({ type: "room", score: 1, reason: "x", club_name: "Go" }, false, now)).toBe("Active now in your club Go");
  });
});
