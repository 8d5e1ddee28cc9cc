// A button that opens a small emoji popover (role="dialog", labelled): a search box, the member's recent emoji
// and the curated set (lib/emoji.ts). Keyboard: the search box takes focus, Tab or ArrowDown moves into the
// grid, the arrow keys/Home/End move within it, Enter picks, Escape closes and returns focus to the button.
// The popover is portalled to <body> with fixed coordinates, so a scrolling message list cannot clip it.
import { useCallback, useEffect, useId, useLayoutEffect, useRef, useState, type KeyboardEvent, type ReactNode, type RefObject } from "react";
import { createPortal } from "react-dom";

import { emojiName, filterEmoji, recentEmoji, rememberEmoji } from "../../lib/emoji";

const COLUMNS = 8;
const WIDTH = 296; // px: 8 columns of 2.25rem + padding; fits a 320 px phone
const HEIGHT = 300;
const MARGIN = 8;

interface Position {
  top: number;
  left: number;
}

function place(trigger: HTMLElement): Position {
  const r = trigger.getBoundingClientRect();
  const below = r.bottom + 4;
  const top = below + HEIGHT <= window.innerHeight - MARGIN ? below : Math.max(MARGIN, r.top - 4 - HEIGHT);
  const left = Math.min(Math.max(MARGIN, r.right - WIDTH), Math.max(MARGIN, window.innerWidth - WIDTH - MARGIN));
  return { top, left };
}

export interface EmojiPickerProps {
  /** The button's accessible name and the dialog's label ("Add reaction", "Insert emoji"). */
  label: string;
  /** What the button shows (an icon-like emoji); its name is `label`. */
  children: ReactNode;
  /** The chosen emoji (already remembered as recent). */
  onPick: (emoji: string) => void;
  className?: string;
  /** Called after the popover closed without a pick and focus is back on the button. */
  onClose?: () => void;
  /** The button's tabIndex (-1 inside a message list that is one tab stop). */
  tabIndex?: number;
}

export function EmojiPicker({ label, children, onPick, className = "", onClose, tabIndex }: EmojiPickerProps) {
  const [open, setOpen] = useState(false);
  const triggerRef = useRef<HTMLButtonElement>(null);
  const id = useId();

  const close = useCallback(
    (returnFocus: boolean) => {
      setOpen(false);
      if (returnFocus) triggerRef.current?.focus();
      onClose?.();
    },
    [onClose],
  );

  return (
    <>
      <button
        ref={triggerRef}
        type="button"
        aria-label={label}
        title={label}
        aria-haspopup="dialog"
        aria-expanded={open}
        aria-controls={open ? id : undefined}
        onClick={() => setOpen((o) => !o)}
        tabIndex={tabIndex}
        className={className}
      >
        {children}
      </button>
      {open &&
        createPortal(
          <EmojiPanel
            id={id}
            label={label}
            trigger={triggerRef}
            onClose={close}
            onPick={(emoji) => {
              rememberEmoji(emoji);
              setOpen(false);
              triggerRef.current?.focus();
              onPick(emoji);
            }}
          />,
          document.body,
        )}
    </>
  );
}

