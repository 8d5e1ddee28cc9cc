// The socket's side of the login's lifetime (contract: "A socket lives no longer than the login behind
// it"). The server checks the access token at connect and then expects `auth:refresh {token}` before it
// expires; otherwise it sends `session:revoked {reason: "expired"}` and disconnects. Logout or a reused
// refresh token sends `session:revoked {reason: "logout" | "revoked"}` to every socket of the login.
//
// This controller holds no socket and no token store of its own (plain TypeScript, unit-tested with fake
// timers): socket.ts wires it to socket.io and to api.ts's in-memory token.
import { ApiError } from "./api";

/** Renew the access token when this share of its lifetime has passed, so an idle socket never expires. */
export const RENEW_AT = 0.8;
/** How soon a failed renewal (network) is tried again while the token is still valid. */
export const RENEW_RETRY_MS = 5_000;

export interface SocketAuthDeps {
  /** `POST /auth/refresh`; the new token comes back through `tokenChanged`. */
  refresh(): Promise<unknown>;
  /** `auth:refresh {token}` on the open socket; rejects with the ack's `ApiError`. */
  sendRefresh(token: string): Promise<unknown>;
  /** Whether the socket is connected now. */
  connected(): boolean;
  /** Drops the connection and connects again (the handshake reads the current token). */
  reconnect(): void;
  /** The login is over: drop it and tell the person why (`reason` as in `session:revoked`). */
  sessionLost(reason: string): void;
  now?(): number;
}

/** Milliseconds until a token issued at `issuedAt` and expiring at `expiresAt` (epoch ms) is due for
 * renewal; null when its lifetime is unknown. */
export function renewDelay(issuedAt: number, expiresAt: number, now: number): number | null {
  if (!(expiresAt > issuedAt)) return null;
  return Math.max(0, issuedAt + (expiresAt - issuedAt) * RENEW_AT - now);
}

export class SocketAuth {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private token: string | null = null;
  private expiresAt = 0;
  private stopped = false;

  constructor(private readonly deps: SocketAuthDeps) {}

  private now(): number {
    return this.deps.now ? this.deps.now() : Date.now();
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(delayMs: number): void {
    this.clearTimer();
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.renew();
    }, delayMs);
  }

  /** A new access token (login, refresh): the open socket adopts it, and its renewal is scheduled. */
  tokenChanged(token: string | null, issuedAt: number, expiresAt: number): void {
    if (this.stopped) return;
    this.token = token;
    this.expiresAt = expiresAt;
    this.clearTimer();
    if (!token) return;
    const delay = renewDelay(issuedAt, expiresAt, this.now());
    if (delay !== null) this.schedule(delay);
    if (this.deps.connected()) this.adopt(token);
  }

  /** The socket connected with `tokenUsed`; a token renewed during the handshake is sent at once. */
  connected(tokenUsed: string | null): void {
    if (this.token && tokenUsed !== this.token) this.adopt(this.token);
  }

  /** `auth:refresh` with `token`. A refusal means the server no longer takes this socket's login as
   * it is: connect again, the handshake says whether the login still stands. */
  private adopt(token: string): void {
    this.deps.sendRefresh(token).catch((err: unknown) => {
      if (this.stopped || token !== this.token) return;
      if (err instanceof ApiError && err.code === "unauthorized") this.deps.reconnect();
      // offline / timeout: the next connect carries the token anyway.
    });
  }

  /** The scheduled renewal (also right after an `expired` revocation). */
  private async renew(): Promise<"renewed" | "lost" | "failed"> {
    try {
      await this.deps.refresh();
      return "renewed";
    } catch (err) {
      if (this.stopped) return "lost";
      if (err instanceof ApiError && err.status === 401) {
        // The refresh cookie is gone or revoked: this login cannot go on.
        this.stop();
        this.deps.sessionLost("expired");
        return "lost";
      }
      if (this.expiresAt > this.now()) this.schedule(RENEW_RETRY_MS);
      return "failed";
    }
  }

  /** `session:revoked {reason}` from the server (it disconnects this socket right after). */
  revoked(payload: unknown): void {
    if (this.stopped) return;
    const reason = (payload as { reason?: unknown } | null)?.reason;
    if (reason === "expired") {
      // Only the access token ran out: renew it and connect again with the new one.
      // (A failed renewal still reconnects: the handshake tries the refresh again.)
      void this.renew().then((outcome) => {
        if (outcome !== "lost" && !this.stopped) this.deps.reconnect();
      });
      return;
    }
    this.stop();
    this.deps.sessionLost(typeof reason === "string" ? reason : "revoked");
  }

  stop(): void {
    this.stopped = true;
    this.clearTimer();
  }
}
