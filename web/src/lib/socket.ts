// One Socket.IO connection per login. The access token is read on every (re)connect attempt, so a
// reconnect after a token renewal uses the new one; a refusal with `unauthorized` renews it and retries.
// While connected, every renewed token is handed to the server with `auth:refresh` and renewals are
// scheduled before expiry; `session:revoked` ends the login or renews it (socketAuth.ts).
import { useEffect, useRef, useSyncExternalStore } from "react";
import { io, type Socket } from "socket.io-client";
import { ApiError, accessTokenTimes, freshAccessToken, getAccessToken, onAccessToken, refreshAccessToken, renewAccessToken } from "./api";
import { SocketAuth } from "./socketAuth";

export type ConnectionState = "connected" | "reconnecting" | "offline";

let socket: Socket | null = null;
let state: ConnectionState = "offline";
let everConnected = false;
let refusals = 0;
let manualTimer: ReturnType<typeof setTimeout> | null = null;
let sessionLost: ((reason?: string) => void) | null = null;
let socketAuth: SocketAuth | null = null;
let stopTokenWatch: (() => void) | null = null;
const stateListeners = new Set<() => void>();
const socketListeners = new Set<(s: Socket | null) => void>();

function browserOnline(): boolean {
  return typeof navigator === "undefined" || navigator.onLine !== false;
}

function setState(next: ConnectionState): void {
  if (next === state) return;
  state = next;
  for (const l of stateListeners) l();
}

function downState(): ConnectionState {
  return browserOnline() ? "reconnecting" : "offline";
}

function scheduleReconnect(s: Socket, delayMs: number): void {
  if (manualTimer) clearTimeout(manualTimer);
  manualTimer = setTimeout(() => {
    manualTimer = null;
    if (socket === s && !s.connected) s.connect();
  }, delayMs);
}

function onBrowserOffline(): void {
  const s = socket;
  if (!s) return;
  setState("offline");
  // The socket would notice only at the next missed ping: drop the transport now, the manager reconnects.
  s.io.engine?.close();
}

function onBrowserOnline(): void {
  const s = socket;
  if (!s) return;
  if (!s.connected) {
    setState("reconnecting");
    scheduleReconnect(s, 0);
  }
}

/** What to do when the login is over: the server keeps refusing the socket even with a renewed token
 * (no reason), or says so with `session:revoked` (`reason`: "logout", "revoked", "expired"). */
export function setSocketSessionLostHandler(handler: ((reason?: string) => void) | null): void {
  sessionLost = handler;
}

/** Opens the socket of this login (no-op when it is open). */
export function openSocket(): Socket {
  if (socket) return socket;
  let tokenUsed: string | null = null;
  const s = io({
    path: "/socket.io",
    transports: ["websocket"],
    autoConnect: false,
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
    // Called before each connection attempt, so every reconnect carries the current (renewed) token.
    auth: (cb) => {
      freshAccessToken().then(
        (token) => {
          tokenUsed = token;
          cb({ token: token ?? "" });
        },
        () => cb({ token: "" }),
      );
    },
  });
  socket = s;
  everConnected = false;
  refusals = 0;

  const auth = new SocketAuth({
    refresh: () => refreshAccessToken(),
    sendRefresh: (token) => call("auth:refresh", { token }),
    connected: () => s.connected,
    reconnect: () => {
      if (socket !== s) return;
      if (s.connected) s.disconnect();
      scheduleReconnect(s, 0);
    },
    sessionLost: (reason) => sessionLost?.(reason),
  });
  socketAuth = auth;
  const adoptToken = (token: string | null) => {
    const t = accessTokenTimes();
    auth.tokenChanged(token, t.issuedAt, t.expiresAt);
  };
  adoptToken(getAccessToken()); // schedules the renewal of the token this socket starts with
  stopTokenWatch = onAccessToken(adoptToken);

  s.on("connect", () => {
    everConnected = true;
    refusals = 0;
    setState("connected");
    auth.connected(tokenUsed);
  });
  s.on("session:revoked", (payload: unknown) => {
    if (socket === s) auth.revoked(payload);
  });
  s.on("disconnect", (reason) => {
    if (socket !== s) return;
    setState(downState());
    // The server closed this socket: socket.io does not retry by itself in that case.
    if (reason === "io server disconnect") scheduleReconnect(s, 1000);
  });
  s.on("connect_error", (err: Error) => {
    if (socket !== s) return;
    setState(downState());
    if (err.message === "unauthorized") {
      // Refused with a token that was just renewed, several times: the login is over. (A renewal that
      // cannot reach the server says nothing about the login: try again later.)
      void renewAccessToken().then((renewal) => {
        if (socket !== s) return;
        if (renewal === "lost") sessionLost?.();
        else if (renewal === "failed") scheduleReconnect(s, 2000);
        else if (++refusals > 3) sessionLost?.();
        else scheduleReconnect(s, 0);
      });
    } else if (!s.active) {
      scheduleReconnect(s, 2000);
    }
  });
  if (typeof window !== "undefined") {
    window.addEventListener("offline", onBrowserOffline);
    window.addEventListener("online", onBrowserOnline);
  }
  setState(downState());
  s.connect();
  for (const l of socketListeners) l(s);
  return s;
}

