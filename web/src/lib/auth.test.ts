import { describe, expect, it } from "vitest";
import { ApiError } from "./api";
import { isOutage, retryDelayMs } from "./auth";

describe("isOutage", () => {
  it("an unreachable server, a 5xx or a rate limit is an outage, not a logout", () => {
    expect(isOutage(new ApiError(0, "network", "could not reach the server"))).toBe(true);
    expect(isOutage(new ApiError(503, "unavailable", "down"))).toBe(true);
    expect(isOutage(new ApiError(502, "unavailable", ""))).toBe(true);
    expect(isOutage(new ApiError(429, "rate_limited", ""))).toBe(true);
  });
  it("a refusal says something about the login", () => {
    expect(isOutage(new ApiError(401, "unauthorized", ""))).toBe(false);
    expect(isOutage(new ApiError(403, "forbidden", ""))).toBe(false);
    expect(isOutage(new Error("boom"))).toBe(false);
  });
});

describe("retryDelayMs", () => {
  it("backs off 1, 2, 4, 8 s, then every 10 s", () => {
    expect([1, 2, 3, 4, 5, 9].map(retryDelayMs)).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
  });
});
