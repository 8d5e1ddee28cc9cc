// REST client of the gateway: JSON under /api/v1, the access token in memory only.
//
// The access token lives in this module (never in localStorage or a cookie readable by scripts). The refresh
// token is the httpOnly cookie `clubhub_refresh` (Path /api/v1/auth) that only `POST /auth/refresh` sees.

import type { components } from "./api-types";

export const API_PREFIX = "/api/v1";

const STATUS_BY_CODE: Record<string, number> = {
  invalid: 422,
  unauthorized: 401,
  forbidden: 403,
  email_unverified: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
};

const CODE_BY_STATUS: Record<number, string> = {
  400: "invalid",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "invalid",
  409: "conflict",
  413: "too_large",
  415: "invalid",
  422: "invalid",
  429: "rate_limited",
  500: "internal",
  502: "unavailable",
  503: "unavailable",
  504: "unavailable",
};

/** A failed request or socket call. `status` is 0 when the server was never reached (`network`,
 * `timeout`, `offline`). `retryAfter` is in seconds, maybe fractional (from `Retry-After` or the message). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly retryAfter?: number;

  constructor(status: number, code: string, message: string, retryAfter?: number) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }

  /** An error of the contract's `{code, message}` shape (REST body or socket ack). */
  static fromBody(status: number | undefined, body: unknown, retryAfter?: number): ApiError {
    const err = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    const code = typeof err?.code === "string" ? err.code : CODE_BY_STATUS[status ?? 0] ?? "internal";
    const message = typeof err?.message === "string" ? err.message : "";
    const httpStatus = status ?? STATUS_BY_CODE[code] ?? 400;
    let wait = retryAfter;
    if (wait === undefined && code === "rate_limited") {
      const m = /(\d+(?:\.\d+)?)\s*s\b/.exec(message);
      if (m) wait = Number(m[1]);
    }
    return new ApiError(httpStatus, code, message, wait);
  }
}

// -- the access token (memory only) ---------------------------------------------------------------

let accessToken: string | null = null;
let issuedAt = 0; // epoch ms, when this side received the token
let expiresAt = 0; // epoch ms; 0 when unknown
const tokenListeners = new Set<(token: string | null) => void>();

export function getAccessToken(): string | null {
  return accessToken;
}

export function setAccessToken(token: string | null, expiresInS?: number): void {
  accessToken = token;
  issuedAt = Date.now();
  expiresAt = token && expiresInS ? issuedAt + expiresInS * 1000 : 0;
  for (const listener of tokenListeners) listener(token);
}

/** When the current token arrived and when it expires (epoch ms; `expiresAt` 0 when unknown). */
export function accessTokenTimes(): { issuedAt: number; expiresAt: number } {
  return { issuedAt, expiresAt };
}

/** Called with every new token (null after logout or a failed refresh). */
export function onAccessToken(listener: (token: string | null) => void): () => void {
  tokenListeners.add(listener);
  return () => tokenListeners.delete(listener);
}

let sessionLost: (() => void) | null = null;

/** What to do when the session cannot be renewed (the refresh cookie is gone or revoked). */
export function setSessionLostHandler(handler: (() => void) | null): void {
  sessionLost = handler;
}

/** The answer of `POST /auth/login` and `POST /auth/refresh`. */
export type TokenOut = Schema<"TokenOut">;

/** Keeps the access token of a login or refresh answer. */
export function adoptToken(out: TokenOut): string {
  setAccessToken(out.access_token, out.expires_in);
  return out.access_token;
}

let refreshing: Promise<string> | null = null;