/** Closes the socket of this login (logout). */
export function closeSocket(): void {
  const s = socket;
  if (!s) return;
  socket = null;
  socketAuth?.stop();
  socketAuth = null;
  stopTokenWatch?.();
  stopTokenWatch = null;
  if (manualTimer) clearTimeout(manualTimer);
  manualTimer = null;
  if (typeof window !== "undefined") {
    window.removeEventListener("offline", onBrowserOffline);
    window.removeEventListener("online", onBrowserOnline);
  }
  s.disconnect();
  s.removeAllListeners();
  everConnected = false;
  state = "offline";
  for (const l of stateListeners) l();
  for (const l of socketListeners) l(null);
}

export function getSocket(): Socket | null {
  return socket;
}

/** Calls `listener` with the current socket now and with every new one (null when closed). */
export function onSocket(listener: (s: Socket | null) => void): () => void {
  socketListeners.add(listener);
  listener(socket);
  return () => socketListeners.delete(listener);
}

export function connectionState(): ConnectionState {
  return state;
}

export function hasEverConnected(): boolean {
  return everConnected;
}

export function onConnectionState(listener: () => void): () => void {
  stateListeners.add(listener);
  return () => stateListeners.delete(listener);
}

/** The socket of this login (null when logged out), re-rendering when it changes. */
export function useSocket(): Socket | null {
  return useSyncExternalStore(
    (cb) => {
      socketListeners.add(cb);
      return () => socketListeners.delete(cb);
    },
    () => socket,
    () => null,
  );
}

/** "connected" | "reconnecting" | "offline" (the browser has no network). */
export function useConnection(): ConnectionState {
  return useSyncExternalStore(onConnectionState, connectionState, (): ConnectionState => "offline");
}

/** Subscribes `handler` to a server event on the current socket (re-subscribing on a new socket). */
export function useSocketEvent<T = unknown>(event: string, handler: (payload: T) => void): void {
  const s = useSocket();
  const ref = useRef(handler);
  useEffect(() => {
    ref.current = handler;
  });
  useEffect(() => {
    if (!s) return;
    const fn = (payload: T) => ref.current(payload);
    s.on(event, fn);
    return () => {
      s.off(event, fn);
    };
  }, [s, event]);
}

type Ack<T> = { ok: true } & T;

/** Emits `event` with `payload` and resolves with the ack (`{ok: true, ...}`); an `ok: false` ack throws
 * `ApiError` with its code. Fails at once (code `offline`) when the socket is not connected, rather than
 * letting socket.io buffer the event for an unknown later. */
export function call<T = Record<string, unknown>>(event: string, payload: unknown, timeoutMs = 10_000): Promise<Ack<T>> {
  const s = socket;
  if (!s || !s.connected) {
    return Promise.reject(new ApiError(0, "offline", "not connected to the server"));
  }
  return new Promise<Ack<T>>((resolve, reject) => {
    s.timeout(timeoutMs).emit(event, payload, (err: Error | null, ack: unknown) => {
      if (err) {
        const disconnected = /disconnect/i.test(err.message);
        reject(
          disconnected
            ? new ApiError(0, "offline", "the connection was lost before the server answered")
            : new ApiError(0, "timeout", "the server did not answer in time"),
        );
        return;
      }
      if (!ack || typeof ack !== "object") {
        reject(new ApiError(500, "internal", "the server answered with something unexpected"));
        return;
      }
      const a = ack as { ok?: boolean };
      if (a.ok) resolve(ack as Ack<T>);
      else reject(ApiError.fromBody(undefined, ack));
    });
  });
}
