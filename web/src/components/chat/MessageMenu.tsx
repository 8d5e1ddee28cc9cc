// "More actions" of a message: a menu button (in the message's toolbar) opening a list of menu items drawn
// over the page (a portal, fixed beside the button, above it when there is no room below), so the log's
// scrolling never clips it. Arrow keys, Home and End move between the items, Escape or Tab close it, focus
// goes back to the button.
import { useCallback, useEffect, useId, useLayoutEffect, useRef, useState, type KeyboardEvent } from "react";
import { createPortal } from "react-dom";
import { buttonClass } from "../ui";

export interface MenuItem {
  label: string;
  onSelect: () => void;
  danger?: boolean;
}

export function MessageMenu({
  items,
  label = "More actions",
  onOpenChange,
}: {
  items: readonly MenuItem[];
  label?: string;
  /** Told when the menu opens and closes (the toolbar holding the button stays shown meanwhile). */
  onOpenChange?: (open: boolean) => void;
}) {
  const [open, setOpenState] = useState(false);
  const changed = useRef(onOpenChange);
  useEffect(() => {
    changed.current = onOpenChange;
  });
  const setOpen = useCallback((next: boolean) => {
    setOpenState(next);
    changed.current?.(next);
  }, []);
  const [place, setPlace] = useState<{ top?: number; bottom?: number; right: number } | null>(null);
  const button = useRef<HTMLButtonElement>(null);
  const menu = useRef<HTMLDivElement>(null);
  const id = useId();

  useLayoutEffect(() => {
    if (!open || !button.current) return;
    const r = button.current.getBoundingClientRect();
    const right = Math.max(8, window.innerWidth - r.right);
    const below = window.innerHeight - r.bottom;
    setPlace(below > 40 * items.length + 24 ? { top: r.bottom + 4, right } : { bottom: window.innerHeight - r.top + 4, right });
  }, [open, items.length]);

  useEffect(() => {
    if (!open || !place) return;
    menu.current?.querySelector<HTMLElement>('[role="menuitem"]')?.focus();
    const onPointer = (e: PointerEvent) => {
      const t = e.target as Node | null;
      if (t && !menu.current?.contains(t) && !button.current?.contains(t)) setOpen(false);
    };
    const onScroll = (e: Event) => {
      if (!menu.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener("pointerdown", onPointer);
    window.addEventListener("scroll", onScroll, true);
    window.addEventListener("resize", onScroll);
    return () => {
      document.removeEventListener("pointerdown", onPointer);
      window.removeEventListener("scroll", onScroll, true);
      window.removeEventListener("resize", onScroll);
    };
  }, [open, place, setOpen]);

  function close(refocus = true) {
    setOpen(false);
    setPlace(null);
    if (refocus) button.current?.focus();
  }

  function keys(e: KeyboardEvent<HTMLDivElement>) {
    const list = [...(menu.current?.querySelectorAll<HTMLElement>('[role="menuitem"]') ?? [])];
    const at = list.indexOf(document.activeElement as HTMLElement);
    let next = -1;
    if (e.key === "ArrowDown") next = (at + 1) % list.length;
    else if (e.key === "ArrowUp") next = (at - 1 + list.length) % list.length;
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = list.length - 1;
    else if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      close();
      return;
    } else if (e.key === "Tab") {
      close(false);
      return;
    }
    if (next >= 0) {
      e.preventDefault();
      e.stopPropagation();
      list[next]?.focus();
    }
  }

  if (items.length === 0) return null;
  return (
    <>
      <button
        ref={button}
        type="button"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={open ? id : undefined}
        onClick={() => (open ? close() : setOpen(true))}
        className={buttonClass("ghost", true)}
      >
        {label}
      </button>
      {open &&
        place &&
        createPortal(
          <div
            ref={menu}
            id={id}
            role="menu"
            aria-label={label}
            onKeyDown={keys}
            style={{ top: place.top, bottom: place.bottom, right: place.right }}
            className="fixed z-50 min-w-48 rounded-lg border border-slate-200 bg-white p-1 text-slate-900 shadow-lg"
          >
            {items.map((item) => (
              <button
                key={item.label}
                type="button"
                role="menuitem"
                tabIndex={-1}
                onClick={() => {
                  close();
                  item.onSelect();
                }}
                className={`block w-full rounded px-3 py-2 text-left text-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 ${
                  item.danger ? "text-red-700 hover:bg-red-50 focus:bg-red-50" : "hover:bg-slate-100 focus:bg-slate-100"
                }`}
              >
                {item.label}
              </button>
            ))}
          </div>,
          document.body,
        )}
    </>
  );
}
