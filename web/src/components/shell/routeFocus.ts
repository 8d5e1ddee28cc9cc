// Focus after navigation: a route change moves focus to the new page's heading (its first <h1> in
// <main>, which takes focus with tabindex=-1), so a screen reader announces it and Tab goes on from there.
import { useEffect, useRef, type RefObject } from "react";

const WAIT_MS = 5000;

/** The part of a path that names a page: switching rooms within a club stays on the club's page. */
export function focusKey(pathname: string): string {
  return pathname.replace(/^(\/clubs\/[^/]+)\/rooms\/[^/]+\/?$/, "$1");
}

/** Focuses `main`'s first visible h1 (or `main`). */
export function focusMainHeading(main: HTMLElement): boolean {
  const h1 = [...main.querySelectorAll<HTMLElement>("h1")].find((h) => h.getClientRects().length > 0);
  if (!h1) return false;
  if (!h1.hasAttribute("tabindex")) h1.setAttribute("tabindex", "-1");
  h1.focus();
  return true;
}

/** Moves focus to the page heading after every route change (not on the first page load: there the
 * skip link is the first tab stop). The heading may come after the page's data: wait for it a while. */
export function useRouteFocus(main: RefObject<HTMLElement | null>, pathname: string): void {
  const key = focusKey(pathname);
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const root = main.current;
    if (!root) return;
    if (focusMainHeading(root)) return;
    const observer = new MutationObserver(() => {
      if (focusMainHeading(root)) stop();
    });
    const timer = setTimeout(() => {
      stop();
      if (!root.contains(document.activeElement)) root.focus();
    }, WAIT_MS);
    function stop() {
      observer.disconnect();
      clearTimeout(timer);
    }
    observer.observe(root, { childList: true, subtree: true });
    return stop;
  }, [key, main]);
}
