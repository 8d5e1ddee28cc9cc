import { useCallback, useSyncExternalStore } from "react";

/** Whether a media query matches now, re-rendering when that changes. */
export function useMediaQuery(query: string): boolean {
  const subscribe = useCallback(
    (cb: () => void) => {
      const mql = matchMedia(query);
      mql.addEventListener("change", cb);
      return () => mql.removeEventListener("change", cb);
    },
    [query],
  );
  return useSyncExternalStore(subscribe, () => matchMedia(query).matches, () => false);
}

/** Tailwind's `md` breakpoint: side panels sit beside the content from here on, in drawers below. */
export const WIDE = "(min-width: 768px)";
/** Tailwind's `lg` breakpoint. */
export const WIDER = "(min-width: 1024px)";
