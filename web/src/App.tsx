import { lazy, Suspense, useEffect, useRef, useState, type ReactNode } from "react";
import { BrowserRouter, Link, Navigate, Outlet, Route, Routes, useLocation } from "react-router-dom";
import { AuthProvider, useAuth } from "./lib/auth";
import { returnPath } from "./lib/returnPath";
import { formatTitle } from "./lib/title";
import { useClubUnread, useUnreadPolling } from "./lib/unreadClubs";
import { useNotificationEvents } from "./lib/notifications";
import { useBlockEvents } from "./lib/blocks";
import { useDmEvents } from "./lib/dms";
import { clearUploadQueues, dispatchMediaReady, type MediaReadyEvent } from "./lib/media";
import { useSocketEvent } from "./lib/socket";
import { ErrorBoundary } from "./components/ErrorBoundary";
import { FillContext } from "./components/shell/fill";
import { OutageScreen } from "./components/shell/OutageScreen";
import { SkipLink } from "./components/shell/SkipLink";
import { TopBar } from "./components/shell/TopBar";
import { useRouteFocus } from "./components/shell/routeFocus";
import { Loading, PageTitle, linkClass } from "./components/ui";
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
const SettingsPage = lazy(() => import("./pages/SettingsPage"));
const RoomRedirectPage = lazy(() => import("./pages/RoomRedirectPage"));
const DmsPage = lazy(() => import("./pages/DmsPage"));
const SearchPage = lazy(() => import("./pages/SearchPage"));
const ReportsPage = lazy(() => import("./pages/ReportsPage"));
const ModerationPage = lazy(() => import("./pages/ModerationPage"));

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
      <PageTitle className="mb-4">Page not found</PageTitle>
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
            <Route path="/settings" element={<SettingsPage />} />
            <Route path="/rooms/:roomId" element={<RoomRedirectPage />} />
            <Route path="/dms" element={<DmsPage />} />
            <Route path="/dms/:roomId" element={<DmsPage />} />
            <Route path="/search" element={<SearchPage />} />
            <Route path="/clubs/:clubId/reports" element={<ReportsPage />} />
            <Route path="/clubs/:clubId/moderation" element={<ModerationPage />} />
          </Route>
          <Route path="*" element={<NotFound />} />
        </Routes>
      </Suspense>
    </ErrorBoundary>
  );
}

function Shell() {
  const { user, outage, retryNow } = useAuth();
  const location = useLocation();
  const main = useRef<HTMLElement>(null);
  const [fill, setFill] = useState(false);
  useRouteFocus(main, location.pathname);
  useUnreadPolling(user?.id ?? null);
  useNotificationEvents(user?.id ?? null);
  useDmEvents(user?.id ?? null);
  useBlockEvents(user?.id ?? null);
  // An upload of this login processed (or refused): the composer holding it hears of it.
  useSocketEvent<MediaReadyEvent>("media:ready", dispatchMediaReady);
  useEffect(() => {
    if (!user) clearUploadQueues();
  }, [user]);
  const { total } = useClubUnread();
  useEffect(() => {
    document.title = formatTitle(user ? total : 0);
  }, [user, total]);

  return (
    <FillContext.Provider value={setFill}>
      <div className={`flex flex-col bg-slate-50 text-slate-900 ${fill ? "h-dvh overflow-hidden" : "min-h-dvh"}`}>
        <SkipLink />
        <TopBar />
        <main
          id="content"
          ref={main}
          tabIndex={-1}
          className={`flex min-w-0 flex-1 flex-col focus:outline-none ${fill ? "min-h-0" : ""}`}
        >
          {outage ? <OutageScreen outage={outage} retryNow={retryNow} /> : <Screens />}
        </main>
      </div>
    </FillContext.Provider>
  );
}

export default function App() {
  return (
    <BrowserRouter>
      <AuthProvider>
        <Shell />
      </AuthProvider>
    </BrowserRouter>
  );
}
