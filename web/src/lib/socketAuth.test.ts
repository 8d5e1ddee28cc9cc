import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { ApiError } from "./api";
import { RENEW_RETRY_MS, SocketAuth, renewDelay, type SocketAuthDeps } from "./socketAuth";

const MIN = 60_000;

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

function setup(overrides: Partial<SocketAuthDeps> = {}) {
  let connected = true;
  let n = 0;
  const deps = {
    // A refresh hands a new 15-minute token to the controller, as api.ts's listener does.
    refresh: vi.fn(() => {
      const now = Date.now();
      auth.tokenChanged(`token-${++n}`, now, now + 15 * MIN);
      return Promise.resolve();
    }),
    sendRefresh: vi.fn((_token: string) => Promise.resolve({ ok: true })),
    connected: vi.fn(() => connected),
    reconnect: vi.fn(),
    sessionLost: vi.fn(),
    ...overrides,
  };
  const auth = new SocketAuth(deps);
  return { auth, deps, setConnected: (c: boolean) => (connected = c) };
}

describe("renewDelay", () => {
  it("is 80 % into the token's lifetime", () => {
    expect(renewDelay(0, 15 * MIN, 0)).toBe(12 * MIN);
    expect(renewDelay(0, 15 * MIN, 10 * MIN)).toBe(2 * MIN);
    expect(renewDelay(0, 15 * MIN, 14 * MIN)).toBe(0);
    expect(renewDelay(0, 0, 0)).toBeNull();
  });
});

describe("SocketAuth", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(1_000_000);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("sends every renewed token on the open socket, and renews before expiry while idle", async () => {
    const { auth, deps } = setup();
    const now = Date.now();
    auth.tokenChanged("token-0", now, now + 15 * MIN);
    expect(deps.sendRefresh).toHaveBeenLastCalledWith("token-0");
    await vi.advanceTimersByTimeAsync(12 * MIN - 1);
    expect(deps.refresh).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(deps.refresh).toHaveBeenCalledTimes(1);
    expect(deps.sendRefresh).toHaveBeenLastCalledWith("token-1");
    // An hour idle: renewed every 12 minutes, the socket always holds a valid token.
    await vi.advanceTimersByTimeAsync(60 * MIN);
    expect(deps.refresh).toHaveBeenCalledTimes(6);
    expect(deps.sendRefresh).toHaveBeenLastCalledWith("token-6");
    expect(deps.sessionLost).not.toHaveBeenCalled();
  });

  it("a token renewed while disconnected is not sent; one renewed during the handshake is", () => {
    const { auth, deps, setConnected } = setup();
    setConnected(false);
    auth.tokenChanged("a", Date.now(), Date.now() + 15 * MIN);
    expect(deps.sendRefresh).not.toHaveBeenCalled();
    setConnected(true);
    auth.connected("a");
    expect(deps.sendRefresh).not.toHaveBeenCalled();
    auth.tokenChanged("b", Date.now(), Date.now() + 15 * MIN);
    vi.mocked(deps.sendRefresh).mockClear();
    auth.connected("a");
    expect(deps.sendRefresh).toHaveBeenCalledWith("b");
  });

  it("a refused auth:refresh reconnects (the handshake decides)", async () => {
    const { auth, deps } = setup({
      sendRefresh: vi.fn(() => Promise.reject(new ApiError(401, "unauthorized", "token of another user"))),
    });
    auth.tokenChanged("a", Date.now(), Date.now() + 15 * MIN);
    await settle();
    expect(deps.reconnect).toHaveBeenCalledTimes(1);
  });

  it("a renewal that cannot reach the server is tried again while the token is valid", async () => {
    const refresh = vi.fn(() => Promise.reject(new ApiError(0, "network", "down")));
    const { auth, deps } = setup({ refresh });
    auth.tokenChanged("a", Date.now(), Date.now() + 10_000);
    await vi.advanceTimersByTimeAsync(8_000);
    expect(refresh).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(RENEW_RETRY_MS);
    expect(refresh).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(10 * RENEW_RETRY_MS);
    expect(refresh).toHaveBeenCalledTimes(2); // expired by then: the server will say so
    expect(deps.sessionLost).not.toHaveBeenCalled();
  });

  it("a renewal refused with 401 ends the session", async () => {
    const { auth, deps } = setup({ refresh: vi.fn(() => Promise.reject(new ApiError(401, "unauthorized", ""))) });
    auth.tokenChanged("a", Date.now(), Date.now() + 10_000);
    await vi.advanceTimersByTimeAsync(8_000);
    expect(deps.sessionLost).toHaveBeenCalledWith("expired");
  });

  it("session:revoked expired: renews the token, then connects again", async () => {
    const { auth, deps } = setup();
    auth.revoked({ reason: "expired", code: "unauthorized", message: "token expired" });
    await settle();
    expect(deps.refresh).toHaveBeenCalledTimes(1);
    expect(deps.reconnect).toHaveBeenCalledTimes(1);
    expect(deps.sessionLost).not.toHaveBeenCalled();
  });

  it("session:revoked expired with a dead refresh cookie ends the session without reconnecting", async () => {
    const { auth, deps } = setup({ refresh: vi.fn(() => Promise.reject(new ApiError(401, "unauthorized", ""))) });
    auth.revoked({ reason: "expired" });
    await settle();
    expect(deps.sessionLost).toHaveBeenCalledWith("expired");
    expect(deps.reconnect).not.toHaveBeenCalled();
  });

  it.each(["logout", "revoked"])("session:revoked %s ends the session and stops renewing", async (reason) => {
    const { auth, deps } = setup();
    auth.tokenChanged("a", Date.now(), Date.now() + 15 * MIN);
    auth.revoked({ reason, code: "unauthorized", message: "session revoked" });
    expect(deps.sessionLost).toHaveBeenCalledWith(reason);
    await vi.advanceTimersByTimeAsync(60 * MIN);
    expect(deps.refresh).not.toHaveBeenCalled();
    expect(deps.reconnect).not.toHaveBeenCalled();
  });
});
