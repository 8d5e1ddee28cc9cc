import { describe, expect, it, vi } from "vitest";

import {
  NameCache,
  cleanPollOptions,
  formatDuration,
  percent,
  pollResults,
  resultLabel,
  roleOf,
  sortQuestions,
  userIdsOf,
  votesLabel,
  type LiveQuestion,
  type LiveState,
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
    hands: [12, 13], questions: [q(1, 0)], polls: [], pinned: null,
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
    const fetchName = vi.fn(async (id: number) => {
      if (id === 3 && fail) throw new Error("down");
      return `Name ${id}`;
    });
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
