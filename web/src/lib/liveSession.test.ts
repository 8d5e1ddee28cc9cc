import { describe, expect, it } from "vitest";

import { ApiError } from "./api";
import type { ClubEvent } from "./events";
import type { LiveState } from "./live";
import { initialLive, livePhase, liveReducer, type LiveAction, type LiveModel } from "./liveSession";

function live(overrides: Partial<LiveState> = {}): LiveState {
  return {
    event_id: 7,
    room_id: 3,
    status: "live",
    host_id: 1,
    speakers: [2],
    audience_count: 2,
    present: 3,
    hands: [4],
    questions: [],
    polls: [],
    pinned: null,
    moderated: false,
    pending_count: 0,
    version: 5,
    ...overrides,
  };
}

function event(overrides: Partial<ClubEvent> = {}): ClubEvent {
  return {
    id: 7,
    club_id: 1,
    host_id: 1,
    title: "Ask Ann Anything",
    description: "",
    starts_at: "2026-12-01T18:00:00Z",
    ends_at: "2026-12-01T19:00:00Z",
    capacity: null,
    status: "live",
    room_id: 3,
    summary: null,
    ...overrides,
  };
}

function run(...actions: LiveAction[]): LiveModel {
  return actions.reduce(liveReducer, initialLive);
}

describe("liveReducer", () => {
  it("a joined state clears the last join error", () => {
    const m = run({ type: "joinFailed", error: new ApiError(404, "not_found", "") }, { type: "joined", state: live() });
    expect(m.joinError).toBeNull();
    expect(m.state?.version).toBe(5);
  });

  it("an update keeps a failed rejoin's error (it shows only while there is no state)", () => {
    const err = new ApiError(0, "timeout", "");
    const m = run({ type: "joined", state: live() }, { type: "joinFailed", error: err }, { type: "updated", state: live({ version: 6 }) });
    expect(m.joinError).toBe(err);
    expect(m.state?.version).toBe(6);
  });

  it("live:removed drops the session, its errors and offers nothing more", () => {
    const m = run(
      { type: "joined", state: live() },
      { type: "actFailed", error: { error: new Error("x"), message: "x" } },
      { type: "removed", reason: "banned" },
    );
    expect(m).toMatchObject({ state: null, joinError: null, error: null, removed: "banned" });
    expect(livePhase(m, 4)).toEqual({ kind: "removed", reason: "banned" });
  });

  it("an action clears the last refusal, and keeps the model when there is none", () => {
    const failed = run({ type: "actFailed", error: { error: new Error("x"), message: "x" } });
    expect(liveReducer(failed, { type: "actStarted" }).error).toBeNull();
    expect(liveReducer(initialLive, { type: "actStarted" })).toBe(initialLive);
  });

  it("votes and upvotes accumulate without touching the previous sets", () => {
    const one = run({ type: "voted", pollId: 1 });
    const two = liveReducer(one, { type: "voted", pollId: 2 });
    expect([...two.voted]).toEqual([1, 2]);
    expect([...one.voted]).toEqual([1]);
    expect([...run({ type: "upvoted", questionId: 9 }).upvoted]).toEqual([9]);
  });

  it("the host's end marks the state ended and keeps the summary it answered with", () => {
    const m = run({ type: "joined", state: live() }, { type: "ended", summary: { attendance: 3 } });
    expect(m.state?.status).toBe("ended");
    expect(livePhase(m, 1)).toEqual({ kind: "ended", summary: { attendance: 3 } });
  });

  it("names replace the known ones", () => {
    const names = new Map([[1, "Ann"]]);
    expect(run({ type: "names", names }).names.get(1)).toBe("Ann");
  });
});

describe("livePhase", () => {
  it("waits for the join, saying when the session has not started", () => {
    expect(livePhase(initialLive, 1)).toEqual({ kind: "waiting", joinError: null, notStarted: false });
    const notFound = new ApiError(404, "not_found", "no live session");
    expect(livePhase(run({ type: "joinFailed", error: notFound }), 1)).toMatchObject({ kind: "waiting", notStarted: true });
  });

  it("an event that ended before we came shows its summary without a state", () => {
    const m = run({ type: "event", event: event({ status: "ended", summary: { attendance: 9 } }) });
    expect(livePhase(m, 1)).toEqual({ kind: "ended", summary: { attendance: 9 } });
  });

  it("an ended state without a summary yet shows the end while it loads", () => {
    expect(livePhase(run({ type: "joined", state: live({ status: "ended" }) }), 1)).toEqual({ kind: "ended", summary: null });
  });

  it("gives the viewer's role and hand", () => {
    const m = run({ type: "joined", state: live() });
    expect(livePhase(m, 1)).toMatchObject({ kind: "live", role: "host", handRaised: false });
    expect(livePhase(m, 2)).toMatchObject({ role: "speaker" });
    expect(livePhase(m, 4)).toMatchObject({ role: "audience", handRaised: true });
    expect(livePhase(m, null)).toMatchObject({ role: "audience", handRaised: false });
  });
});

describe("the review queue", () => {
  const waiting = (question_id: number, mine = false) => ({
    question_id,
    author_id: mine ? 9 : null,
    text: `q${question_id}`,
    votes: 0,
    answered: false,
    anonymous: !mine,
    mine,
  });

  it("a fetched queue replaces the last; approved or dismissed questions leave it", () => {
    let m = run({ type: "pending", questions: [waiting(1), waiting(2), waiting(3, true)] });
    expect(m.pending.map((q) => q.question_id)).toEqual([1, 2, 3]);
    m = liveReducer(m, { type: "pendingResolved", ids: [2] });
    expect(m.pending.map((q) => q.question_id)).toEqual([1, 3]);
  });

  it("a queue fetched before an approval cannot bring the approved question back", () => {
    // the fetch answer and the approval's update travel apart: the update may come first
    const m = run(
      { type: "pending", questions: [waiting(1)] },
      { type: "pendingResolved", ids: [1] },
      { type: "pending", questions: [waiting(1), waiting(4)] },
    );
    expect(m.pending.map((q) => q.question_id)).toEqual([4]);
  });

  it("remembers the questions this member asked (anonymous ones name nobody in the state)", () => {
    const m = run({ type: "asked", questionId: 5 }, { type: "asked", questionId: 6 });
    expect([...m.asked]).toEqual([5, 6]);
  });
});
