import { describe, expect, it, vi } from "vitest";

import {
  LiveSync,
  NameCache,
  applyLiveUpdate,
  charCount,
  openQuestionsOf,
  cleanPollOptions,
  fromJoin,
  pendingNews,
  formatDuration,
  percent,
  pollResults,
  resultLabel,
  roleOf,
  sortQuestions,
  userIdsOf,
  votesLabel,
  type LiveChange,
  type LivePendingQuestion,
  type LiveQuestion,
  type LiveState,
  type LiveUpdate,
} from "./live";

function q(question_id: number, votes: number, answered = false): LiveQuestion {
  return { question_id, author_id: 100 + question_id, text: `q${question_id}`, votes, answered };
}

describe("sortQuestions", () => {
  it("orders open questions by votes, then age, answered ones last", () => {
    const sorted = sortQuestions([q(1, 0), q(2, 5, true), q(3, 2), q(4, 2), q(5, 9, true), q(6, 7)]);
    expect(sorted.map((x) => x.question_id)).toEqual([6, 3, 4, 1, 5, 2]);
  });

  it("does not change its input", () => {
    const input = [q(1, 0), q(2, 3)];
    sortQuestions(input);
    expect(input.map((x) => x.question_id)).toEqual([1, 2]);
  });
});

describe("poll results", () => {
  it("percentages of all votes", () => {
    const r = pollResults({ options: ["Yes", "No", "Maybe"], tallies: [2, 1, 1] });
    expect(r.total).toBe(4);
    expect(r.options.map((o) => [o.option, o.votes, o.percent])).toEqual([
      ["Yes", 2, 50],
      ["No", 1, 25],
      ["Maybe", 1, 25],
    ]);
    expect(resultLabel(r.options[0])).toBe("2 votes (50%)");
    expect(resultLabel(r.options[1])).toBe("1 vote (25%)");
  });

  it("no votes: 0% everywhere, missing tallies count as 0", () => {
    const r = pollResults({ options: ["A", "B"], tallies: [] });
    expect(r.total).toBe(0);
    expect(r.options.map((o) => o.percent)).toEqual([0, 0]);
    expect(resultLabel(r.options[0])).toBe("0 votes (0%)");
  });

  it("rounds to whole percent", () => {
    expect(percent(1, 3)).toBe(33);
    expect(percent(2, 3)).toBe(67);
    expect(percent(3, 3)).toBe(100);
    expect(percent(0, 0)).toBe(0);
  });

  it("vote labels", () => {
    expect(votesLabel(0)).toBe("0 votes");
    expect(votesLabel(1)).toBe("1 vote");
    expect(votesLabel(12)).toBe("12 votes");
  });
});

describe("cleanPollOptions", () => {
  it("trims and drops empty options", () => {
    expect(cleanPollOptions([" Red ", "", "Blue"])).toEqual({ options: ["Red", "Blue"] });
  });
  it("needs two different options, at most ten", () => {
    expect(cleanPollOptions(["Red", " "]).error).toBeTruthy();
    expect(cleanPollOptions(["Red", "Red"]).error).toBeTruthy();
    expect(cleanPollOptions(Array.from({ length: 11 }, (_, i) => `o${i}`)).error).toBeTruthy();
  });
});

describe("roles and ids", () => {
  const state: LiveState = {
    event_id: 1, room_id: 2, status: "live", host_id: 10, speakers: [11], audience_count: 3, present: 5,
    hands: [12, 13], questions: [q(1, 0)], polls: [], pinned: null, moderated: false, pending_count: 0, version: 0,
  };
  it("roleOf", () => {
    expect(roleOf(state, 10)).toBe("host");
    expect(roleOf(state, 11)).toBe("speaker");
    expect(roleOf(state, 12)).toBe("audience");
    expect(roleOf(state, null)).toBe("audience");
  });
  it("userIdsOf", () => {
    expect(userIdsOf(state).sort()).toEqual([10, 101, 11, 12, 13].sort());
  });
});

describe("formatDuration", () => {
  it("formats", () => {
    expect(formatDuration(45)).toBe("45s");
    expect(formatDuration(750)).toBe("12m 30s");
    expect(formatDuration(3900)).toBe("1h 05m");
  });
});

