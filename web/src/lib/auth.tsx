import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import {
  ApiError,
  adoptToken,
  api,
  getAccessToken,
  renewAccessToken,
  setAccessToken,
  setSessionLostHandler,
  type Me,
  type TokenOut,
} from "./api";
import { sessionEndedMessage } from "./errors";
import { closeSocket, connectionState, openSocket, setSocketSessionLostHandler } from "./socket";

// How long a request that found the login revoked waits for the socket's `session:revoked` (and its reason).
const SESSION_REASON_WAIT_MS = 1500;

export interface AuthState {
  /** The logged-in user, null when logged out (or not known yet: see `ready`). */
  user: Me | null;
  /** False until the startup refresh has answered. */
  ready: boolean;
  /** The server could not be reached (or answered 5xx) when restoring the session at start: not a
   * logout. Tried again by itself at `retryAt` (epoch ms); null once it answers. */
  outage: Outage | null;
  /** Tries the restore again now (the outage screen's button). */
  retryNow: () => void;
  login: (email: string, password: string) => Promise<Me>;
  logout: () => Promise<void>;
  refreshUser: () => Promise<Me | null>;
  /** Why the last session ended without a logout here ("You were logged out…"), for the login page;
   * null once someone logs in again. */
  notice: string | null;
}

const AuthContext = createContext<AuthState | null>(null);

export interface Outage {
  /** Failed tries so far. */
  attempts: number;
  /** When the next try starts (epoch ms). */
  retryAt: number;
}

/** What restoring the session at start came to: a user, nobody logged in, or no answer from the server. */
export type Restored = { me: Me | null } | { outage: unknown };

/** Whether a failure says the service is down (unreachable, 5xx, rate limited) rather than anything
 * about the login. */
export function isOutage(err: unknown): boolean {
  return err instanceof ApiError && (err.status === 0 || err.status >= 500 || err.status === 429);
}

/** The wait before try `attempts + 1` of a restore: 1, 2, 4, 8, then every 10 s. */
export function retryDelayMs(attempts: number): number {
  return Math.min(10_000, 1000 * 2 ** Math.max(0, attempts - 1));
}

// One startup attempt at a time, even when React runs effects twice (StrictMode): a second refresh
// racing the first would present an already-rotated cookie, which revokes the login.
let startup: Promise<Restored> | null = null;

async function restoreOnce(): Promise<Restored> {
  // A refresh the server could not answer (503, no network) says nothing about the login: the cookie is
  // still there. That is an outage to wait out, not a logout.
  if (!getAccessToken()) {
    const renewal = await renewAccessToken();
    if (renewal === "lost") return { me: null };
    if (renewal === "failed") return { outage: true };
  }
  try {
    return { me: await api<Me>("GET", "/me") };
  } catch (err) {
    if (isOutage(err)) return { outage: err };
    setAccessToken(null);
    return { me: null };
  }
}

function restoreSession(): Promise<Restored> {
  if (!startup) startup = restoreOnce();
  return startup;
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<Me | null>(null);
  const [ready, setReady] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [outage, setOutage] = useState<Outage | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let live = true;
    void restoreSession().then((restored) => {
      if (!live) return;
      if ("outage" in restored) {
        startup = null; // the next try asks again
        setOutage((prev) => {
          const attempts = (prev?.attempts ?? 0) + 1;
          return { attempts, retryAt: Date.now() + retryDelayMs(attempts) };
        });
        return;
      }
      setOutage(null);
      setUser(restored.me);
      setReady(true);
    });
    return () => {
      live = false;
    };
  }, [attempt]);

  // While the service is down: try again on schedule, and at once when the browser is back online.
  useEffect(() => {
    if (!outage) return;
    const again = () => setAttempt((n) => n + 1);
    const timer = setTimeout(again, Math.max(0, outage.retryAt - Date.now()));
    window.addEventListener("online", again);
    return () => {
      clearTimeout(timer);
      window.removeEventListener("online", again);
    };
  }, [outage]);

  const retryNow = useCallback(() => setAttempt((n) => n + 1), []);

  // Lost session (refresh refused, or the server revoked it: `session:revoked`): back to logged out,
  // and the login page says why. Protected screens send the person there (RequireAuth).
  useEffect(() => {
    let pending: ReturnType<typeof setTimeout> | null = null;
    const lost = (reason?: string) => {
      if (pending) clearTimeout(pending);
      pending = null;
      setAccessToken(null);
      closeSocket();
      startup = Promise.resolve({ me: null });
      // The server's reason wins: a request that met the revoked login after the socket had already said
      // why (and closed) must not replace "You were logged out" with the generic sentence.
      setNotice((prev) => (reason === undefined && prev !== null ? prev : sessionEndedMessage(reason)));
      setUser(null);
    };
    // A refused renewal says only that the login is gone. A logout elsewhere (or a revocation) also sends
    // this tab's socket `session:revoked` with the reason, within moments: while the socket is up, a request
    // that met the revoked login first waits briefly for it, so the login page can say why.
    const lostByRequest = () => {
      if (connectionState() !== "connected") return lost();
      pending ??= setTimeout(() => lost(), SESSION_REASON_WAIT_MS);
    };
    setSessionLostHandler(lostByRequest);
    setSocketSessionLostHandler(lost);
    return () => {
      if (pending) clearTimeout(pending);
      setSessionLostHandler(null);
      setSocketSessionLostHandler(null);
    };
  }, []);

  // One socket per login.
  const userId = user?.id ?? null;
  useEffect(() => {
    if (userId === null) return;
    openSocket();
    return () => closeSocket();
  }, [userId]);

  const login = useCallback(async (email: string, password: string) => {
    adoptToken(await api<TokenOut>("POST", "/auth/login", { email, password }));
    const me = await api<Me>("GET", "/me");
    startup = Promise.resolve({ me });
    setNotice(null);
    setUser(me);
    setReady(true);
    return me;
  }, []);

  const logout = useCallback(async () => {
    // The socket goes first: the server tells every socket of this login that it logged out, and this
    // one need not hear it.
    closeSocket();
    try {
      await api("POST", "/auth/logout");
    } catch {
      // The session ends on this side whatever the server said.
    }
    setAccessToken(null);
    closeSocket();
    startup = Promise.resolve({ me: null });
    setUser(null);
  }, []);

  const refreshUser = useCallback(async () => {
    try {
      const me = await api<Me>("GET", "/me");
      setUser(me);
      return me;
    } catch {
      return null;
    }
  }, []);

  const value = useMemo<AuthState>(
    () => ({ user, ready, outage, retryNow, login, logout, refreshUser, notice }),
    [user, ready, outage, retryNow, login, logout, refreshUser, notice],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error("useAuth() outside <AuthProvider>");
  return ctx;
}
