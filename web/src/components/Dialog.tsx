// A modal dialog (the native <dialog> with showModal(): focus is kept inside, Escape closes, the page behind
// is inert), named by its title; focus goes back to what opened it when it closes.
import { useEffect, useId, useRef, type MutableRefObject, type ReactNode, type RefObject } from "react";

/** Shows a <dialog> as a modal while ``open``: Escape calls ``onClose`` (the owner decides), and closing gives
 * focus back to what had it when the dialog opened. Returns the ref to put on the <dialog>, and one that
 * always holds the latest ``onClose`` (for the owner's own close buttons and backdrop clicks). */
export function useModalDialog(
  open: boolean,
  onClose: () => void,
): [RefObject<HTMLDialogElement | null>, MutableRefObject<() => void>] {
  const ref = useRef<HTMLDialogElement>(null);
  const close = useRef(onClose);
  useEffect(() => {
    close.current = onClose;
  });
  useEffect(() => {
    const d = ref.current;
    if (!d || !open) return;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (!d.open) d.showModal();
    const onCancel = (e: Event) => {
      e.preventDefault();
      close.current();
    };
    d.addEventListener("cancel", onCancel);
    return () => {
      d.removeEventListener("cancel", onCancel);
      if (d.open) d.close();
      if (opener?.isConnected) opener.focus();
    };
  }, [open]);
  return [ref, close];
}

export function Dialog({
  open,
  onClose,
  title,
  children,
  describedBy,
}: {
  open: boolean;
  onClose: () => void;
  title: string;
  children: ReactNode;
  /** The id of the element describing it (a confirmation's question). */
  describedBy?: string;
}) {
  const [ref, close] = useModalDialog(open, onClose);
  const titleId = useId();

  if (!open) return null;
  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      aria-describedby={describedBy}
      onClick={(e) => {
        // A click on the backdrop (the dialog element itself, outside its box) closes it.
        if (e.target === e.currentTarget) {
          const box = e.currentTarget.getBoundingClientRect();
          const inside = e.clientX >= box.left && e.clientX <= box.right && e.clientY >= box.top && e.clientY <= box.bottom;
          if (!inside) close.current();
        }
      }}
      className="m-auto w-[28rem] max-w-[calc(100vw-2rem)] rounded-lg border border-slate-200 bg-white p-0 text-slate-900 shadow-xl backdrop:bg-slate-900/40"
    >
      <div className="space-y-3 p-4">
        <h2 id={titleId} className="text-lg font-semibold">
          {title}
        </h2>
        {children}
      </div>
    </dialog>
  );
}
