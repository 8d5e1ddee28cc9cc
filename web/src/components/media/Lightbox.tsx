// The lightbox of a room's attachments: one native modal <dialog> for the whole room (a message row of the
// virtualized log may leave the page while it is open), showing an image at full size or a video with its
// controls. Focus stays inside (showModal), Escape closes, focus goes back to the thumbnail that opened it;
// arrow keys (and Previous/Next) move between the attachments of the same message.
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";

import { formatDuration, type Attachment } from "../../lib/media";
import { usePrefersReducedMotion } from "./motion";
import { Button } from "../ui";
import { useModalDialog } from "../Dialog";

interface Shown {
  items: readonly Attachment[];
  index: number;
  /** Who sent them (said in the dialog's name). */
  from?: string;
}

type Open = (items: readonly Attachment[], index: number, from?: string) => void;

const LightboxContext = createContext<Open | null>(null);

/** Opens the lightbox of the nearest `LightboxProvider` (null outside one). */
export function useLightbox(): Open | null {
  return useContext(LightboxContext);
}

export function mediaLabel(a: Attachment, index: number, count: number): string {
  const what = a.kind === "video" ? `Video (${formatDuration(a.duration_ms)})` : "Image";
  return count > 1 ? `${what}, ${index + 1} of ${count}` : what;
}

export function LightboxProvider({ children }: { children: ReactNode }) {
  const [shown, setShown] = useState<Shown | null>(null);
  const open = useCallback<Open>((items, index, from) => setShown({ items, index, from }), []);
  return (
    <LightboxContext.Provider value={open}>
      {children}
      {shown && <Lightbox shown={shown} onMove={(index) => setShown({ ...shown, index })} onClose={() => setShown(null)} />}
    </LightboxContext.Provider>
  );
}

function Lightbox({ shown, onMove, onClose }: { shown: Shown; onMove: (index: number) => void; onClose: () => void }) {
  const [ref, close] = useModalDialog(true, onClose);
  const reduced = usePrefersReducedMotion();
  const { items, index } = shown;
  const a = items[index];
  const count = items.length;
  const label = useMemo(
    () => `${mediaLabel(a, index, count)}${shown.from ? ` from ${shown.from}` : ""}`,
    [a, index, count, shown.from],
  );

  const move = (step: number) => onMove((index + step + count) % count);

  return (
    <dialog
      ref={ref}
      aria-label={label}
      data-testid="lightbox"
      onKeyDown={(e) => {
        if (e.key === "Tab") {
          // Tab goes round inside (the browser would leave the page for its own controls after the last).
          const all = [...e.currentTarget.querySelectorAll<HTMLElement>("button, a[href], video[controls], [tabindex='0']")];
          const first = all[0];
          const last = all[all.length - 1];
          if (!first) return;
          if (e.shiftKey && (document.activeElement === first || !e.currentTarget.contains(document.activeElement))) {
            e.preventDefault();
            last.focus();
          } else if (!e.shiftKey && document.activeElement === last) {
            e.preventDefault();
            first.focus();
          }
          return;
        }
        if (count < 2 || e.target instanceof HTMLVideoElement) return;
        if (e.key === "ArrowRight") {
          e.preventDefault();
          move(1);
        } else if (e.key === "ArrowLeft") {
          e.preventDefault();
          move(-1);
        }
      }}
      onClick={(e) => {
        if (e.target === e.currentTarget) close.current();
      }}
      className="m-0 h-dvh max-h-none w-screen max-w-none bg-slate-950 p-0 backdrop:bg-slate-950"
    >
      <div className="flex h-full w-full flex-col text-white" onClick={(e) => e.target === e.currentTarget && close.current()}>
        <div className="flex shrink-0 items-center justify-between gap-2 p-2">
          <p className="min-w-0 truncate px-2 text-sm">{label}</p>
          <div className="flex shrink-0 gap-2">
            {count > 1 && (
              <>
                <Button small variant="secondary" onClick={() => move(-1)}>
                  Previous
                </Button>
                <Button small variant="secondary" onClick={() => move(1)}>
                  Next
                </Button>
              </>
            )}
            <Button small variant="secondary" onClick={() => close.current()}>
              Close
            </Button>
          </div>
        </div>
        <div
          className="flex min-h-0 flex-1 items-center justify-center p-2 pt-0"
          onClick={(e) => e.target === e.currentTarget && close.current()}
        >
          {a.kind === "video" ? (
            <video
              key={a.id}
              src={a.url}
              poster={a.poster_url ?? undefined}
              controls
              playsInline
              autoPlay={!reduced}
              aria-label={label}
              className="max-h-full max-w-full rounded bg-black"
            />
          ) : (
            <img key={a.id} src={a.url} alt={label} className="max-h-full max-w-full rounded object-contain" />
          )}
        </div>
      </div>
    </dialog>
  );
}
