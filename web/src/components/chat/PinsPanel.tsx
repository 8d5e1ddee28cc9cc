// The pinned messages of a room (`GET /rooms/{id}/pins`), fetched each time the panel opens and whenever
// the room's pins change (`room:pins`); each one can be opened in the room (scrolled to, marked) and,
// for those who may pin, unpinned.
import { useEffect, useState } from "react";
import { api } from "../../lib/api";
import { snippet } from "../../lib/chatView";
import { messageTime } from "../../lib/dates";
import type { ChatMessage } from "../../store/messages";
import { Button, ErrorAlert } from "../ui";

type Pin = ChatMessage & { pinned_by?: { id: number; display_name: string } | number | null; pinned_at?: number | string | null };

function pinnerName(p: Pin): string | null {
  const by = p.pinned_by ?? (p.pinned && typeof p.pinned.by === "object" ? p.pinned.by : null);
  return by && typeof by === "object" ? by.display_name : null;
}

export function PinsPanel({
  roomId,
  version,
  canPin,
  onOpen,
  onUnpin,
}: {
  roomId: number;
  /** Changes when the room's pins change (fetched again then). */
  version: string;
  canPin: boolean;
  onOpen: (seq: number) => void;
  onUnpin: (seq: number) => Promise<void>;
}) {
  const [pins, setPins] = useState<Pin[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [reload, setReload] = useState(0);
  const [now] = useState(() => Date.now());

  useEffect(() => {
    let live = true;
    api<{ pins?: Pin[] }>("GET", `/rooms/${roomId}/pins`).then(
      (out) => {
        if (!live) return;
        setPins(out.pins ?? []);
        setError(null);
      },
      (err: unknown) => {
        if (live) setError(err);
      },
    );
    return () => {
      live = false;
    };
  }, [roomId, version, reload]);

  return (
    <div className="flex flex-col gap-3">
      {error != null && (
        <ErrorAlert error={error}>
          <Button small variant="secondary" className="ml-2" onClick={() => setReload((n) => n + 1)}>
            Try again
          </Button>
        </ErrorAlert>
      )}
      <ErrorAlert error={actionError} />
      {pins === null ? (
        !error && <p className="text-sm text-slate-600">Loading pinned messages…</p>
      ) : pins.length === 0 ? (
        <p className="py-4 text-center text-sm text-slate-600">Nothing is pinned in this room yet.</p>
      ) : (
        <ul aria-label="Pinned messages" className="flex flex-col gap-2">
          {pins.map((p) => {
            const by = pinnerName(p);
            return (
              <li key={p.seq} className="rounded border border-slate-200 p-2 text-sm">
                <p className="flex flex-wrap items-baseline gap-x-2 text-xs text-slate-600">
                  <span className="font-semibold text-slate-800">{p.author?.display_name}</span>
                  {typeof p.ts === "number" && <time dateTime={new Date(p.ts).toISOString()}>{messageTime(p.ts, now)}</time>}
                  {by && <span>pinned by {by}</span>}
                </p>
                <p className="mt-1 break-words [overflow-wrap:anywhere]">{p.deleted ? <em>message deleted</em> : snippet(p.text ?? "", 200)}</p>
                <div className="mt-2 flex gap-2">
                  <Button small variant="secondary" onClick={() => onOpen(p.seq)}>
                    Show in room
                  </Button>
                  {canPin && (
                    <Button
                      small
                      variant="danger"
                      onClick={() => {
                        setActionError(null);
                        onUnpin(p.seq).then(
                          () => setPins((list) => (list ?? []).filter((x) => x.seq !== p.seq)),
                          setActionError,
                        );
                      }}
                    >
                      Unpin
                    </Button>
                  )}
                </div>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
