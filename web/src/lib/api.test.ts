import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { api, renewAccessToken, renewalDue, setAccessToken, setSessionLostHandler } from "./api";

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

describe("apiFetch: the one refresh-and-retry path", () => {
  const json = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

  function server(refresh: () => Response | Promise<Response>) {
    const calls: { url: string; auth: string | null }[] = [];
    const fetchMock = vi.fn((url: string, init: RequestInit = {}) => {
      const auth = new Headers(init.headers).get("Authorization");
      calls.push({ url, auth });
      if (url.endsWith("/auth/refresh")) return Promise.resolve(refresh());
      return Promise.resolve(auth === "Bearer new" ? json(200, { ok: true }) : json(401, { error: { code: "unauthorized", message: "expired" } }));
    });
    vi.stubGlobal("fetch", fetchMock);
    return calls;
  }

  beforeEach(() => {
    setAccessToken("old", 900);
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    setSessionLostHandler(null);
    setAccessToken(null);
  });

  it("renews the token once on a 401 and sends the request again with the new one", async () => {
    const calls = server(() => json(200, { access_token: "new", token_type: "bearer", expires_in: 900 }));
    await expect(api("GET", "/me")).resolves.toEqual({ ok: true });
    expect(calls.map((c) => [c.url, c.auth])).toEqual([
      ["/api/v1/me", "Bearer old"],
      ["/api/v1/auth/refresh", null],
      ["/api/v1/me", "Bearer new"],
    ]);
  });

  it("a refused refresh ends the session and the request fails as it was", async () => {
    server(() => json(401, { error: { code: "unauthorized", message: "revoked" } }));
    const lost = vi.fn();
    setSessionLostHandler(lost);
    await expect(api("GET", "/me")).rejects.toMatchObject({ status: 401, code: "unauthorized" });
    expect(lost).toHaveBeenCalledTimes(1);
  });

  it("a refresh that cannot reach the server is no lost session, and nothing is sent again", async () => {
    const calls = server(() => {
      throw new TypeError("network down");
    });
    const lost = vi.fn();
    setSessionLostHandler(lost);
    await expect(renewAccessToken()).resolves.toBe("failed");
    await expect(api("GET", "/me")).rejects.toMatchObject({ status: 401 });
    expect(lost).not.toHaveBeenCalled();
    expect(calls.filter((c) => c.url === "/api/v1/me")).toHaveLength(1);
  });

  it("the auth routes themselves are never retried", async () => {
    const calls = server(() => json(200, { access_token: "new", token_type: "bearer", expires_in: 900 }));
    await expect(api("POST", "/auth/login", { email: "a", password: "b" })).rejects.toMatchObject({ status: 401 });
    expect(calls).toHaveLength(1);
  });
});
