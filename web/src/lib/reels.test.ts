import { describe, expect, it, vi } from "vitest";

vi.mock("./api", () => ({ api: vi.fn(() => Promise.resolve({ accepted: 0 })) }));

import { InteractionLogger, type Interaction } from "./interactions";
import { ReelWatchTracker, reelOf } from "./reels";

function setup(skipMs = 2000) {
  let now = 0;
  const logged: [number, string, number | undefined][] = [];
  const tracker = new ReelWatchTracker((id, kind, ms) => logged.push([id, kind, ms]), { now: () => now, skipMs });
  return {
    tracker,
    logged,
    at: (ms: number) => {
      now = ms;
    },
  };
}

describe("ReelWatchTracker", () => {
  it("logs play on start, watch with its time on pause, complete on ended", () => {
    const { tracker, logged, at } = setup();
    tracker.visible(1);
    at(100);
    tracker.playing(1);
    at(1600);
    tracker.paused(1);
    at(2000);
    tracker.playing(1); // resumed: no second play
    at(3000);
    tracker.paused(1); // the end pauses first…
    tracker.ended(1); // …then ends
    expect(logged).toEqual([
      [1, "play", undefined],
      [1, "watch", 1500],
      [1, "watch", 1000],
      [1, "complete", 2500],
    ]);
  });

  it("logs the watched stretch when the reel leaves the view, and no skip after a long look", () => {
    const { tracker, logged, at } = setup();
    tracker.visible(2);
    tracker.playing(2);
    at(5000);
    tracker.hidden(2);
    expect(logged).toEqual([
      [2, "play", undefined],
      [2, "watch", 5000],
    ]);
  });

  it("a reel scrolled past quickly is skipped (with what was watched of it)", () => {
    const { tracker, logged, at } = setup();
    tracker.visible(3);
    tracker.playing(3);
    at(700);
    tracker.hidden(3);
    tracker.visible(4); // never played, gone at once
    at(900);
    tracker.hidden(4);
    expect(logged).toEqual([
      [3, "play", undefined],
      [3, "watch", 700],
      [3, "skip", 700],
      [4, "skip", 0],
    ]);
  });

  it("a completed reel is not skipped, and playing it again is another play", () => {
    const { tracker, logged, at } = setup(10_000);
    tracker.visible(5);
    tracker.playing(5);
    at(2000);
    tracker.ended(5);
    at(2100);
    tracker.hidden(5);
    tracker.visible(5);
    at(2200);
    tracker.playing(5);
    at(2300);
    tracker.stopAll();
    expect(logged.map(([, kind]) => kind)).toEqual(["play", "watch", "complete", "play", "watch"]);
  });

  it("ignores a play that is paused at once", () => {
    const { tracker, logged, at } = setup();
    tracker.visible(6);
    at(5000);
    tracker.playing(6);
    at(5040);
    tracker.paused(6);
    expect(logged).toEqual([[6, "play", undefined]]);
  });
});

describe("reel interactions go in the feed's batches", () => {
  it("carries watch_ms for watch, complete and skip", async () => {
    const send = vi.fn((_batch: Interaction[]) => Promise.resolve());
    let n = 0;
    const logger = new InteractionLogger({ send, newId: () => `id-${String(++n).padStart(6, "0")}` });
    logger.log({ type: "reel", id: 9 }, "play");
    logger.log({ type: "reel", id: 9 }, "watch", 1234.4);
    logger.log({ type: "reel", id: 9 }, "complete", 3000);
    logger.log({ type: "reel", id: 10 }, "skip", 0);
    await logger.flushAll();
    expect(send).toHaveBeenCalledTimes(1);
    expect(send.mock.calls[0][0]).toEqual([
      { item_type: "reel", item_id: 9, kind: "play", interaction_id: "id-000001" },
      { item_type: "reel", item_id: 9, kind: "watch", watch_ms: 1234, interaction_id: "id-000002" },
      { item_type: "reel", item_id: 9, kind: "complete", watch_ms: 3000, interaction_id: "id-000003" },
      { item_type: "reel", item_id: 10, kind: "skip", watch_ms: 0, interaction_id: "id-000004" },
    ]);
    logger.stop();
  });
});

describe("reelOf", () => {
  const media = { id: "ab", kind: "video", url: "/media/ab/file", poster_url: "/media/ab/poster", width: 720, height: 1280, duration_ms: 3000, blurhash: null };
  it("reads a reel at the top of a feed item or under `reel`", () => {
    expect(reelOf({ type: "reel", id: 4, caption: "Hi", club_id: 2, club_name: "Jazz", author: { id: 1, display_name: "Ann" }, media })).toMatchObject({
      id: 4,
      caption: "Hi",
      club_name: "Jazz",
      author: { display_name: "Ann" },
      media: { url: "/media/ab/file" },
    });
    expect(reelOf({ type: "reel", id: 4, score: 1, reason: "", reel: { id: 4, caption: "", media } })?.media.id).toBe("ab");
  });
  it("is null without a playable video (then GET /reels/{id} is asked)", () => {
    expect(reelOf({ type: "reel", id: 4, score: 1, reason: "" })).toBeNull();
    expect(reelOf({ type: "reel", id: 4, media: { ...media, kind: "image" } })).toBeNull();
    expect(reelOf(null)).toBeNull();
  });
});
