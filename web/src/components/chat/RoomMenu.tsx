// The room's options (a menu in the room's header, button "Room options"): for now the member's notification level of this room,
// `GET/PATCH /rooms/{id}/notifications {level: all|mentions|none}`. A disclosure button opening a small
// panel with a radio group; Escape or a click outside closes it and focus goes back to the button.
import { useEffect, useId, useRef, useState } from "react";
import { api } from "../../lib/api";
import { ErrorAlert } from "../ui";

export type NotifyLevel = "all" | "mentions" | "none";

export const LEVELS: readonly { level: NotifyLevel; label: string; hint: string }[] = [
  { level: "all", label: "All messages", hint: "Notified of mentions and replies" },
  { level: "mentions", label: "Mentions only", hint: "Only when someone mentions you" },
  { level: "none", label: "Nothing", hint: "No notifications from this room" },
];

export function levelLabel(level: NotifyLevel | null): string {
  return LEVELS.find((l) => l.level === level)?.label ?? "";
}

function isLevel(v: unknown): v is NotifyLevel {
  return v === "all" || v === "mentions" || v === "none";
}

export function RoomMenu({ roomId, roomName }: { roomId: number; roomName: string }) {
  const [open, setOpen] = useState(false);
  const [level, setLevel] = useState<NotifyLevel | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const panel = useRef<HTMLDivElement>(null);
  const id = useId();
  const panelId = `room-menu-${id}`;

  // Another room: nothing of the last one's menu stays (adjusted while rendering).
  const [shownRoom, setShownRoom] = useState(roomId);
  if (shownRoom !== roomId) {
    setShownRoom(roomId);
    setOpen(false);
    setLevel(null);
    setLoadError(null);
    setSaveError(null);
    setSaved(false);
  }

  // The level, each time the menu opens (another device may have changed it).
  useEffect(() => {
    if (!open) return;
    let live = true;
    api<{ level?: unknown }>("GET", `/rooms/${roomId}/notifications`).then(
      (out) => {
        if (!live) return;
        setLevel(isLevel(out?.level) ? out.level : "all");
        setLoadError(null);
      },
      (err: unknown) => {
        if (live) setLoadError(err);
      },
    );
    return () => {
      live = false;
    };
  }, [open, roomId]);

  // Focus into the panel when it opens; Escape and a click outside close it.
  useEffect(() => {
    if (!open) return;
    const root = panel.current;
    root?.querySelector<HTMLElement>("input:checked, input, button")?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== "Escape") return;
      e.preventDefault();
      setOpen(false);
      button.current?.focus();
    };
    const onPointer = (e: PointerEvent) => {
      const t = e.target as Node | null;
      if (t && !root?.contains(t) && !button.current?.contains(t)) setOpen(false);
    };
    document.addEventListener("keydown", onKey);
    document.addEventListener("pointerdown", onPointer);
    return () => {
      document.removeEventListener("keydown", onKey);
      document.removeEventListener("pointerdown", onPointer);
    };
  }, [open]);

  async function choose(next: NotifyLevel) {
    const before = level;
    setLevel(next);
    setSaving(true);
    setSaved(false);
    setSaveError(null);
    try {
      const out = await api<{ level?: unknown }>("PATCH", `/rooms/${roomId}/notifications`, { level: next });
      setLevel(isLevel(out?.level) ? out.level : next);
      setSaved(true);
    } catch (err) {
      setLevel(before);
      setSaveError(err);
    } finally {
      setSaving(false);
    }
  }

  return (
    <div className="relative shrink-0">
      <button
        ref={button}
        type="button"
        aria-expanded={open}
        aria-controls={open ? panelId : undefined}
        onClick={() => setOpen((o) => !o)}
        className="inline-flex items-center gap-1 rounded border border-slate-300 bg-white px-2.5 py-1 text-sm font-medium text-slate-800 hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500"
      >
        Room options
        <span aria-hidden="true" className="text-xs">
          ▾
        </span>
      </button>
      {open && (
        <div
          ref={panel}
          id={panelId}
          role="group"
          aria-label={`Options of ${roomName}`}
          aria-busy={saving}
          className="absolute right-0 top-full z-30 mt-1 w-72 max-w-[calc(100vw-1.5rem)] rounded-lg border border-slate-200 bg-white p-3 text-slate-900 shadow-lg"
        >
          <fieldset disabled={level === null}>
            <legend className="mb-1 text-sm font-semibold">Notifications from this room</legend>
            {level === null && !loadError && <p className="text-sm text-slate-600">Loading the setting…</p>}
            <div className="space-y-1">
              {LEVELS.map((l) => (
                <label
                  key={l.level}
                  className="flex cursor-pointer items-start gap-2 rounded px-1 py-1 hover:bg-slate-100 has-[:focus-visible]:ring-2 has-[:focus-visible]:ring-indigo-500"
                >
                  <input
                    type="radio"
                    name={`notify-${panelId}`}
                    value={l.level}
                    checked={level === l.level}
                    onChange={() => void choose(l.level)}
                    aria-describedby={`${panelId}-${l.level}-hint`}
                    className="mt-1 accent-indigo-600"
                  />
                  <span>
                    <span className="block text-sm font-medium">{l.label}</span>
                    <span id={`${panelId}-${l.level}-hint`} className="block text-xs text-slate-600">
                      {l.hint}
                    </span>
                  </span>
                </label>
              ))}
            </div>
          </fieldset>
          <ErrorAlert error={loadError ?? saveError} className="mt-2" />
          <p role="status" className="mt-1 min-h-5 text-xs text-green-800">
            {saved && level ? `Saved: ${levelLabel(level)}.` : ""}
          </p>
        </div>
      )}
    </div>
  );
}
