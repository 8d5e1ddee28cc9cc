import { lazy, Suspense, useEffect, useState, type ReactNode } from "react";
import { BrowserRouter, Link, Navigate, NavLink, Outlet, Route, Routes, useLocation, useNavigate } from "react-router-dom";
import { AuthProvider, useAuth } from "./lib/auth";
import { hasEverConnected, useConnection } from "./lib/socket";
import { returnPath } from "./lib/returnPath";
import { ErrorBoundary } from "./components/ErrorBoundary";
import { Loading, linkClass } from "./components/ui";
import SignupPage from "./pages/SignupPage";
import LoginPage from "./pages/LoginPage";
import VerifyPage from "./pages/VerifyPage";
import DevMailboxPage from "./pages/DevMailboxPage";

const FeedPage = lazy(() => import("./pages/FeedPage"));
const ClubsPage = lazy(() => import("./pages/ClubsPage"));
const ClubPage = lazy(() => import("./pages/ClubPage"));
const EventsPage = lazy(() => import("./pages/EventsPage"));
const EventPage = lazy(() => import("./pages/EventPage"));
const LivePage = lazy(() => import("./pages/LivePage"));
const ProfilePage = lazy(() => import("./pages/ProfilePage"));

const navLinkClass = ({ isActive }: { isActive: boolean }) =>
  `rounded px-2 py-1.5 text-sm font-medium sm:px-3 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-400 ${
    isActive ? "bg-indigo-700 text-white" : "text-indigo-100 hover:bg-indigo-500 hover:text-white"
  }`;

function TopBar() {
  const { user, logout } = useAuth();
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);

  async function onLogout() {
    setBusy(true);
    try {
      await logout();
    } finally {
      setBusy(false);
      void navigate("/login", { replace: true });
    }
  }

  return (
    <header className="sticky top-0 z-20 bg-indigo-600 text-white shadow">
      <div className="mx-auto flex h-14 max-w-7xl items-center gap-2 px-3 sm:gap-4 sm:px-4">
        <span className="text-base font-bold tracking-tight sm:text-lg">ClubHoloHub</span>
        {user && (
          <>
            <nav aria-label="Main" className="flex items-center gap-1">
              <NavLink to="/" end className={navLinkClass}>
                Feed
              </NavLink>
              <NavLink to="/clubs" className={navLinkClass}>
                Clubs
              </NavLink>
              <NavLink to="/profile" className={navLinkClass}>
                Profile
              </NavLink>
            </nav>
            <div className="ml-auto flex items-center gap-2 sm:gap-3">
              <span className="hidden text-sm text-indigo-100 sm:inline">{user.display_name}</span>
              <button
                type="button"
                onClick={() => void onLogout()}
                disabled={busy}
                className="whitespace-nowrap rounded border border-indigo-300 px-2 py-1 text-sm hover:bg-indigo-500 sm:px-3 focus:outline-none focus-visible:ring-2 focus-visible:ring-white disabled:opacity-60"
              >
                Log out
              </button>
            </div>
          </>
        )}
      </div>
      {user && <ReconnectingBanner />}
    </header>
  );
}

/** Shown while the socket is down (after a first short grace period at start-up). */
function ReconnectingBanner() {
  const state = useConnection();
  const [graceOver, setGraceOver] = useState(false);
  useEffect(() => {
    const t = setTimeout(() => setGraceOver(true), 2000);
    return () => clearTimeout(t);
  }, []);
  if (state === "connected" || (!hasEverConnected() && !graceOver)) return null;
  return (
    <div
      role="status"
      aria-label="Reconnecting…"
      className="absolute inset-x-0 top-full bg-amber-100 px-4 py-1.5 text-center text-sm text-amber-900 shadow"
    >
      Reconnecting…
    </div>
  );
}

function RequireAuth() {
  const { user, ready } = useAuth();
  const location = useLocation();
  if (!ready) return <Loading />;
  if (!user) return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  return <Outlet />;
}

function GuestOnly({ children }: { children: ReactNode }) {
  const { user, ready } = useAuth();
  const location = useLocation();
  if (!ready) return <Loading />;
  if (user) return <Navigate to={returnPath(location.state)} replace />;
  return <>{children}</>;
}

function NotFound() {
  return (
    <div className="mx-auto max-w-xl p-6">
      <div role="alert" className="rounded border border-amber-300 bg-amber-50 p-4 text-amber-900">
        There is no page at this address.
      </div>
      <p className="mt-4">
        <Link to="/" className={linkClass}>
          Go to the start page
        </Link>
      </p>
    </div>
  );
}

function Screens() {
  const location = useLocation();
  return (
    <ErrorBoundary resetKey={location.pathname}>
      <Suspense fallback={<Loading />}>
        <Routes>
          <Route path="/signup" element={<GuestOnly><SignupPage /></GuestOnly>} />
          <Route path="/login" element={<GuestOnly><LoginPage /></GuestOnly>} />
          <Route path="/verify" element={<VerifyPage />} />
          <Route path="/dev/mailbox" element={<DevMailboxPage />} />
          <Route element={<RequireAuth />}>
            <Route path="/" element={<FeedPage />} />
            <Route path="/clubs" element={<ClubsPage />} />
            <Route path="/clubs/:clubId" element={<ClubPage />} />
            <Route path="/clubs/:clubId/rooms/:roomId" element={<ClubPage />} />
            <Route path="/clubs/:clubId/events" element={<EventsPage />} />
            <Route path="/events/:eventId" element={<EventPage />} />
            <Route path="/events/:eventId/live" element={<LivePage />} />
            <Route path="/profile" element={<ProfilePage />} />
            <Route path="/users/:userId" element={<ProfilePage />} />
          </Route>
          <Route path="*" element={<NotFound />} />
        </Routes>
      </Suspense>
    </ErrorBoundary>
  );
}

export default function App() {
  return (
    <BrowserRouter>
      <AuthProvider>
        <div className="min-h-screen bg-slate-50 text-slate-900">
          <TopBar />
          <Screens />
        </div>
      </AuthProvider>
    </BrowserRouter>
  );
}
