// The scrolling of a chat log: it stays at the bottom while the reader is there (new messages come into
// view), keeps still when older messages are put above, and otherwise says that newer ones arrived below.
// `planScroll` is the decision, pure and unit-tested; `useStickyScroll` applies it to an element.
import { useCallback, useLayoutEffect, useRef, useState, type RefObject, type UIEvent } from "react";

/** Dispatched on a virtualized log's scroller (it has `data-virtuoso-scroller`) to ask it for its bottom:
 * such a list keeps its own scroll position (prepends, following new rows), so this hook only tracks
 * whether the reader is at the bottom and whether newer messages arrived below. */
export const LATEST_EVENT = "chatlog:latest";

function isVirtualized(el: HTMLElement | null): boolean {
  return !!el && el.hasAttribute("data-virtuoso-scroller");
}

/** How close to the bottom (px) still counts as at the bottom. */
export const BOTTOM_SLACK_PX = 48;

export interface ScrollMetrics {
  scrollHeight: number;
  scrollTop: number;
  clientHeight: number;
}

export function isAtBottom(m: ScrollMetrics): boolean {
  return m.scrollHeight - m.scrollTop - m.clientHeight < BOTTOM_SLACK_PX;
}

/** Where the view was when older content was asked for: its height and scroll offset. */
export interface Anchor {
  height: number;
  top: number;
}

export interface ScrollInput {
  anchor: Anchor | null;
  atBottom: boolean;
  /** The newest item's key (a message's seq) now and at the last plan; 0 for none. */
  latest: number;
  prevLatest: number;
  scrollHeight: number;
}

export interface ScrollPlan {
  /** The offset to scroll to, or null to leave the view where it is. */
  scrollTop: number | null;
  /** The anchor to keep for the next plan (older content not in yet), or null once used. */
  anchor: Anchor | null;
  /** Newer content arrived out of view. */
  newBelow: boolean;
}

/** What to do with the view after its content changed. */
export function planScroll(s: ScrollInput): ScrollPlan {
  if (s.anchor) {
    // Older content was put above: the same content stays under the reader's eyes.
    if (s.scrollHeight === s.anchor.height) return { scrollTop: null, anchor: s.anchor, newBelow: false };
    return { scrollTop: s.scrollHeight - s.anchor.height + s.anchor.top, anchor: null, newBelow: false };
  }
  if (s.atBottom) return { scrollTop: s.scrollHeight, anchor: null, newBelow: false };
  return { scrollTop: null, anchor: null, newBelow: s.latest > s.prevLatest && s.prevLatest > 0 };
}

export interface StickyScroll<T extends HTMLElement> {
  ref: RefObject<T | null>;
  /** The element's scroll handler; says whether the reader is at the bottom now. */
  onScroll: (e: UIEvent<T>) => boolean;
  /** Newer content arrived while the reader was scrolled up. */
  newBelow: boolean;
  /** Whether the reader is at the bottom now. */
  atBottom: () => boolean;
  /** To the bottom, and stay there. */
  jumpToLatest: () => void;
  /** Stay at the bottom with the next content (one's own new message). */
  stick: () => void;
  /** Keep the view still while older content is put above (call before asking for it). */
  holdForOlder: () => void;
}

/**
 * Applies `planScroll` whenever `content` changes. `resetKey` names what is shown (a room): another one
 * starts at the bottom. `latest` is the newest item's key.
 */
export function useStickyScroll<T extends HTMLElement>({
  resetKey,
  content,
  latest,
}: {
  resetKey: unknown;
  content: unknown;
  latest: number;
}): StickyScroll<T> {
  const ref = useRef<T | null>(null);
  const bottom = useRef(true);
  const anchor = useRef<Anchor | null>(null);
  const prevLatest = useRef(0);
  const shownKey = useRef(resetKey);
  const [newBelow, setNewBelow] = useState(false);
  // Another room: nothing is new below in it (state adjusted while rendering, not in an effect).
  const [keyOfNewBelow, setKeyOfNewBelow] = useState(resetKey);
  if (keyOfNewBelow !== resetKey) {
    setKeyOfNewBelow(resetKey);
    setNewBelow(false);
  }

  useLayoutEffect(() => {
    if (shownKey.current !== resetKey) {
      shownKey.current = resetKey;
      prevLatest.current = 0;
      bottom.current = true;
    }
    const el = ref.current;
    if (!el) return;
    if (isVirtualized(el)) {
      const plan = planScroll({ anchor: null, atBottom: bottom.current, latest, prevLatest: prevLatest.current, scrollHeight: 0 });
      anchor.current = null;
      prevLatest.current = latest;
      if (plan.newBelow) setNewBelow(true);
      return;
    }
    const plan = planScroll({
      anchor: anchor.current,
      atBottom: bottom.current,
      latest,
      prevLatest: prevLatest.current,
      scrollHeight: el.scrollHeight,
    });
    if (plan.scrollTop !== null) el.scrollTop = plan.scrollTop;
    anchor.current = plan.anchor;
    prevLatest.current = latest;
    if (plan.newBelow) setNewBelow(true);
  }, [resetKey, content, latest]);

  const onScroll = useCallback((e: UIEvent<T>) => {
    bottom.current = isAtBottom(e.currentTarget);
    if (bottom.current) setNewBelow(false);
    return bottom.current;
  }, []);

  const jumpToLatest = useCallback(() => {
    const el = ref.current;
    if (el && isVirtualized(el)) el.dispatchEvent(new Event(LATEST_EVENT));
    else if (el) el.scrollTop = el.scrollHeight;
    bottom.current = true;
    setNewBelow(false);
  }, []);

  const stick = useCallback(() => {
    bottom.current = true;
    const el = ref.current;
    if (el && isVirtualized(el)) el.dispatchEvent(new Event(LATEST_EVENT));
  }, []);

  const holdForOlder = useCallback(() => {
    const el = ref.current;
    if (el && !isVirtualized(el)) anchor.current = { height: el.scrollHeight, top: el.scrollTop };
  }, []);

  const atBottom = useCallback(() => bottom.current, []);

  return { ref, onScroll, newBelow, atBottom, jumpToLatest, stick, holdForOlder };
}
