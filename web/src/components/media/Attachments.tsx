// A message's attachments: thumbnails that keep their place before they load (the box is sized from the
// media's width and height, the blurhash painted in it), each a button that opens the room's lightbox.
import { useState } from "react";

import { aspectOf, formatDuration, type Attachment } from "../../lib/media";
import { BlurhashCanvas } from "./Blurhash";
import { mediaLabel, useLightbox } from "./Lightbox";

/** A single attachment: at most this wide and this high (rem). */
const ONE_W = 20;
const ONE_H = 18;
/** Several: tiles of this height (rem), their width from the aspect ratio within bounds. */
const TILE_H = 8;

/** The box of one thumbnail in rem: [width, height]. */
export function thumbBox(a: Pick<Attachment, "width" | "height">, single: boolean): [number, number] {
  const ratio = aspectOf(a);
  if (single) {
    const w = Math.min(ONE_W, ONE_H * ratio);
    return [w, w / ratio];
  }
  const w = Math.min(TILE_H * 1.8, Math.max(TILE_H * 0.6, TILE_H * ratio));
  return [w, TILE_H];
}

export function MediaThumb({
  a,
  width,
  height,
  label,
  onOpen,
}: {
  a: Attachment;
  width: number;
  height: number;
  label: string;
  onOpen?: () => void;
}) {
  const [loaded, setLoaded] = useState(false);
  // A picture that failed (a message can arrive a moment before its media may be served to this reader):
  // asked again a few times, 1, 2 and 4 s later.
  const [attempt, setAttempt] = useState(0);
  const base = a.thumbnail_url || a.poster_url || (a.kind === "image" ? a.url : null);
  const src = base && attempt > 0 ? `${base}${base.includes("?") ? "&" : "?"}retry=${attempt}` : base;
  return (
    <button
      type="button"
      onClick={onOpen}
      aria-label={a.kind === "video" ? `Play ${label.toLowerCase()}` : `Open ${label.toLowerCase()}`}
      data-media-id={a.id}
      data-kind={a.kind}
      // The reserved box: the same size before and after the picture loads (no jump in a long room).
      style={{ aspectRatio: `${width} / ${height}` }}
      className="relative block w-full overflow-hidden rounded-md bg-slate-200 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 focus-visible:ring-offset-1 dark:bg-slate-700"
    >
      <BlurhashCanvas hash={a.blurhash} className="absolute inset-0 h-full w-full" />
      {src && (
        <img
          src={src}
          alt=""
          loading="lazy"
          decoding="async"
          onLoad={() => setLoaded(true)}
          onError={() => {
            if (attempt < 3) setTimeout(() => setAttempt((n) => n + 1), 1000 * 2 ** attempt);
          }}
          data-loaded={loaded || undefined}
          className={`absolute inset-0 h-full w-full object-cover motion-safe:transition-opacity motion-safe:duration-300 ${loaded ? "opacity-100" : "opacity-0"}`}
        />
      )}
      {a.kind === "video" && (
        <span aria-hidden="true" className="absolute inset-0 flex items-center justify-center">
          <span className="flex h-10 w-10 items-center justify-center rounded-full bg-black/60 text-lg text-white">▶</span>
          <span className="absolute bottom-1 right-1 rounded bg-black/70 px-1 text-xs text-white">{formatDuration(a.duration_ms)}</span>
        </span>
      )}
    </button>
  );
}

/** The attachments of one message (nothing when it has none). `from`: its author, said in the lightbox. */
export function Attachments({ items, from }: { items: readonly Attachment[] | undefined; from?: string }) {
  const open = useLightbox();
  if (!items || items.length === 0) return null;
  const single = items.length === 1;
  return (
    <ul aria-label={single ? "Attachment" : `${items.length} attachments`} className="mt-1 flex max-w-full flex-wrap gap-1.5">
      {items.map((a, i) => {
        const [w, h] = thumbBox(a, single);
        return (
          <li key={a.id} className="min-w-0 shrink-0" style={{ width: `min(100%, ${w}rem)` }}>
            <MediaThumb a={a} width={w} height={h} label={mediaLabel(a, i, items.length)} onOpen={open ? () => open(items, i, from) : undefined} />
          </li>
        );
      })}
    </ul>
  );
}
