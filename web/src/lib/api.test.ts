import { describe, expect, it } from "vitest";

import { renewalDue } from "./api";

describe("renewalDue", () => {
  const t0 = 1_000_000;

  it("a 15-minute token is renewed in its last 30 seconds", () => {
    const expires = t0 + 15 * 60_000;
    expect(renewalDue(t0, expires, t0)).toBe(false);
    expect(renewalDue(t0, expires, expires - 31_000)).toBe(false);
    expect(renewalDue(t0, expires, expires - 29_000)).toBe(true);
  });

  it("a 30-second token is not renewed on its first use, only in its last fifth", () => {
    const expires = t0 + 30_000;
    expect(renewalDue(t0, expires, t0)).toBe(false);
    expect(renewalDue(t0, expires, t0 + 23_000)).toBe(false);
    expect(renewalDue(t0, expires, t0 + 25_000)).toBe(true);
    expect(renewalDue(t0, expires, expires + 1)).toBe(true);
  });

  it("an unknown expiry is never due", () => {
    expect(renewalDue(t0, 0, t0 + 10 ** 9)).toBe(false);
  });
});
