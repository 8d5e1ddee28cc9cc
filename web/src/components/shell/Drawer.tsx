// A panel that slides over the screen on narrow viewports (rooms, members, the app menu): a modal dialog
// that takes focus when it opens, keeps Tab inside, closes on Escape or a click outside, and gives focus
// back to what opened it.
import { useEffect, useRef, type ReactNode } from "react";
import { createPortal } from "react-dom";

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"])';

function focusables(root: HTMLElement): HTMLElement[] {
  return [...root.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => el.offsetParent !== null || el === document.activeElement);
}

export function Drawer({
  open,
  onClose,
  label,
  id,
  side = "left",
  panelClassName = "w-80 max-w-[85vw]",
  children,
}: {
  open: boolean;
  onClose: () => void;
  /** The dialog's accessible name (and its visible title). */
  label: string;
  id: string;
  side?: "left" | "right";
  /** The panel's width (a full-screen sheet: "w-full"). */
  panelClassName?: string;
  children: ReactNode;
}) {
  const panel = useRef<HTMLDivElement>(null);
  const close = useRef(onClose);
  useEffect(() => {
    close.current = onClose;
  });

  useEffect(() => {
    if (!open) return;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const root = panel.current;
    if (root) (focusables(root)[0] ?? root).focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        e.preventDefault();
        close.current();
        return;
      }
      if (e.key !== "Tab" || !root) return;
      const items = focusables(root);
      if (items.length === 0) {
        e.preventDefault();
        return;
      }
      const first = items[0];
      const last = items[items.length - 1];
      const active = document.activeElement;
      if (e.shiftKey && (active === first || !root.contains(active))) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && (active === last || !root.contains(active))) {
        e.preventDefault();
        first.focus();
      }
    };
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("keydown", onKey);
      // Back to the opener, unless something else took focus on purpose meanwhile (a route change
      // focusing the new page's heading).
      const active = document.activeElement;
      const lost = !active || active === document.body || (root?.contains(active) ?? false);
      if (lost && opener?.isConnected) opener.focus();
    };
  }, [open]);

  if (!open) return null;
  return createPortal(
    <div className="fixed inset-0 z-40 flex" data-drawer={id}>
      <div aria-hidden="true" className="absolute inset-0 bg-slate-950/50" onClick={() => close.current()} />
      <div
        ref={panel}
        id={id}
        role="dialog"
        aria-modal="true"
        aria-label={label}
        tabIndex={-1}
        className={`relative flex h-full ${panelClassName} flex-col overflow-y-auto bg-white text-slate-900 shadow-xl ${
          side === "right" ? "ml-auto" : ""
        }`}
      >
        <div className="flex items-center justify-between border-b border-slate-200 px-3 py-2">
          <p className="font-semibold">{label}</p>
          <button
            type="button"
            onClick={() => close.current()}
            className="rounded px-2 py-1 text-sm text-slate-700 hover:bg-slate-100"
          >
            Close<span className="sr-only"> {label.toLowerCase()}</span>
          </button>
        </div>
        <div className="min-h-0 flex-1 p-3">{children}</div>
      </div>
    </div>,
    document.body,
  );
}

/** The button that opens a drawer (aria-expanded, aria-controls). */
export function DrawerButton({
  open,
  onOpen,
  controls,
  children,
  className = "",
}: {
  open: boolean;
  onOpen: () => void;
  controls: string;
  children: ReactNode;
  className?: string;
}) {
  return (
    <button
      type="button"
      aria-expanded={open}
      aria-controls={open ? controls : undefined}
      aria-haspopup="dialog"
      onClick={onOpen}
      className={`inline-flex shrink-0 items-center gap-1 rounded border border-slate-300 bg-white px-2.5 py-1.5 text-sm font-medium text-slate-800 hover:bg-slate-100 ${className}`}
    >
      {children}
    </button>
  );
}