describe("NameCache", () => {
  it("fetches each name once, shares concurrent fetches, retries failures", async () => {
    let fail = true;
    const fetchName = vi.fn((id: number) =>
      id === 3 && fail ? Promise.reject(new Error("down")) : Promise.resolve(`Name ${id}`),
    );
    const cache = new NameCache(fetchName);
    expect(cache.label(1)).toBe("User 1");
    await Promise.all([cache.load([1, 2, 1]), cache.load([2, 3])]);
    expect(fetchName).toHaveBeenCalledTimes(3);
    expect(cache.label(1)).toBe("Name 1");
    expect(cache.get(3)).toBeUndefined();
    await cache.load([1, 2]);
    expect(fetchName).toHaveBeenCalledTimes(3);
    fail = false;
    await cache.load([3]);
    expect(cache.label(3)).toBe("Name 3");
  });
});

function base(extra: Partial<LiveState> = {}): LiveState {
  return {
    event_id: 1, room_id: 2, status: "live", host_id: 10, speakers: [], audience_count: 2, present: 3,
    hands: [], questions: [], polls: [], pinned: null, moderated: false, pending_count: 0, version: 5, ...extra,
  };
}

/** An update of `changes` applying on `from` (so its version is from + changes.length). */
function upd(from: number, ...changes: LiveChange[]): LiveUpdate {
  return { event_id: 1, version: from + changes.length, changes };
}

function apply(state: LiveState, ...changes: LiveChange[]): LiveState {
  const r = applyLiveUpdate(state, upd(state.version, ...changes));
  expect(r.outcome).toBe("applied");
  expect(r.state.version).toBe(state.version + changes.length);
  return r.state;
}

describe("live:update changes", () => {
  it("presence: counts from the change; going offline drops the user's hand", () => {
    let s = base({ hands: [12, 13] });
    s = apply(s, { kind: "presence", user_id: 14, online: true, present: 4, audience_count: 3 });
    expect([s.present, s.audience_count, s.hands]).toEqual([4, 3, [12, 13]]);
    s = apply(s, { kind: "presence", user_id: 12, online: false, present: 3, audience_count: 2 });
    expect([s.present, s.audience_count, s.hands]).toEqual([3, 2, [13]]);
  });

  it("hand: raised goes last, once; lowered leaves", () => {
    let s = apply(base({ hands: [12] }), { kind: "hand", user_id: 13, raised: true });
    expect(s.hands).toEqual([12, 13]);
    s = apply(s, { kind: "hand", user_id: 12, raised: true });
    expect(s.hands).toEqual([13, 12]);
    s = apply(s, { kind: "hand", user_id: 13, raised: false }, { kind: "hand", user_id: 99, raised: false });
    expect(s.hands).toEqual([12]);
  });

  it("role: a new speaker loses the raised hand; audience leaves the stage", () => {
    let s = apply(base({ hands: [12, 13] }), { kind: "role", user_id: 12, role: "speaker" });
    expect([s.speakers, s.hands]).toEqual([[12], [13]]);
    s = apply(s, { kind: "role", user_id: 12, role: "speaker" });
    expect(s.speakers).toEqual([12]);
    s = apply(s, { kind: "role", user_id: 12, role: "audience" });
    expect([s.speakers, s.hands]).toEqual([[], [13]]);
  });

  it("question: upserted and kept by votes desc, then id asc", () => {
    let s = base({ questions: [q(1, 2), q(2, 0)] });
    s = apply(s, { kind: "question", question: q(3, 0) });
    expect(s.questions.map((x) => x.question_id)).toEqual([1, 2, 3]);
    s = apply(s, { kind: "question", question: q(3, 3) }, { kind: "question", question: q(2, 2) });
    expect(s.questions.map((x) => [x.question_id, x.votes])).toEqual([[3, 3], [1, 2], [2, 2]]);
    s = apply(s, { kind: "question", question: { ...q(3, 3), answered: true } });
    expect(s.questions).toHaveLength(3);
    expect(s.questions[0]).toMatchObject({ question_id: 3, answered: true });
  });

  it("poll: a new one is added, a known one replaced (tallies, closed)", () => {
    const poll = { poll_id: 7, question: "Day?", options: ["Sat", "Sun"], tallies: [0, 0], closed: false };
    let s = apply(base(), { kind: "poll", poll });
    expect(s.polls).toEqual([poll]);
    s = apply(s, { kind: "poll", poll: { ...poll, tallies: [2, 1] } }, { kind: "poll", poll: { ...poll, poll_id: 8 } });
    expect(s.polls.map((p) => [p.poll_id, p.tallies])).toEqual([[7, [2, 1]], [8, [0, 0]]]);
    s = apply(s, { kind: "poll", poll: { ...poll, tallies: [2, 1], closed: true } });
    expect(s.polls[0].closed).toBe(true);
  });

  it("pin and unpin", () => {
    let s = apply(base(), { kind: "pin", pinned: "Welcome" });
    expect(s.pinned).toBe("Welcome");
    s = apply(s, { kind: "pin", pinned: null });
    expect(s.pinned).toBeNull();
  });

  it("status: ended", () => {
    expect(apply(base(), { kind: "status", status: "ended" }).status).toBe("ended");
  });

  it("an unknown kind only moves the version", () => {
    const s = base();
    const next = apply(s, { kind: "confetti" } as unknown as LiveChange);
    expect({ ...next, version: s.version }).toEqual(s);
  });

  it("does not change the state it is given", () => {
    const s = base({ hands: [12], questions: [q(1, 0)] });
    const copy = structuredClone(s);
    apply(s, { kind: "hand", user_id: 13, raised: true }, { kind: "question", question: q(2, 4) });
    expect(s).toEqual(copy);
  });
});

