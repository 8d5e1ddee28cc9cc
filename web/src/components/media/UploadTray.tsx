// The files on their way to a message (or a reel): per file its preview, name, a progress bar while it
// uploads, "Processing…", "Ready", or why it was refused; Cancel while on its way, Remove after.
import { useSyncExternalStore } from "react";

import { formatBytes, type UploadItem, type UploadQueue } from "../../lib/media";
import { Button } from "../ui";

export function useUploads(queue: UploadQueue | null | undefined): readonly UploadItem[] {
  return useSyncExternalStore(
    (cb) => (queue ? queue.subscribe(cb) : () => undefined),
    () => (queue ? queue.getSnapshot() : EMPTY),
    () => EMPTY,
  );
}
const EMPTY: readonly UploadItem[] = [];

function statusText(it: UploadItem): string {
  switch (it.status) {
    case "checking":
      return "Checking…";
    case "waiting":
      return "Waiting to upload…";
    case "uploading":
      return `Uploading… ${Math.round(it.progress * 100)} %`;
    case "processing":
      return "Processing…";
    case "ready":
      return "Ready";
    case "canceled":
      return "Canceled";
    case "failed":
      return "Not attached";
  }
}

export function UploadTray({ queue, label = "Attachments" }: { queue: UploadQueue; label?: string }) {
  const items = useUploads(queue);
  if (items.length === 0) return null;
  return (
    <ul aria-label={label} className="mb-2 flex max-h-48 flex-col gap-1.5 overflow-y-auto">
      {items.map((it) => {
        const onWay = it.status !== "ready" && it.status !== "failed" && it.status !== "canceled";
        return (
          <li
            key={it.key}
            data-status={it.status}
            className={`flex min-w-0 items-center gap-2 rounded border px-2 py-1 text-sm ${
              it.status === "failed" ? "border-red-300 bg-red-50 dark:border-red-700 dark:bg-red-950/40" : "border-slate-200 bg-white dark:border-slate-600 dark:bg-slate-800"
            }`}
          >
            <span aria-hidden="true" className="flex h-10 w-10 shrink-0 items-center justify-center overflow-hidden rounded bg-slate-200 text-lg dark:bg-slate-700">
              {it.media?.thumbnail_url || it.media?.poster_url ? (
                <img src={(it.media.thumbnail_url || it.media.poster_url) as string} alt="" className="h-full w-full object-cover" />
              ) : it.preview ? (
                <img src={it.preview} alt="" className="h-full w-full object-cover" />
              ) : it.kind === "video" ? (
                "🎬"
              ) : (
                "🖼"
              )}
            </span>
            <div className="min-w-0 flex-1">
              <p className="flex min-w-0 items-baseline gap-2">
                <span className="min-w-0 truncate font-medium">{it.name}</span>
                <span className="shrink-0 text-xs text-slate-600 dark:text-slate-400">{formatBytes(it.size)}</span>
              </p>
              {it.status === "failed" ? (
                <p role="alert" className="text-xs text-red-800 dark:text-red-200">
                  {it.error}
                </p>
              ) : (
                <p className="text-xs text-slate-700 dark:text-slate-300" aria-live="polite">
                  {statusText(it)}
                </p>
              )}
              {it.status === "uploading" && (
                <div
                  role="progressbar"
                  aria-label={`Uploading ${it.name}`}
                  aria-valuemin={0}
                  aria-valuemax={100}
                  aria-valuenow={Math.round(it.progress * 100)}
                  className="mt-0.5 h-1.5 w-full overflow-hidden rounded bg-slate-200 dark:bg-slate-700"
                >
                  <div className="h-full rounded bg-indigo-600 motion-safe:transition-[width]" style={{ width: `${Math.round(it.progress * 100)}%` }} />
                </div>
              )}
              {(it.status === "processing" || it.status === "checking" || it.status === "waiting") && (
                <div
                  role="progressbar"
                  aria-label={`Processing ${it.name}`}
                  className="mt-0.5 h-1.5 w-full overflow-hidden rounded bg-slate-200 dark:bg-slate-700"
                >
                  <div className="h-full w-1/3 rounded bg-indigo-400 motion-safe:animate-pulse" />
                </div>
              )}
            </div>
            <Button
              small
              variant={onWay ? "secondary" : "ghost"}
              aria-label={`${onWay ? "Cancel" : "Remove"} ${it.name}`}
              onClick={() => (onWay ? queue.cancel(it.key) : queue.remove(it.key))}
            >
              {onWay ? "Cancel" : "Remove"}
            </Button>
          </li>
        );
      })}
    </ul>
  );
}
