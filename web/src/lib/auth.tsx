import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { adoptToken, api, renewAccessToken, setAccessToken, setSessionLostHandler, type Me, type TokenOut } from "./api";
import { sessionEndedMessage } from "./errors";
import { closeSocket, openSocket, setSocketSessionLostHandler } from "./socket";

export interface AuthState {
  /** The logged-in user, null when logged out (or not known yet: see `ready`). */
  user: Me | null;
  /** False until the startup refresh has answered. */
  ready: boolean;
  login: (email: string, password: string) => Promise<Me>;
  logout: () => Promise<void>;
  refreshUser: () => Promise<Me | null>;
  /** Why the last session ended without a logout here ("You were logged out…"), for the login page;
   * null once someone logs in again. */
  notice: string | null;
}

const AuthContext = createContext<AuthState | null>(null);

// One startup attempt per page load, even when React runs effects twice (StrictMode): a second refresh
// racing the first would present an already-rotated cookie, which revokes the login.
let startup: Promise<Me | null> | null = null;

function restoreSession(): Promise<Me | null> {
  if (!startup) {
    startup = (async () => {
      // No session to restore is not a lost one: whatever the outcome, nothing to tell.
      if ((await renewAccessToken()) !== "renewed") return null;
      try {
        return await api<Me>("GET", "/me");
      } catch {
        setAccessToken(null);
        return null;
      }
    })();
  }
  return startup;
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<Me | null>(null);
  const [ready, setReady] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    void restoreSession().then((me) => {
      if (!live) return;
      setUser(me);
      setReady(true);
    });
    return () => {
      live = false;
    };
  }, []);

  // Lost session (refresh refused, or the server revoked it: `session:revoked`): back to logged out,
  // and the login page says why. Protected screens send the person there (RequireAuth).
  useEffect(() => {
    const lost = (reason?: string) => {
      setAccessToken(null);
      closeSocket();
      startup = Promise.resolve(null);
      setNotice(sessionEndedMessage(reason));
      setUser(null);
    };
    setSessionLostHandler(lost);
    setSocketSessionLostHandler(lost);
    return () => {
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
    startup = Promise.resolve(me);
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
    startup = Promise.resolve(null);
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
    () => ({ user, ready, login, logout, refreshUser, notice }),
    [user, ready, login, logout, refreshUser, notice],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error("useAuth() outside <AuthProvider>");
  return ctx;
}