describe("live:update versions", () => {
  const hand = (user_id: number): LiveChange => ({ kind: "hand", user_id, raised: true });

  it("applies on its base version, skips what the state already holds, reports gaps", () => {
    const s = base({ version: 5 });
    expect(applyLiveUpdate(s, upd(6, hand(1))).outcome).toBe("gap");
    expect(applyLiveUpdate(s, upd(4, hand(1))).outcome).toBe("stale");
    expect(applyLiveUpdate(s, upd(3, hand(1), hand(2))).outcome).toBe("stale");
    const partly = applyLiveUpdate(s, upd(3, hand(1), hand(2), hand(3)));
    expect(partly.outcome).toBe("applied");
    expect([partly.state.version, partly.state.hands]).toEqual([6, [3]]);
  });

  it("ignores another session's update and garbage", () => {
    const s = base();
    expect(applyLiveUpdate(s, { ...upd(5, hand(1)), event_id: 2 }).outcome).toBe("other");
    expect(applyLiveUpdate(s, null).outcome).toBe("other");
    expect(applyLiveUpdate(s, { event_id: 1, version: "6", changes: [] }).outcome).toBe("other");
  });
});

describe("LiveSync", () => {
  const hand = (user_id: number): LiveChange => ({ kind: "hand", user_id, raised: true });

  it("a gap asks for a join; the join's state replaces the old one", () => {
    const onGap = vi.fn();
    const sync = new LiveSync(onGap);
    sync.joinSent();
    sync.joined(base({ version: 5 }));
    expect(sync.update(upd(5, hand(1)))?.hands).toEqual([1]);
    expect(sync.update(upd(7, hand(2)))).toBeNull();
    expect(onGap).toHaveBeenCalledTimes(1);
    expect(sync.state?.hands).toEqual([1]);
    sync.joinSent();
    const fresh = sync.joined(base({ version: 8, hands: [1, 3, 2] }));
    expect(fresh.hands).toEqual([1, 3, 2]);
    expect(sync.update(upd(8, hand(4)))?.hands).toEqual([1, 3, 2, 4]);
    expect(onGap).toHaveBeenCalledTimes(1);
  });

  it("updates that cross the join ack are applied after it, the ones it holds are not applied twice", () => {
    const onGap = vi.fn();
    const sync = new LiveSync(onGap);
    sync.joinSent();
    expect(sync.update(upd(5, hand(1)))).toBeNull(); // already in the ack's state (version 6)
    expect(sync.update(upd(6, hand(2)))).toBeNull(); // newer than the ack: applied on it
    const s = sync.joined(base({ version: 6, hands: [1] }));
    expect([s.version, s.hands]).toEqual([7, [1, 2]]);
    expect(onGap).not.toHaveBeenCalled();
  });

  it("a gap among the held updates asks for another join", () => {
    const onGap = vi.fn();
    const sync = new LiveSync(onGap);
    sync.joinSent();
    sync.update(upd(9, hand(2)));
    sync.joined(base({ version: 6 }));
    expect(onGap).toHaveBeenCalledTimes(1);
  });

  it("the join state's questions come in the server's order", () => {
    const sync = new LiveSync(() => undefined);
    sync.joinSent();
    const s = sync.joined(base({ questions: [q(3, 1), q(1, 1), q(2, 4)] }));
    expect(s.questions.map((x) => x.question_id)).toEqual([2, 1, 3]);
  });

  it("nothing is applied before a join", () => {
    const sync = new LiveSync(() => undefined);
    expect(sync.update(upd(5, hand(1)))).toBeNull();
    expect(sync.state).toBeNull();
  });
});

