// The feed's reels: a horizontal strip of a club's short videos. Muted autoplay of the first reel in view
// (IntersectionObserver; none when the reader prefers reduced motion: then they press play), paused when it
// leaves the view or the page is hidden. Play, watch time, complete and skip go to the feed's interaction
// batches (lib/interactions.ts) through a ReelWatchTracker (lib/reels.ts).
import { useCallback, useEffect, useMemo, useRef, useState } from "react";

import { aspectOf } from "../../lib/media";
import { logReel } from "../../lib/interactions";
import { ReelWatchTracker, type Reel } from "../../lib/reels";
import { BlurhashCanvas } from "./Blurhash";
import { usePrefersReducedMotion } from "./motion";

/** How much of a reel must be in view to count as shown (and to autoplay). */
const SHOWN = 0.6;

export function ReelsStrip({ reels }: { reels: readonly Reel[] }) {
  const reduced = usePrefersReducedMotion();
  const tracker = useMemo(() => new ReelWatchTracker(logReel), []);
  const videos = useRef(new Map<number, HTMLVideoElement>());
  const inView = useRef(new Set<number>());
  const order = useMemo(() => reels.map((r) => r.id), [reels]);
  const orderRef = useRef(order);
  useEffect(() => {
    orderRef.current = order;
  });
  const [autoplay, setAutoplay] = useState<number | null>(null);
  const observer = useRef<IntersectionObserver | null>(null);

  // Which reel plays by itself: the first of the strip that is in view (one at a time).
  useEffect(() => {
    for (const [id, v] of videos.current) {
      if (id === autoplay && !reduced && document.visibilityState === "visible") {
        v.muted = true;
        void v.play().catch(() => undefined);
      } else if (id !== autoplay && !v.paused && v.dataset.user !== "1") {
        v.pause();
      }
    }
  }, [autoplay, reduced]);

  useEffect(() => {
    if (typeof IntersectionObserver === "undefined") return;
    const pick = () => setAutoplay(orderRef.current.find((id) => inView.current.has(id)) ?? null);
    const io = new IntersectionObserver(
      (entries) => {
        for (const e of entries) {
          const id = Number((e.target as HTMLElement).dataset.reelId);
          const shown = e.isIntersecting && e.intersectionRatio >= SHOWN;
          if (shown && !inView.current.has(id)) {
            inView.current.add(id);
            tracker.visible(id);
          } else if (!shown && inView.current.has(id)) {
            inView.current.delete(id);
            const v = videos.current.get(id);
            if (v && !v.paused) {
              v.dataset.user = "";
              v.pause();
            }
            tracker.hidden(id);
          }
        }
        pick();
      },
      { threshold: [0, SHOWN, 1] },
    );
    for (const v of videos.current.values()) io.observe(v);
    const onVisibility = () => {
      if (document.visibilityState === "hidden") {
        for (const v of videos.current.values()) if (!v.paused) v.pause();
        tracker.stopAll();
      } else pick();
    };
    document.addEventListener("visibilitychange", onVisibility);
    window.addEventListener("pagehide", onVisibility);
    observer.current = io;
    return () => {
      io.disconnect();
      observer.current = null;
      document.removeEventListener("visibilitychange", onVisibility);
      window.removeEventListener("pagehide", onVisibility);
      // Leaving the feed: what was playing has been watched.
      tracker.stopAll();
    };
  }, [tracker]);

  // A card's video element came or went.
  const register = useCallback((id: number, el: HTMLVideoElement | null) => {
    if (el) {
      videos.current.set(id, el);
      observer.current?.observe(el);
    } else {
      const old = videos.current.get(id);
      if (old) observer.current?.unobserve(old);
      videos.current.delete(id);
    }
  }, []);

  if (reels.length === 0) return null;
  return (
    <section aria-labelledby="reels-heading" className="mb-6">
      <h2 id="reels-heading" className="mb-2 text-lg font-semibold">
        Reels
      </h2>
      {/* Focusable: on a phone the strip scrolls sideways, and a keyboard must be able to scroll it too
          (a video's own controls do not put it in the tab order everywhere). */}
      <ul
        aria-label="Reels"
        tabIndex={0}
        className="-mx-1 flex snap-x gap-3 overflow-x-auto px-1 pb-2 focus-visible:outline focus-visible:outline-2 focus-visible:outline-blue-600"
      >
        {reels.map((r) => (
          <ReelCard key={r.id} reel={r} auto={r.id === autoplay} tracker={tracker} register={register} />
        ))}
      </ul>
    </section>
  );
}

function ReelCard({
  reel: r,
  auto,
  tracker,
  register,
}: {
  reel: Reel;
  /** The strip plays this one by itself. */
  auto: boolean;
  tracker: ReelWatchTracker;
  register: (id: number, el: HTMLVideoElement | null) => void;
}) {
  const ref = useCallback((el: HTMLVideoElement | null) => register(r.id, el), [register, r.id]);
  const ratio = Math.min(1.2, Math.max(9 / 16, aspectOf(r.media)));
  const name = `Reel${r.author ? ` by ${r.author.display_name}` : ""}${r.caption ? `: ${r.caption}` : ""}`;
  return (
    <li data-reel={r.id} className="w-44 shrink-0 snap-start sm:w-52">
      <div className="relative overflow-hidden rounded-lg bg-slate-900" style={{ aspectRatio: String(ratio) }}>
        <BlurhashCanvas hash={r.media.blurhash} className="absolute inset-0 h-full w-full" />
        <video
          ref={ref}
          data-reel-id={r.id}
          src={r.media.url}
          poster={r.media.poster_url ?? undefined}
          muted
          playsInline
          controls
          preload="metadata"
          aria-label={name}
          className="absolute inset-0 h-full w-full object-cover"
          onPlay={(e) => {
            // Started by the reader (not the strip's autoplay): left playing when another comes in view.
            if (!auto) e.currentTarget.dataset.user = "1";
          }}
          onPlaying={() => tracker.playing(r.id)}
          onPause={(e) => {
            e.currentTarget.dataset.user = "";
            tracker.paused(r.id);
          }}
          onEnded={() => tracker.ended(r.id)}
        />
      </div>
      <p className="mt-1 line-clamp-2 text-sm text-slate-800 [overflow-wrap:anywhere]">
        {r.caption || <span className="italic text-slate-600">No caption</span>}
      </p>
      <p className="truncate text-xs text-slate-600">
        {r.author?.display_name}
        {r.author && r.club_name ? " · " : ""}
        {r.club_name}
      </p>
    </li>
  );
}
