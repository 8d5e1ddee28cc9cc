import { useCallback, useEffect, useRef, useState } from "react";
import { Link } from "react-router-dom";

import { Badge, Button, ErrorAlert, PageTitle, linkClass } from "../components/ui";
import { api, type Schema } from "../lib/api";
import { joinClub, loadMyClubs, membersLabel } from "../lib/clubs";
import { errorMessage } from "../lib/errors";
import { countsAfter, formatStart, goingLabel, rsvpStatus, setRsvp, type EventListItem } from "../lib/events";
import {
  closeOpenedItem,
  feedReason,
  itemKey,
  itemPath,
  logClick,
  logImpression,
  type ItemType,
} from "../lib/interactions";
import { loadReel, reelOf, type Reel } from "../lib/reels";
import { ReelsStrip } from "../components/media/ReelsStrip";

/** A feed item: its schema's fields and what the item's kind adds (a title, its club, a start time). */
type FeedItem = Schema<"FeedItem"> & {
  title?: string;
  club_id?: number;
  club_name?: string;
  starts_at?: string;
  status?: string;
  description?: string;
  waitlisted?: number;
};

type FeedResponse = Schema<"FeedOut"> & { items: FeedItem[] };

/** The reels of the feed's items, in their order: from the item itself, else `GET /reels/{id}` (a reel
 * that cannot be loaded is left out). */
async function reelsOf(items: readonly FeedItem[]): Promise<Reel[]> {
  const found = await Promise.all(
    items
      .filter((it) => (it.type as string) === "reel")
      .map((it) => {
        const reel = reelOf(it);
        return reel ? Promise.resolve(reel) : loadReel(it.id).catch(() => null);
      }),
  );
  return found.filter((r): r is Reel => r !== null);
}

/** An event of the "Upcoming for you" strip: one of the member's clubs, or one they RSVPed to. */
type Upcoming = EventListItem & { club_name: string };

const UPCOMING_MAX = 8;
const UPCOMING_CLUBS = 12;

const TYPE_LABEL: Record<ItemType, string> = { event: "Event", club: "Club", room: "Room", reel: "Reel" };