async function doRefresh(): Promise<string> {
  let res: Response;
  try {
    res = await fetch(`${API_PREFIX}/auth/refresh`, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
  } catch {
    throw new ApiError(0, "network", "could not reach the server");
  }
  const body = await readJson(res);
  if (!res.ok) {
    const err = ApiError.fromBody(res.status, body, retryAfterOf(res));
    if (err.status === 401) setAccessToken(null);
    throw err;
  }
  return adoptToken(body as TokenOut);
}

/** `POST /auth/refresh` with the httpOnly cookie: one request at a time (a refresh token rotates, and
 * presenting an already-rotated one revokes the whole login), serialised across tabs with Web Locks. */
export function refreshAccessToken(): Promise<string> {
  if (!refreshing) {
    const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
    const run: Promise<string> = locks
      ? (locks.request("clubhub-refresh", () => doRefresh()) as unknown as Promise<string>)
      : doRefresh();
    refreshing = run.finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/** What a renewal came to: `renewed` (a new token is in), `lost` (the server refused the refresh cookie:
 * this login is over) or `failed` (the server could not be reached or answered otherwise: try later). */
export type Renewal = "renewed" | "lost" | "failed";

/** `refreshAccessToken`, its outcome classified the one way every caller needs (REST retries, the
 * socket's handshake, the startup restore). */
export async function renewAccessToken(): Promise<Renewal> {
  try {
    await refreshAccessToken();
    return "renewed";
  } catch (err) {
    return err instanceof ApiError && err.status === 401 ? "lost" : "failed";
  }
}

/** Whether a token received at `issued` and expiring at `expires` (epoch ms) is due for renewal at `now`:
 * within `marginMs` of its end, but never sooner than its last fifth. A short-lived token (the settings
 * allow 30 s) would otherwise be renewed on every use, and a renewal cut off by a page load leaves the
 * browser holding an already-rotated refresh cookie, which revokes the whole login. */
export function renewalDue(issued: number, expires: number, now: number, marginMs = 30_000): boolean {
  if (!expires) return false;
  const margin = Math.min(marginMs, Math.max(0, expires - issued) * 0.2);
  return expires - now < margin;
}

/** The access token, renewed first when it is due (`renewalDue`); null when logged out. */
export async function freshAccessToken(marginMs = 30_000): Promise<string | null> {
  if (!accessToken) return null;
  if (renewalDue(issuedAt, expiresAt, Date.now(), marginMs)) {
    try {
      return await refreshAccessToken();
    } catch {
      return accessToken;
    }
  }
  return accessToken;
}

// -- requests ------------------------------------------------------------------------------------

function retryAfterOf(res: Response): number | undefined {
  const header = res.headers.get("Retry-After");
  if (!header) return undefined;
  const n = Number(header);
  if (Number.isFinite(n)) return Math.max(0, n);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

async function readJson(res: Response): Promise<unknown> {
  if (res.status === 204) return undefined;
  const text = await res.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export interface ApiOptions {
  /** Do not try a refresh on 401 (the auth routes themselves). */
  noRefresh?: boolean;
  signal?: AbortSignal;
}

const NO_REFRESH_PATHS = ["/auth/login", "/auth/signup", "/auth/verify", "/auth/refresh", "/auth/logout"];

/** A request to `/api/v1{path}` with the access token. The one refresh-and-retry path of the client: on a
 * 401 the token is renewed once and the request sent again; a refused renewal ends the session
 * (`setSessionLostHandler`). Resolves with the response whatever its status; throws `ApiError` when the
 * server cannot be reached. */
export async function apiFetch(path: string, init: RequestInit = {}, options: ApiOptions = {}): Promise<Response> {
  const noRefresh = options.noRefresh || NO_REFRESH_PATHS.some((p) => path.startsWith(p));
  const send = async (): Promise<Response> => {
    const headers = new Headers(init.headers);
    if (!headers.has("Accept")) headers.set("Accept", "application/json");
    // Read on every try: the retry carries the renewed token.
    if (accessToken) headers.set("Authorization", `Bearer ${accessToken}`);
    try {
      return await fetch(API_PREFIX + path, { ...init, headers, credentials: "same-origin", signal: options.signal });
    } catch (err) {
      if ((err as { name?: string })?.name === "AbortError") throw err;
      throw new ApiError(0, "network", "could not reach the server");
    }
  };

  const res = await send();
  if (res.status !== 401 || noRefresh) return res;
  const renewal = await renewAccessToken();
  if (renewal === "lost") sessionLost?.();
  return renewal === "renewed" ? send() : res;
}

/** A failed response as an `ApiError` (its body's `{error: {code, message}}`, its `Retry-After`). */
export async function responseError(res: Response): Promise<ApiError> {
  return ApiError.fromBody(res.status, await readJson(res), retryAfterOf(res));
}

/** `api<T>(method, path, body?)`: a JSON request to `/api/v1{path}` (through `apiFetch`, so with one
 * refresh and retry on a 401). Throws `ApiError`. */
export async function api<T = unknown>(method: string, path: string, body?: unknown, options: ApiOptions = {}): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await apiFetch(
    path,
    { method, headers, body: body === undefined ? undefined : JSON.stringify(body) },
    options,
  );
  const data = await readJson(res);
  if (!res.ok) throw ApiError.fromBody(res.status, data, retryAfterOf(res));
  return data as T;
}

/** A query string from the defined values of `params` (with its leading `?`, or ""). */
export function query(params: Record<string, string | number | boolean | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const s = search.toString();
  return s ? `?${s}` : "";
}

// -- shapes of the gateway ----------------------------------------------------------------------------
// Generated from its OpenAPI document (api-types.ts: `npm run gen:api`; CI fails when it is stale).

/** A REST payload by the name of its schema in the OpenAPI document. */
export type Schema<Name extends keyof components["schemas"]> = components["schemas"][Name];

export type Me = Schema<"MeOut">;
export type User = Schema<"UserOut">;
export type Club = Schema<"ClubOut">;
export type ClubSearchItem = Schema<"ClubSearchItem">;
export type ClubSearchOut = Schema<"ClubSearchOut">;
export type Room = Schema<"RoomOut">;
export type Member = Schema<"MemberOut">;
export type Mail = Schema<"MailOut">;
export type Achievement = Schema<"AchievementOut">;

export { STATUS_BY_CODE };