describe("question limits", () => {
  it("counts the member's open questions", () => {
    const s = base({ questions: [q(1, 0), q(2, 0, true), { ...q(3, 0), author_id: 101 }] });
    expect(openQuestionsOf(s, 101)).toBe(2);
    expect(openQuestionsOf(s, 102)).toBe(0); // answered
    expect(openQuestionsOf(s, null)).toBe(0);
  });
  it("counts characters as code points", () => {
    expect(charCount("héllo")).toBe(5);
    expect(charCount("👍👍")).toBe(2);
  });
});

describe("moderated Q&A and anonymous questions", () => {
  const pend = (question_id: number, status: "new" | "approved" | "dismissed", count: number): LiveChange => ({
    kind: "pending",
    question_id,
    status,
    count,
  });

  it("pending and moderation changes move the count and the switch, never the questions", () => {
    let s = apply(base(), { kind: "moderation", moderated: true }, pend(7, "new", 1));
    expect(s.moderated).toBe(true);
    expect(s.pending_count).toBe(1);
    expect(s.questions).toEqual([]);
    s = apply(s, pend(7, "approved", 0), { kind: "question", question: q(7, 0) });
    expect(s.pending_count).toBe(0);
    expect(s.questions.map((x) => x.question_id)).toEqual([7]);
  });

  it("pendingNews: new questions ask for a fetch; approved and dismissed ones leave the queue", () => {
    expect(pendingNews(upd(5, pend(7, "new", 1)), 1)).toEqual({ fresh: true, resolved: [] });
    expect(pendingNews(upd(5, pend(7, "approved", 1), hand(2), pend(8, "dismissed", 0)), 1)).toEqual({
      fresh: false,
      resolved: [7, 8],
    });
    expect(pendingNews(upd(5, pend(7, "new", 1)), 2)).toEqual({ fresh: false, resolved: [] }); // another event
    expect(pendingNews({ nope: true }, 1)).toEqual({ fresh: false, resolved: [] });
  });

  it("an anonymous question names nobody: no name to fetch", () => {
    const anon: LiveQuestion = { ...q(3, 0), author_id: null, anonymous: true };
    const s = base({ questions: [anon, q(4, 0)] });
    expect(userIdsOf(s).sort()).toEqual([10, 104].sort());
  });

  it("open questions count the anonymous ones asked here and the member's own awaiting approval", () => {
    const anon: LiveQuestion = { ...q(3, 0), author_id: null, anonymous: true };
    const mine = { ...q(1, 0), author_id: 42 };
    const waiting: LivePendingQuestion[] = [
      { ...q(9, 0), author_id: 42, mine: true },
      { ...q(10, 0), author_id: 43, mine: false }, // the host's queue holds others' too
    ];
    const s = base({ questions: [anon, mine, { ...q(2, 0), author_id: 42, answered: true }] });
    expect(openQuestionsOf(s, 42)).toBe(1);
    expect(openQuestionsOf(s, 42, new Set([3]), waiting)).toBe(3);
    expect(openQuestionsOf(s, null, new Set([3]), waiting)).toBe(0);
  });

  it("a join ack from a server without these fields still makes a whole state", () => {
    const { moderated: _m, pending_count: _p, ...old } = base();
    const s = fromJoin(old as LiveState);
    expect(s.moderated).toBe(false);
    expect(s.pending_count).toBe(0);
  });

  function hand(user_id: number): LiveChange {
    return { kind: "hand", user_id, raised: true };
  }
});
