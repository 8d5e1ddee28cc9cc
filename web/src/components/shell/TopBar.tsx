// The app's top bar: the nav with unread counts, the theme toggle and "Log out". From the `md` width on
// it is one row; below, everything but the name goes into a menu drawer so nothing is cut off.
import { useState } from "react";
import { Link, NavLink, useLocation, useNavigate } from "react-router-dom";
import { useAuth } from "../../lib/auth";
import { useClubUnread } from "../../lib/unreadClubs";
import { dmUnread, useDms } from "../../lib/dms";
import { useUnread } from "../../lib/rooms";
import { SearchBox } from "../SearchBox";
import { NotificationBell } from "../NotificationBell";
import { ConnectionBanner } from "./ConnectionBanner";
import { Drawer } from "./Drawer";
import { ThemeToggle } from "./ThemeToggle";
import { UnreadBadge } from "./UnreadBadge";
import { WIDE, useMediaQuery } from "./useMediaQuery";

const FOCUS = "focus:outline-none focus-visible:ring-2 focus-visible:ring-white";

const barLinkClass = ({ isActive }: { isActive: boolean }) =>
  `inline-flex items-center gap-2 rounded px-3 py-1.5 text-sm font-medium no-underline ${FOCUS} ${
    isActive ? "bg-white text-indigo-700 dark:bg-indigo-600 dark:text-white" : "text-white hover:bg-indigo-500 dark:hover:bg-slate-700"
  }`;

const menuLinkClass = ({ isActive }: { isActive: boolean }) =>
  `flex items-center justify-between gap-2 rounded px-3 py-2 font-medium no-underline ${
    isActive ? "bg-indigo-100 text-indigo-900" : "text-slate-800 hover:bg-slate-100"
  }`;

function MainLinks({ linkClass, total, dmTotal }: { linkClass: typeof barLinkClass; total: number; dmTotal: number }) {
  return (
    <>
      <NavLink to="/" end className={linkClass}>
        Feed
      </NavLink>
      <NavLink to="/clubs" end className={linkClass}>
        Clubs
        <UnreadBadge count={total} />
      </NavLink>
      <NavLink to="/dms" className={linkClass}>
        Messages
        <UnreadBadge count={dmTotal} />
      </NavLink>
      <NavLink to="/profile" className={linkClass}>
        Profile
      </NavLink>
    </>
  );
}

