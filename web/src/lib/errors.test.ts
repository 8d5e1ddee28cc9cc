import { describe, expect, it } from "vitest";

import { ApiError } from "./api";
import { liveErrorMessage, removedMessage, sessionEndedMessage } from "./errors";

const err = (code: string, message = "", retryAfter?: number) => new ApiError(400, code, message, retryAfter);

describe("liveErrorMessage", () => {
  it("asking: the open-question cap, a full session, a long question", () => {
    expect(liveErrorMessage("live:ask", err("rate_limited", "too many requests"), 5)).toMatch(/5 open questions/);
    expect(liveErrorMessage("live:ask", err("rate_limited", "at most 5 open questions"), 0)).toMatch(/5 open questions/);
    expect(liveErrorMessage("live:ask", err("conflict", "this session has reached its 200 questions"))).toMatch(
      /limit of 200 questions/,
    );
    expect(liveErrorMessage("live:ask", err("conflict", "the live session has ended"))).toBe("The live session has ended.");
    expect(liveErrorMessage("live:ask", err("too_large"))).toMatch(/at most 500 characters/);
  });

  it("a rate limit says how long to wait", () => {
    expect(liveErrorMessage("live:ask", err("rate_limited", "too many actions: wait 2.2s", 2.2), 5)).toBe(
      "You are doing that too often: please wait 3 seconds and try again.",
    );
    expect(liveErrorMessage("live:upvote", err("rate_limited"))).toBe(
      "You are doing that too often: please wait a moment and try again.",
    );
  });

  it("other actions and codes fall back to the general sentences", () => {
    expect(liveErrorMessage("live:vote", err("conflict", "already voted"))).toBe("Already voted.");
    expect(liveErrorMessage("live:hand", err("forbidden"))).toMatch(/no longer take part/);
    expect(liveErrorMessage("live:hand", new Error("boom"))).toBe("Boom.");
  });
});

describe("removal and session messages", () => {
  it("says why", () => {
    expect(removedMessage("banned")).toBe("You were removed from this club.");
    expect(removedMessage(undefined)).toBe("You were removed from this club.");
    expect(removedMessage("left the club")).toMatch(/You left this club/);
    expect(sessionEndedMessage("logout")).toMatch(/logged out/);
    expect(sessionEndedMessage("revoked")).toMatch(/security/);
    expect(sessionEndedMessage("expired")).toMatch(/expired/);
    expect(sessionEndedMessage("whatever")).toMatch(/ended/);
  });
});
