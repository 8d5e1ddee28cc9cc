// The bell in the top bar: the unread notification count, and the inbox it opens (a panel at the right on
// wide screens, a full-screen sheet on phones): newest first, unread ones marked, "Mark all read", "Load
// more", live updates (lib/notifications.ts). Opening one marks it read and goes where it leads.
import { useEffect, useRef, useState } from "react";
import { Link, useLocation } from "react-router-dom";
import { messageTime } from "../lib/dates";
import {
  bellLabel,
  kindLabel,
  loadInbox,
  loadMoreInbox,
  markAllNotificationsRead,
  markNotificationsRead,
  notificationHref,
  setInboxOpen,
  toMs,
  useInbox,
  useInboxOpen,
  type AppNotification,
} from "../lib/notifications";
import { Drawer } from "./shell/Drawer";
import { WIDE, useMediaQuery } from "./shell/useMediaQuery";
import { Button, ErrorAlert } from "./ui";

const FOCUS = "focus:outline-none focus-visible:ring-2 focus-visible:ring-white";

function BellIcon() {
  return (
    <svg aria-hidden="true" viewBox="0 0 24 24" className="h-5 w-5" fill="none" stroke="currentColor" strokeWidth="2">
      <path strokeLinecap="round" strokeLinejoin="round" d="M15 17h5l-1.4-1.4A2 2 0 0 1 18 14.2V11a6 6 0 1 0-12 0v3.2a2 2 0 0 1-.6 1.4L4 17h5m6 0a3 3 0 1 1-6 0m6 0H9" />
    </svg>
  );
}

export function NotificationBell() {
  const inbox = useInbox();
  const wide = useMediaQuery(WIDE);
  const location = useLocation();
  const open = useInboxOpen();
  const setOpen = setInboxOpen;

  // Any navigation closes the inbox.
  const where = location.pathname + location.search;
  const shownPath = useRef(where);
  useEffect(() => {
    if (shownPath.current === where) return;
    shownPath.current = where;
    setInboxOpen(false);
  }, [where]);

  // The first page each time it opens (what came live meanwhile is in already; this catches the rest).
  useEffect(() => {
    if (open) void loadInbox();
  }, [open]);

  const unread = inbox.unread;
  return (
    <>
      <button
        type="button"
        aria-label={bellLabel(unread)}
        aria-haspopup="dialog"
        aria-expanded={open}
        aria-controls={open ? "inbox" : undefined}
        onClick={() => setOpen(true)}
        className={`relative inline-flex h-9 w-9 shrink-0 items-center justify-center rounded text-white hover:bg-indigo-500 dark:hover:bg-slate-700 ${FOCUS}`}
      >
        <BellIcon />
        {unread > 0 && (
          <span
            aria-hidden="true"
            data-testid="bell-count"
            className="absolute -right-1 -top-1 min-w-5 rounded-full bg-red-600 px-1 text-center text-xs font-semibold leading-5 text-white ring-2 ring-indigo-600 dark:ring-slate-900"
          >
            {unread > 99 ? "99+" : unread}
          </span>
        )}
      </button>
      <Drawer
        open={open}
        onClose={() => setOpen(false)}
        label="Notifications"
        id="inbox"
        side="right"
        panelClassName={wide ? "w-96 max-w-[90vw]" : "w-full"}
      >
        <Inbox onOpenItem={() => setOpen(false)} />
      </Drawer>
    </>
  );
}

function Inbox({ onOpenItem }: { onOpenItem: () => void }) {
  const inbox = useInbox();
  const [actionError, setActionError] = useState<unknown>(null);
  // "Now" for the times, taken when the inbox renders with new items (a render must not read the clock).
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 60_000);
    return () => clearInterval(t);
  }, []);

  const anyUnread = inbox.unread > 0 || inbox.items.some((n) => !n.read);

  function open(n: AppNotification) {
    setActionError(null);
    markNotificationsRead([n.id]).catch(setActionError);
    if (notificationHref(n)) onOpenItem();
  }

  return (
    <div className="flex flex-col gap-3">
      <div className="flex items-center justify-between gap-2">
        <p className="text-sm text-slate-700" aria-live="polite">
          {inbox.unread > 0 ? `${inbox.unread} unread` : "All caught up"}
        </p>
        <Button
          variant="secondary"
          disabled={!anyUnread}
          onClick={() => {
            setActionError(null);
            markAllNotificationsRead().catch(setActionError);
          }}
        >
          Mark all read
        </Button>
      </div>
      <ErrorAlert error={actionError} />
      {inbox.error != null && !inbox.loading && (
        <ErrorAlert error={inbox.error}>
          <Button small variant="secondary" className="ml-2" onClick={() => void (inbox.loaded ? loadMoreInbox() : loadInbox())}>
            Try again
          </Button>
        </ErrorAlert>
      )}
      {inbox.items.length > 0 ? (
        <ul aria-label="Notifications" className="-mx-1 flex flex-col gap-1">
          {inbox.items.map((n) => (
            <li key={String(n.id)}>
              <NotificationItem n={n} now={now} onOpen={open} />
            </li>
          ))}
        </ul>
      ) : inbox.loaded ? (
        <p className="py-6 text-center text-sm text-slate-600">No notifications yet. Mentions, replies and event reminders show up here.</p>
      ) : (
        inbox.loading && <p className="text-sm text-slate-600">Fetching your notifications…</p>
      )}
      {inbox.nextCursor && (
        <Button variant="secondary" disabled={inbox.loading} onClick={() => void loadMoreInbox()}>
          {inbox.loading ? "Fetching more…" : "Load more"}
        </Button>
      )}
    </div>
  );
}

function NotificationItem({ n, now, onOpen }: { n: AppNotification; now: number; onOpen: (n: AppNotification) => void }) {
  const href = notificationHref(n);
  const ts = toMs(n.created_at);
  const body = (
    <>
      <span
        aria-hidden="true"
        className={`mt-1.5 inline-block h-2.5 w-2.5 shrink-0 rounded-full ${n.read ? "bg-transparent" : "bg-indigo-600"}`}
      />
      <span className="min-w-0 flex-1">
        <span className="flex flex-wrap items-baseline gap-x-2 text-xs text-slate-600">
          <span className="font-semibold uppercase tracking-wide text-slate-700">{kindLabel(n.kind)}</span>
          {n.actor?.display_name && <span className="font-medium text-slate-800">{n.actor.display_name}</span>}
          {ts > 0 && <time dateTime={new Date(ts).toISOString()}>{messageTime(ts, now)}</time>}
          {!n.read && <span className="sr-only">Unread.</span>}
        </span>
        <span className={`block break-words text-sm [overflow-wrap:anywhere] ${n.read ? "text-slate-700" : "font-semibold text-slate-900"}`}>
          {n.text}
        </span>
      </span>
    </>
  );
  const cls = `flex w-full items-start gap-2 rounded px-2 py-2 text-left no-underline hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 ${
    n.read ? "" : "bg-indigo-50"
  }`;
  return href ? (
    <Link to={href} data-read={n.read} className={cls} onClick={() => onOpen(n)}>
      {body}
    </Link>
  ) : (
    <button type="button" data-read={n.read} className={cls} onClick={() => onOpen(n)}>
      {body}
    </button>
  );
}