function EmojiPanel({
  id,
  label,
  trigger,
  onClose,
  onPick,
}: {
  id: string;
  label: string;
  trigger: RefObject<HTMLButtonElement | null>;
  onClose: (returnFocus: boolean) => void;
  onPick: (emoji: string) => void;
}) {
  const panelRef = useRef<HTMLDivElement>(null);
  const searchRef = useRef<HTMLInputElement>(null);
  const [query, setQuery] = useState("");
  const [pos, setPos] = useState<Position | null>(null);
  const [recent] = useState(() => recentEmoji());

  useLayoutEffect(() => {
    const reposition = () => {
      if (trigger.current) setPos(place(trigger.current));
    };
    reposition();
    window.addEventListener("resize", reposition);
    window.addEventListener("scroll", reposition, true);
    return () => {
      window.removeEventListener("resize", reposition);
      window.removeEventListener("scroll", reposition, true);
    };
  }, [trigger]);

  useEffect(() => {
    searchRef.current?.focus();
    const outside = (e: PointerEvent) => {
      const t = e.target as Node;
      if (!panelRef.current?.contains(t) && !trigger.current?.contains(t)) onClose(false);
    };
    document.addEventListener("pointerdown", outside);
    return () => document.removeEventListener("pointerdown", outside);
  }, [onClose, trigger]);

  const results = filterEmoji(query);
  const showRecent = !query.trim() && recent.length > 0;

  function buttons(): HTMLButtonElement[] {
    return [...(panelRef.current?.querySelectorAll<HTMLButtonElement>("button[data-emoji]") ?? [])];
  }

  function keys(e: KeyboardEvent<HTMLDivElement>) {
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      onClose(true);
      return;
    }
    const all = buttons();
    if (e.target === searchRef.current) {
      if (e.key === "ArrowDown" || (e.key === "Enter" && all.length > 0)) {
        e.preventDefault();
        if (e.key === "Enter") onPick(all[0].dataset.emoji!);
        else all[0]?.focus();
      }
      return;
    }
    const i = all.indexOf(document.activeElement as HTMLButtonElement);
    if (i < 0) return;
    const next =
      e.key === "ArrowRight" ? i + 1
      : e.key === "ArrowLeft" ? i - 1
      : e.key === "ArrowDown" ? i + COLUMNS
      : e.key === "ArrowUp" ? i - COLUMNS
      : e.key === "Home" ? 0
      : e.key === "End" ? all.length - 1
      : null;
    if (next === null) return;
    e.preventDefault();
    if (next < 0) searchRef.current?.focus();
    else all[Math.min(next, all.length - 1)].focus();
  }

  const cell = (emoji: string, first: boolean, key: string) => (
    <button
      key={key}
      type="button"
      data-emoji={emoji}
      tabIndex={first ? 0 : -1}
      aria-label={emojiName(emoji)}
      title={emojiName(emoji)}
      onClick={() => onPick(emoji)}
      className="flex h-9 w-9 items-center justify-center rounded text-xl hover:bg-slate-100 focus:bg-indigo-100"
    >
      {emoji}
    </button>
  );

  return (
    <div
      ref={panelRef}
      id={id}
      role="dialog"
      aria-label={label}
      onKeyDown={keys}
      onBlur={(e) => {
        // Tab out of the popover closes it (it is not modal).
        const to = e.relatedTarget as Node | null;
        if (to && !panelRef.current?.contains(to) && !trigger.current?.contains(to)) onClose(false);
      }}
      style={{ position: "fixed", top: pos?.top ?? -9999, left: pos?.left ?? -9999, width: WIDTH, maxHeight: HEIGHT }}
      className="z-50 flex flex-col gap-2 overflow-hidden rounded-lg border border-slate-200 bg-white p-2 text-slate-900 shadow-lg"
    >
      <input
        ref={searchRef}
        type="search"
        aria-label="Search emoji"
        placeholder="Search emoji"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        className="w-full rounded border border-slate-300 bg-white px-2 py-1 text-sm text-slate-900 placeholder:text-slate-500 focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-200"
      />
      <div className="min-h-0 overflow-y-auto">
        {showRecent && (
          <div role="group" aria-label="Recent emoji" className="mb-1">
            <p aria-hidden="true" className="px-1 text-xs font-medium text-slate-600">
              Recent
            </p>
            <div className="grid grid-cols-8">{recent.map((e, i) => cell(e, i === 0, `r${e}`))}</div>
          </div>
        )}
        <div role="group" aria-label={query.trim() ? "Matching emoji" : "All emoji"}>
          {showRecent && (
            <p aria-hidden="true" className="px-1 text-xs font-medium text-slate-600">
              All
            </p>
          )}
          {results.length ? (
            <div className="grid grid-cols-8">{results.map((e, i) => cell(e.emoji, !showRecent && i === 0, e.emoji))}</div>
          ) : (
            <p className="px-1 py-2 text-sm text-slate-600">No emoji matches “{query}”.</p>
          )}
        </div>
      </div>
    </div>
  );
}
