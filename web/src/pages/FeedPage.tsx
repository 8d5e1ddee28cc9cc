import { useCallback, useEffect, useRef, useState } from "react";
import { Link } from "react-router-dom";

import { Badge, Button, ErrorAlert, PageTitle, linkClass } from "../components/ui";
import { api, type Schema } from "../lib/api";
import { closeOpenedItem, itemKey, itemPath, logClick, logImpression, type ItemType } from "../lib/interactions";

/** A feed item: its schema's fields and what the item's kind adds (a title, its club, a start time). */
type FeedItem = Schema<"FeedItem"> & {
  title?: string;
  club_id?: number;
  club_name?: string;
  starts_at?: string;
  status?: string;
  description?: string;
};

type FeedResponse = Schema<"FeedOut"> & { items: FeedItem[] };

const TYPE_LABEL: Record<ItemType, string> = { event: "Event", club: "Club", room: "Room" };

function formatWhen(iso: string | undefined): string | null {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export default function FeedPage() {
  const [items, setItems] = useState<FeedItem[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);

  // Impressions: once per item per page view.
  const seen = useRef(new Set<string>());
  const observer = useRef<IntersectionObserver | null>(null);
  const byElement = useRef(new Map<Element, FeedItem>());

  const load = useCallback(
    () =>
      api<FeedResponse>("GET", "/feed?limit=30")
        .then(
          (res) => setItems(res.items ?? []),
          (err: unknown) => setError(err),
        )
        .finally(() => setLoading(false)),
    [],
  );

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
    <div className="mx-auto max-w-3xl p-4">
      <div className="mb-4 flex items-center justify-between gap-2">
        <PageTitle>For you</PageTitle>
        <Button variant="secondary" onClick={reload} disabled={loading}>
          Reload
        </Button>
      </div>

      <ErrorAlert error={error} className="mb-4" />

      {items === null && loading && <p className="text-slate-600">Loading your feed…</p>}
      {items === null && !loading && error != null && <p className="text-slate-600">The feed could not be loaded.</p>}

      {items !== null && items.length === 0 && (
        <p className="text-slate-600">
          Nothing here yet.{" "}
          <Link to="/clubs" className={linkClass}>
            Find a club to join
          </Link>{" "}
          and
          its events and rooms will show up here.
        </p>
      )}

      {items !== null && items.length > 0 && (
        <ul aria-label="Feed" className="space-y-3">
          {items.map((item) => {
            const when = item.type === "event" ? formatWhen(item.starts_at) : null;
            const title = item.title || `${TYPE_LABEL[item.type] ?? item.type} ${item.id}`;
            return (
              <li
                key={itemKey(item)}
                ref={track(item)}
                className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm"
              >
                <div className="flex flex-wrap items-center gap-2 text-xs text-slate-600">
                  <span className="rounded bg-slate-100 px-2 py-0.5 font-medium uppercase tracking-wide">
                    {TYPE_LABEL[item.type] ?? item.type}
                  </span>
                  {item.club_name && item.type !== "club" && <span>{item.club_name}</span>}
                  {when && <span>· {when}</span>}
                  {item.status === "live" && <Badge tone="live">Live now</Badge>}
                </div>
                <h2 className="mt-1 text-lg font-medium">
                  <Link
                    to={itemPath(item)}
                    onClick={() => logClick(item)}
                    className={linkClass}
                  >
                    {title}
                  </Link>
                </h2>
                {item.type === "club" && item.description && (
                  <p className="mt-1 line-clamp-2 text-sm text-slate-700">{item.description}</p>
                )}
                <p className="mt-2 text-sm italic text-slate-600">{item.reason}</p>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
