import { describe, expect, it } from "vitest";

import { ApiError } from "./api";
import { formErrors, liveErrorMessage, removedMessage, sessionEndedMessage } from "./errors";

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

describe("formErrors", () => {
  const labels = { email: "Email", password: "Password", display_name: "Display name" };

  it("gives each field of a 422 its own sentence", () => {
    const e = new ApiError(
      422,
      "invalid",
      "email: value is not a valid email address: An email address must have an @-sign.; password: String should have at least 10 characters; display_name: String should have at least 1 character",
    );
    expect(formErrors(e, labels)).toEqual({
      fields: {
        email: "Enter an email address like name@example.com (An email address must have an @-sign).",
        password: "Use at least 10 characters.",
        display_name: "Enter your display name.",
      },
      form: null,
    });
  });

  it("a custom validator's message and the length limits", () => {
    const e = new ApiError(422, "invalid", "display_name: Value error, must be one line; password: String should have at most 256 characters");
    expect(formErrors(e, labels).fields).toEqual({ display_name: "Must be one line.", password: "Use at most 256 characters." });
  });

  it("what names no field of the form stays the form's error", () => {
    expect(formErrors(new ApiError(422, "invalid", "request body is not valid JSON"), labels)).toEqual({
      fields: {},
      form: "Please check what you entered: Request body is not valid JSON.",
    });
    const other = formErrors(new ApiError(422, "invalid", "body: Extra inputs are not permitted; password: String should have at least 10 characters"), labels);
    expect(other.fields).toEqual({ password: "Use at least 10 characters." });
    expect(other.form).toMatch(/Extra inputs/);
    expect(formErrors(new ApiError(429, "rate_limited", "slow down", 3), labels)).toEqual({
      fields: {},
      form: "Too many attempts: please wait 3 seconds and try again.",
    });
    expect(formErrors(null, labels)).toEqual({ fields: {}, form: null });
  });
});