function formatWhen(iso: string | undefined): string | null {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export default function FeedPage() {
  const [items, setItems] = useState<FeedItem[] | null>(null);
  const [trained, setTrained] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [upcoming, setUpcoming] = useState<Upcoming[] | null>(null);
  const [reels, setReels] = useState<Reel[]>([]);
  // Per card: a Join or RSVP on its way, and what went wrong with the last one.
  const [busy, setBusy] = useState<ReadonlySet<string>>(new Set());
  const [actionError, setActionError] = useState<ReadonlyMap<string, string>>(new Map());

  // Impressions: once per item per page view.
  const seen = useRef(new Set<string>());
  const observer = useRef<IntersectionObserver | null>(null);
  const byElement = useRef(new Map<Element, FeedItem>());

  const load = useCallback(
    () =>
      Promise.all([
        api<FeedResponse>("GET", "/feed?limit=30").then(
          (res) => {
            const all = res.items ?? [];
            // Reels play in their strip; the list has the rest.
            setItems(all.filter((it) => (it.type as string) !== "reel"));
            setTrained(res.model != null);
            void reelsOf(all).then(setReels);
          },
          (err: unknown) => setError(err),
        ),
        loadUpcoming().then(setUpcoming, () => setUpcoming([])),
      ]).finally(() => setLoading(false)),
    [],
  );

  /** Run a card's action (Join, RSVP) once at a time, with its error shown on that card. */
  async function act(key: string, run: () => Promise<void>) {
    if (busy.has(key)) return;
    setBusy((cur) => new Set(cur).add(key));
    setActionError((cur) => {
      const next = new Map(cur);
      next.delete(key);
      return next;
    });
    try {
      await run();
    } catch (err) {
      setActionError((cur) => new Map(cur).set(key, errorMessage(err)));
    } finally {
      setBusy((cur) => {
        const next = new Set(cur);
        next.delete(key);
        return next;
      });
    }
  }

  function patchItem(key: string, patch: (item: FeedItem) => FeedItem) {
    setItems((cur) => cur?.map((it) => (itemKey(it) === key ? patch(it) : it)) ?? cur);
  }

  function join(item: FeedItem) {
    const key = itemKey(item);
    return act(key, async () => {
      await joinClub(item.id);
      patchItem(key, (it) => ({ ...it, member: true, member_count: (it.member_count ?? 0) + 1 }));
      // The club's events now belong in the strip.
      void loadUpcoming().then(setUpcoming, () => undefined);
    });
  }

  function rsvp(eventId: number, attend: boolean) {
    const key = `event:${eventId}`;
    return act(key, async () => {
      const before =
        rsvpStatus(items?.find((it) => itemKey(it) === key)?.my_rsvp) ??
        rsvpStatus(upcoming?.find((e) => e.id === eventId)?.my_rsvp);
      const mine = await setRsvp(eventId, attend);
      const after = rsvpStatus(mine);
      patchItem(key, (it) => ({ ...it, ...countsAfter(it, before, after), my_rsvp: after }));
      setUpcoming(
        (cur) => cur?.map((e) => (e.id === eventId ? { ...e, ...countsAfter(e, before, after), my_rsvp: mine } : e)) ?? cur,
      );
    });
  }

  function reload() {
    setLoading(true);
    setError(null);
    void load();
  }

  useEffect(() => {
    // Back on the feed: the item opened from it has been left.
    closeOpenedItem();
    void load();
  }, [load]);

  useEffect(() => {
    if (typeof IntersectionObserver === "undefined") return;
    const io = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          if (!entry.isIntersecting) continue;
          const item = byElement.current.get(entry.target);
          if (!item) continue;
          const key = itemKey(item);
          if (!seen.current.has(key)) {
            seen.current.add(key);
            logImpression(item);
          }
          io.unobserve(entry.target);
        }
      },
      { threshold: 0.5 },
    );
    observer.current = io;
    for (const el of byElement.current.keys()) io.observe(el);
    return () => {
      io.disconnect();
      observer.current = null;
    };
  }, []);

  const track = useCallback(
    (item: FeedItem) => (el: HTMLLIElement | null) => {
      if (!el) return;
      byElement.current.set(el, item);
      const key = itemKey(item);
      if (!seen.current.has(key)) {
        if (observer.current) observer.current.observe(el);
        else if (typeof IntersectionObserver === "undefined") {
          // No IntersectionObserver: count what was rendered.
          seen.current.add(key);
          logImpression(item);
        }
      }
      return () => {
        byElement.current.delete(el);
        observer.current?.unobserve(el);
      };
    },
    [],
  );

  return (
    <div className="mx-auto w-full max-w-3xl p-4">
      <div className="mb-4 flex items-center justify-between gap-2">
        <PageTitle>For you</PageTitle>
        <Button variant="secondary" onClick={reload} disabled={loading}>
          Reload
        </Button>
      </div>

      <ErrorAlert error={error} className="mb-4" />

      {items === null && loading && <p className="text-slate-600">Loading your feed…</p>}
      {items === null && !loading && error != null && <p className="text-slate-600">The feed could not be loaded.</p>}

      <ReelsStrip reels={reels} />

      {items !== null && items.length === 0 && reels.length === 0 && (
        <p className="text-slate-600">
          Nothing here yet.{" "}
          <Link to="/clubs" className={linkClass}>
            Find a club to join
          </Link>{" "}
          and
          its events and rooms will show up here.
        </p>
      )}

      {upcoming !== null && upcoming.length > 0 && (
        <section aria-labelledby="upcoming-heading" className="mb-6">
          <h2 id="upcoming-heading" className="mb-2 text-lg font-semibold">
            Upcoming for you
          </h2>
          <ul aria-label="Upcoming for you" className="-mx-1 flex snap-x gap-3 overflow-x-auto px-1 pb-2">
            {upcoming.map((ev) => {
              const mine = rsvpStatus(ev.my_rsvp);
              const key = `event:${ev.id}`;
              return (
                <li key={ev.id} className="w-60 shrink-0 snap-start rounded-lg border border-slate-200 bg-white p-3 shadow-sm">
                  <p className="truncate text-xs text-slate-600">{ev.club_name}</p>
                  <h3 className="mt-0.5 truncate font-medium">
                    <Link to={`/events/${ev.id}`} className={linkClass}>
                      {ev.title}
                    </Link>
                  </h3>
                  <p className="mt-1 text-sm text-slate-700">
                    <time dateTime={ev.starts_at}>{formatStart(ev.starts_at)}</time>
                  </p>
                  <div className="mt-2 flex flex-wrap items-center gap-2 text-sm">
                    {ev.status === "live" && <Badge tone="live">Live now</Badge>}
                    <span className="text-slate-700">{goingLabel(ev.going, ev.capacity)}</span>
                    <RsvpControl
                      title={ev.title}
                      status={mine}
                      busy={busy.has(key)}
                      onChange={(attend) => void rsvp(ev.id, attend)}
                    />
                  </div>
                  {actionError.get(key) && (
                    <p role="alert" className="mt-1 text-xs text-red-700">
                      {actionError.get(key)}
                    </p>
                  )}
                </li>
              );
            })}
          </ul>
        </section>
      )}

      {items !== null && items.length > 0 && (
        <ul aria-label="Feed" className="space-y-3">
          {items.map((item) => {
            const key = itemKey(item);
            const when = item.type === "event" ? formatWhen(item.starts_at) : null;
            const title = item.title || `${TYPE_LABEL[item.type] ?? item.type} ${item.id}`;
            const mine = rsvpStatus(item.my_rsvp);
            return (
              <li key={key} ref={track(item)} className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
                <div className="flex flex-wrap items-center gap-2 text-xs text-slate-600">
                  <span className="rounded bg-slate-100 px-2 py-0.5 font-medium uppercase tracking-wide">
                    {TYPE_LABEL[item.type] ?? item.type}
                  </span>
                  {item.club_name && item.type !== "club" && <span>{item.club_name}</span>}
                  {when && <span>· {when}</span>}
                  {item.status === "live" && <Badge tone="live">Live now</Badge>}
                </div>
                <h2 className="mt-1 text-lg font-medium">
                  <Link to={itemPath(item)} onClick={() => logClick(item)} className={linkClass}>
                    {title}
                  </Link>
                </h2>
                {item.type === "club" && item.description && (
                  <p className="mt-1 line-clamp-2 text-sm text-slate-700">{item.description}</p>
                )}
                <p className="mt-2 text-sm text-slate-700">{feedReason(item, trained)}</p>
                {(item.type === "event" || item.type === "club") && (
                  <div className="mt-3 flex flex-wrap items-center gap-3 text-sm">
                    {item.type === "event" && <span className="text-slate-700">{goingLabel(item.going)}</span>}
                    {item.type === "event" && item.member && (
                      <RsvpControl
                        title={title}
                        status={mine}
                        busy={busy.has(key)}
                        onChange={(attend) => void rsvp(item.id, attend)}
                      />
                    )}
                    {item.type === "club" && <span className="text-slate-700">{membersLabel(item.member_count)}</span>}
                    {item.type === "club" &&
                      (item.member ? (
                        <>
                          <Badge tone="success">Joined</Badge>
                          <Link to={`/clubs/${item.id}`} className={linkClass}>
                            Open {title}
                          </Link>
                        </>
                      ) : (
                        <Button small disabled={busy.has(key)} onClick={() => void join(item)} aria-label={`Join ${title}`}>
                          Join
                        </Button>
                      ))}
                  </div>
                )}
                {actionError.get(key) && (
                  <p role="alert" className="mt-2 text-sm text-red-700">
                    {actionError.get(key)}
                  </p>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}

/** RSVP on a card: "RSVP" until the member is going (or waitlisted), then that and a way back out. */
function RsvpControl({
  title,
  status,
  busy,
  onChange,
}: {
  title: string;
  status: string | null;
  busy: boolean;
  onChange: (attend: boolean) => void;
}) {
  if (!status) {
    return (
      <Button small disabled={busy} onClick={() => onChange(true)} aria-label={`RSVP to ${title}`}>
        RSVP
      </Button>
    );
  }
  return (
    <>
      <Badge tone="success">{status === "waitlisted" ? "On the waitlist" : "You're going"}</Badge>
      <Button small variant="ghost" disabled={busy} onClick={() => onChange(false)} aria-label={`Cancel RSVP to ${title}`}>
        Cancel
      </Button>
    </>
  );
}

/** The member's next events: those of their clubs (an RSVP needs membership), soonest first. Asked per club
 * (the first `UPCOMING_CLUBS`): `GET /events` without a club lists every public club's, where the member's
 * own could fall past the limit. */
async function loadUpcoming(): Promise<Upcoming[]> {
  const clubs = (await loadMyClubs()).slice(0, UPCOMING_CLUBS);
  const lists = await Promise.all(
    clubs.map((c) =>
      api<Schema<"EventsOut">>("GET", `/events?club_id=${c.id}&upcoming=true`).then(
        (out) => out.events.map((e): Upcoming => ({ ...e, club_name: c.name })),
        () => [] as Upcoming[],
      ),
    ),
  );
  return lists
    .flat()
    .filter((e) => e.status !== "ended")
    .sort((a, b) => Date.parse(a.starts_at) - Date.parse(b.starts_at) || a.id - b.id)
    .slice(0, UPCOMING_MAX);
}