export function TopBar() {
  const { user, logout } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const wide = useMediaQuery(WIDE);
  const { clubs, byClub, total } = useClubUnread();
  const dms = useDms();
  const unread = useUnread();
  const dmTotal = dmUnread(dms.rooms, unread).total;
  const [busy, setBusy] = useState(false);
  const [menuOpen, setMenuOpen] = useState(false);

  // Any navigation closes the menu (adjusted while rendering, not in an effect).
  const [shownPath, setShownPath] = useState(location.pathname);
  if (shownPath !== location.pathname) {
    setShownPath(location.pathname);
    setMenuOpen(false);
  }

  async function onLogout() {
    setBusy(true);
    setMenuOpen(false);
    try {
      await logout();
    } finally {
      setBusy(false);
      void navigate("/login", { replace: true });
    }
  }

  const logoutButton = (className: string) => (
    <button type="button" onClick={() => void onLogout()} disabled={busy} className={className}>
      Log out
    </button>
  );

  return (
    // data-layout: which bar is drawn (tests wait for it after resizing the viewport before checking the page).
    <header data-layout={wide ? "wide" : "phone"} className="sticky top-0 z-20 shrink-0 bg-indigo-600 text-white shadow dark:border-b dark:border-slate-700 dark:bg-slate-900">
      <div className="mx-auto flex h-14 max-w-7xl items-center gap-3 px-3 sm:px-4">
        <Link to="/" className={`shrink-0 rounded text-lg font-bold tracking-tight text-white no-underline ${FOCUS}`}>
          ClubHoloHub
        </Link>
        {user && wide && (
          <>
            <nav aria-label="Main" className="flex items-center gap-1">
              <MainLinks linkClass={barLinkClass} total={total} dmTotal={dmTotal} />
            </nav>
            <div className="ml-auto flex min-w-0 items-center gap-2">
              <SearchBox className="hidden w-44 xl:block" />
              <NavLink to="/search" aria-label="Search messages" title="Search messages" className={(a) => `${barLinkClass(a)} xl:hidden`}>
                <svg aria-hidden="true" viewBox="0 0 24 24" className="h-5 w-5" fill="none" stroke="currentColor" strokeWidth="2">
                  <circle cx="11" cy="11" r="7" />
                  <path strokeLinecap="round" d="m20 20-3.5-3.5" />
                </svg>
              </NavLink>
              <NotificationBell />
              <ThemeToggle className={`text-white hover:bg-indigo-500 ${FOCUS}`} />
              <span className="truncate text-sm text-white">{user.display_name}</span>
              {/* A gear until the bar has room for the word (from lg); named "Settings" either way. */}
              <NavLink to="/settings" aria-label="Settings" title="Settings" className={barLinkClass}>
                <svg aria-hidden="true" viewBox="0 0 24 24" className="h-5 w-5 lg:hidden" fill="none" stroke="currentColor" strokeWidth="2">
                  <path strokeLinecap="round" strokeLinejoin="round" d="M10.3 4.3a1.7 1.7 0 0 1 3.4 0 1.7 1.7 0 0 0 2.6 1.1 1.7 1.7 0 0 1 2.4 2.4 1.7 1.7 0 0 0 1 2.5 1.7 1.7 0 0 1 0 3.4 1.7 1.7 0 0 0-1 2.6 1.7 1.7 0 0 1-2.4 2.4 1.7 1.7 0 0 0-2.6 1 1.7 1.7 0 0 1-3.4 0 1.7 1.7 0 0 0-2.5-1 1.7 1.7 0 0 1-2.4-2.4 1.7 1.7 0 0 0-1.1-2.6 1.7 1.7 0 0 1 0-3.4 1.7 1.7 0 0 0 1.1-2.5 1.7 1.7 0 0 1 2.4-2.4 1.7 1.7 0 0 0 2.5-1.1Z" />
                  <circle cx="12" cy="12" r="3" />
                </svg>
                <span className="hidden lg:inline">Settings</span>
              </NavLink>
              {logoutButton(
                `whitespace-nowrap rounded border border-indigo-200 px-3 py-1 text-sm text-white hover:bg-indigo-500 disabled:opacity-60 ${FOCUS}`,
              )}
            </div>
          </>
        )}
        {user && !wide && (
          <div className="ml-auto flex items-center gap-2">
            <NotificationBell />
            {total + dmTotal > 0 && <UnreadBadge count={total + dmTotal} />}
            <button
              type="button"
              aria-expanded={menuOpen}
              aria-controls={menuOpen ? "app-menu" : undefined}
              aria-haspopup="dialog"
              onClick={() => setMenuOpen(true)}
              className={`rounded border border-indigo-200 px-3 py-1.5 text-sm font-medium text-white hover:bg-indigo-500 ${FOCUS}`}
            >
              Menu
            </button>
          </div>
        )}
        {!user && <ThemeToggle className={`ml-auto text-white hover:bg-indigo-500 ${FOCUS}`} />}
      </div>
      {user && <ConnectionBanner />}
      {user && !wide && (
        <Drawer open={menuOpen} onClose={() => setMenuOpen(false)} label="Menu" id="app-menu" side="right">
          <SearchBox dark={false} className="mb-3" />
          <nav aria-label="Main" className="flex flex-col gap-1">
            <MainLinks linkClass={menuLinkClass} total={total} dmTotal={dmTotal} />
          </nav>
          {clubs.length > 0 && (
            <section aria-labelledby="menu-clubs" className="mt-4">
              <h2 id="menu-clubs" className="px-3 text-sm font-semibold text-slate-600">
                Your clubs
              </h2>
              <ul className="mt-1 flex flex-col gap-0.5">
                {clubs.map((club) => (
                  <li key={club.id}>
                    <NavLink to={`/clubs/${club.id}`} className={menuLinkClass}>
                      <span className="min-w-0 truncate">{club.name}</span>
                      <UnreadBadge count={byClub.get(club.id) ?? 0} />
                    </NavLink>
                  </li>
                ))}
              </ul>
            </section>
          )}
          <div className="mt-4 flex flex-col gap-2 border-t border-slate-200 pt-4">
            <p className="px-3 text-sm text-slate-600">
              Logged in as <span className="font-medium text-slate-900">{user.display_name}</span>
            </p>
            <NavLink to="/settings" className={menuLinkClass}>
              Settings
            </NavLink>
            <ThemeToggle className="justify-start px-3 py-2 text-slate-800 hover:bg-slate-100" />
            {logoutButton(
              "rounded border border-slate-300 px-3 py-2 text-left text-sm font-medium text-slate-800 hover:bg-slate-100 disabled:opacity-60",
            )}
          </div>
        </Drawer>
      )}
    </header>
  );
}

