import { useCallback, useEffect, useMemo, useRef, useState, type KeyboardEvent, type RefObject, type UIEvent } from "react";
import { Virtuoso, type VirtuosoHandle } from "react-virtuoso";

import type { Me } from "../../lib/api";
import { firstUnread, logRows, type LogRow } from "../../lib/chatView";
import { readSeen, writeSeen } from "../../lib/readMarks";
import { isFromBlocked, mainLog } from "../../lib/threads";
import type { RoomState } from "../../lib/rooms";
import { LATEST_EVENT } from "../../lib/useStickyScroll";
import type { ChatMessage, StoreSnapshot } from "../../store/messages";
import { Button } from "../ui";
import { DayDivider, UnreadDivider } from "./ListDividers";
import { MessageItem, PendingItem, type MessageActions } from "./MessageItem";

/** Virtuoso's index of the first row: rows put above (older history) count down from here, so the rows
 * already shown keep their index and stay still on screen. */
const FIRST_INDEX = 1_000_000;

/** The composer: the element with id "composer", else the textbox named "Message" of the same room. */
function focusComposer(from: HTMLElement): void {
  const byId = document.getElementById("composer");
  const box =
    byId ??
    from.closest("section")?.querySelector<HTMLElement>('textarea[aria-label="Message"], [role="textbox"][aria-label="Message"]') ??
    null;
  box?.focus();
}

function isTyping(el: EventTarget): boolean {
  return el instanceof HTMLElement && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
}

/** The log of a room, virtualized (only the rows near the view are in the page): day dividers, "New since
 * you left", messages grouped by author, then one's own not stored yet. Older history loads when the top
 * is reached. One tab stop: arrow keys, Home and End move between messages, Escape or Alt+C (or "c") go to
 * the composer. */
export function MessageList({
  logRef,
  onScroll,
  snap,
  state,
  bySeq,
  me,
  canModerate,
  nameList,
  editing,
  actions,
  onLoadOlder,
  onRetry,
  onDiscard,
  highlight = null,
  onHighlightShown,
  pinned,
  blocked = null,
  replyCounts,
}: {
  logRef: RefObject<HTMLDivElement | null>;
  onScroll: (e: UIEvent<HTMLDivElement>) => void;
  snap: StoreSnapshot;
  state: RoomState;
  bySeq: ReadonlyMap<number, ChatMessage>;
  me: Me;
  canModerate: boolean;
  nameList: readonly string[];
  /** The seq of the message being edited. */
  editing: number | null;
  actions: MessageActions;
  onLoadOlder: () => void;
  onRetry: (clientId: string) => void;
  onDiscard: (clientId: string) => void;
  /** A message to bring into view, focus and mark (a notification's); `key` tells two requests apart. */
  highlight?: { seq: number; key: string } | null;
  /** Called with the highlight's key once its message is in view. */
  onHighlightShown?: (key: string) => void;
  /** The seqs pinned in the room. */
  pinned?: ReadonlySet<number>;
  /** The authors the reader blocked (null: not known yet, the server's marks count). */
  blocked?: ReadonlySet<number> | null;
  /** Thread root seq -> its replies. */
  replyCounts?: ReadonlyMap<number, number>;
}) {
  const virtuoso = useRef<VirtuosoHandle>(null);
  const scroller = useRef<HTMLElement | null>(null);
  const stickNext = useRef(false);
  const [atBottom, setAtBottom] = useState(true);
  const [unreadInView, setUnreadInView] = useState(false);

  // "Now" for day labels and dates, moved on every minute (a render must not read the clock).
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 60_000);
    return () => clearInterval(t);
  }, []);

  // Where "New since you left" goes: fixed once the room is joined and shown, from what this browser had
  // shown of it before (messages arriving during the visit are not "since you left").
  const room = snap.roomId;
  const [visit, setVisit] = useState(() => ({ room, seen: readSeen(me.id, room), unread: null as number | null, fixed: false }));
  if (visit.room !== room) {
    setVisit({ room, seen: readSeen(me.id, room), unread: null, fixed: false });
  } else if (!visit.fixed && state.joined && snap.messages.length > 0) {
    setVisit({ ...visit, unread: firstUnread(snap.messages, visit.seen, me.id), fixed: true });
  }
  const firstUnreadSeq = visit.room === room ? visit.unread : null;

  const rows = useMemo(
    // Thread replies are in the thread panel, not in the log.
    () => logRows(mainLog(snap.messages), mainLog(snap.pending), { now, firstUnreadSeq }),
    [snap.messages, snap.pending, now, firstUnreadSeq],
  );
  const unreadIndex = useMemo(() => rows.findIndex((r) => r.kind === "unread"), [rows]);

  // The first message shown in this room anchors the indexes: older rows put above it count down.
  const [pivot, setPivot] = useState<{ room: number; key: string } | null>(null);
  const firstMessage = rows.find((r) => r.kind === "message");
  let pivotAt = pivot && pivot.room === room ? rows.findIndex((r) => r.key === pivot.key) : -1;
  if (pivotAt < 0 && firstMessage) {
    setPivot({ room, key: firstMessage.key });
    pivotAt = rows.indexOf(firstMessage);
  }
  const firstItemIndex = FIRST_INDEX - Math.max(0, pivotAt);

  // What this browser has shown of the room: the newest message while the bottom is in view.
  const latestSeq = snap.messages.length ? snap.messages[snap.messages.length - 1].seq : 0;
  useEffect(() => {
    if (atBottom && latestSeq > 0 && state.joined && document.visibilityState === "visible") writeSeen(me.id, room, latestSeq);
  }, [atBottom, latestSeq, state.joined, me.id, room]);

  // ChatRoom's "Jump to latest messages" and one's own send (useStickyScroll) ask for the bottom.
  const toLatest = useCallback(() => {
    stickNext.current = true;
    virtuoso.current?.scrollToIndex({ index: "LAST", align: "end" });
  }, []);
  const setScroller = useCallback(
    (el: HTMLElement | Window | null) => {
      const div = el instanceof HTMLDivElement ? el : null;
      scroller.current?.removeEventListener(LATEST_EVENT, toLatest);
      scroller.current = div;
      logRef.current = div;
      div?.addEventListener(LATEST_EVENT, toLatest);
    },
    [logRef, toLatest],
  );

  // Whether "New since you left" is on screen (else "Jump to first unread" is offered).
  const checking = useRef(false);
  const checkUnread = useCallback(() => {
    if (checking.current) return;
    checking.current = true;
    requestAnimationFrame(() => {
      checking.current = false;
      const el = scroller.current;
      const divider = el?.querySelector("[data-unread]");
      if (!el || !divider) return setUnreadInView(false);
      const view = el.getBoundingClientRect();
      const at = divider.getBoundingClientRect();
      setUnreadInView(at.bottom > view.top && at.top < view.bottom);
    });
  }, []);

  const canLoadOlder = snap.hasOlder && state.joined && !state.loadingOlder;
  const loadOlder = useCallback(() => {
    if (canLoadOlder) onLoadOlder();
  }, [canLoadOlder, onLoadOlder]);

  /** Focuses the row at data position `pos` (scrolling it into view first). */
  const focusRow = useCallback((pos: number) => {
    const el = scroller.current;
    if (!el) return;
    const find = () => el.querySelector<HTMLElement>(`[data-pos="${pos}"]`);
    virtuoso.current?.scrollIntoView({
      index: pos,
      done: () => {
        let tries = 0;
        const attempt = () => {
          const row = find();
          if (row) row.focus({ preventScroll: true });
          else if (tries++ < 10) requestAnimationFrame(attempt);
        };
        attempt();
      },
    });
    find()?.focus({ preventScroll: true });
  }, []);

  // A notification's message: the list is drawn afresh around it (Virtuoso's initial item, in the middle
  // of the view: no scrolling race with its measuring), then it is focused, so a screen reader reads it
  // and the arrow keys go on from it. Once per request; the list stays where it is when the mark goes.
  const highlightIndex = highlight
    ? rows.findIndex((r) => r.kind === "message" && r.message.seq === highlight.seq)
    : -1;
  const [jump, setJump] = useState<{ room: number; key: string; seq: number; index: number } | null>(null);
  if (highlight && highlightIndex >= 0 && (jump?.key !== highlight.key || jump.room !== room)) {
    setJump({ room, key: highlight.key, seq: highlight.seq, index: highlightIndex });
  }
  const activeJump = jump && jump.room === room ? jump : null;
  const shownJump = useRef<string | null>(null);
  const shownRef = useRef(onHighlightShown);
  useEffect(() => {
    shownRef.current = onHighlightShown;
  });
  useEffect(() => {
    if (!activeJump || shownJump.current === activeJump.key) return;
    const { seq, key } = activeJump;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let tries = 0;
    const step = () => {
      const el = scroller.current;
      const row = el?.querySelector<HTMLElement>(`article[data-seq="${seq}"]`);
      if (el && row) {
        const view = el.getBoundingClientRect();
        const at = row.getBoundingClientRect();
        const middle = (at.top + at.bottom) / 2;
        // Virtuoso keeps a list hidden while it measures it first: a hidden row takes no focus.
        if (middle > view.top && middle < view.bottom && getComputedStyle(row).visibility !== "hidden") {
          row.focus({ preventScroll: true });
          if (document.activeElement === row || tries > 30) {
            shownJump.current = key;
            shownRef.current?.(key);
            return;
          }
        }
        if (tries > 5) row.scrollIntoView({ block: "center" });
      }
      if (tries++ < 50) timer = setTimeout(step, 100);
    };
    timer = setTimeout(step, 0);
    return () => {
      if (timer) clearTimeout(timer);
    };
  }, [activeJump]);

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const el = scroller.current;
    if (!el || e.defaultPrevented || isTyping(e.target)) return;
    const toComposer =
      e.key === "Escape" || (e.altKey && e.code === "KeyC") || (e.key === "c" && !e.altKey && !e.ctrlKey && !e.metaKey);
    if (toComposer) {
      e.preventDefault();
      focusComposer(el);
      return;
    }
    if (!["ArrowUp", "ArrowDown", "Home", "End"].includes(e.key) || e.altKey || e.ctrlKey || e.metaKey) return;
    // Arrow keys on a control inside a message (a toolbar button) move between messages too.
    const messages: number[] = [];
    rows.forEach((r, i) => {
      if (r.kind === "message" || r.kind === "pending") messages.push(i);
    });
    if (messages.length === 0) return;
    e.preventDefault();
    const current = (e.target as HTMLElement).closest<HTMLElement>("[data-pos]");
    let at = current ? messages.indexOf(Number(current.dataset.pos)) : -1;
    if (at < 0) {
      // From the log itself: start at the last message in view.
      const box = el.getBoundingClientRect();
      const shown = [...el.querySelectorAll<HTMLElement>("[data-pos]")].filter((r) => {
        const b = r.getBoundingClientRect();
        return b.bottom > box.top && b.top < box.bottom;
      });
      const last = shown.length ? Number(shown[shown.length - 1].dataset.pos) : messages[messages.length - 1];
      at = Math.max(0, messages.indexOf(last));
      if (e.key === "ArrowUp" || e.key === "ArrowDown") {
        focusRow(messages[at]);
        return;
      }
    }
    const next =
      e.key === "ArrowUp" ? at - 1 : e.key === "ArrowDown" ? at + 1 : e.key === "Home" ? 0 : messages.length - 1;
    // Above the first loaded message: older history, by keyboard as by scrolling.
    if (next < 0 || (e.key === "Home" && snap.hasOlder)) loadOlder();
    focusRow(messages[Math.min(messages.length - 1, Math.max(0, next))]);
  };

  const itemContent = (index: number, row: LogRow) => {
    const pos = index - firstItemIndex;
    switch (row.kind) {
      case "day":
        return <DayDivider label={row.label} />;
      case "unread":
        return <UnreadDivider />;
      case "message": {
        const m = row.message;
        return (
          <MessageItem
            message={m}
            parent={m.reply_to_seq ? bySeq.get(m.reply_to_seq) : undefined}
            me={me}
            canModerate={canModerate}
            nameList={nameList}
            editing={editing === m.seq}
            grouped={row.grouped}
            now={now}
            pos={pos}
            highlighted={highlight?.seq === m.seq}
            pinned={pinned?.has(m.seq) ?? !!m.pinned}
            blocked={isFromBlocked(m, blocked)}
            replies={replyCounts?.get(m.seq) ?? 0}
            onReply={actions.onReply}
            onReact={actions.onReact}
            onEdit={actions.onEdit}
            onSaveEdit={actions.onSaveEdit}
            onDelete={actions.onDelete}
            onThread={actions.onThread}
            onPin={actions.onPin}
            onReport={actions.onReport}
            onBlock={actions.onBlock}
          />
        );
      }
      case "pending": {
        const p = row.pending;
        return (
          <PendingItem
            p={p}
            parent={p.reply_to_seq ? bySeq.get(p.reply_to_seq) : undefined}
            nameList={nameList}
            myName={me.display_name}
            grouped={row.grouped}
            pos={pos}
            onRetry={onRetry}
            onDiscard={onDiscard}
          />
        );
      }
    }
  };

  const empty = snap.joinedOnce && !snap.hasOlder && snap.messages.length === 0 && snap.pending.length === 0;

  return (
    <div className="relative flex min-h-0 flex-1 flex-col">
      {unreadIndex >= 0 && !unreadInView && (
        <div className="absolute left-1/2 top-2 z-20 -translate-x-1/2">
          <Button small className="shadow" onClick={() => focusRow(unreadIndex + 1)}>
            Jump to first unread
          </Button>
        </div>
      )}
      {empty ? (
        <div
          ref={(el) => setScroller(el)}
          role="log"
          aria-label="Messages"
          tabIndex={0}
          className="min-h-0 flex-1 overflow-y-auto px-1 py-2"
        >
          <p className="px-3 py-6 text-center text-slate-600 dark:text-slate-400">No messages yet. Say hello!</p>
        </div>
      ) : (
        <Virtuoso
          key={activeJump ? `${room}:${activeJump.key}` : room}
          ref={virtuoso}
          scrollerRef={setScroller}
          role="log"
          aria-label="Messages"
          tabIndex={0}
          onScroll={(e) => {
            onScroll(e);
            checkUnread();
          }}
          onKeyDown={onKeyDown}
          className="min-h-0 flex-1 outline-none focus-visible:ring-2 focus-visible:ring-inset focus-visible:ring-indigo-500"
          data={rows}
          firstItemIndex={firstItemIndex}
          initialTopMostItemIndex={activeJump ? { index: activeJump.index, align: "center" } : { index: "LAST", align: "end" }}
          computeItemKey={(_, row) => row.key}
          itemContent={itemContent}
          increaseViewportBy={{ top: 600, bottom: 300 }}
          atBottomThreshold={48}
          atBottomStateChange={setAtBottom}
          followOutput={(bottom) => {
            if (stickNext.current) {
              stickNext.current = false;
              return "auto";
            }
            return bottom ? "auto" : false;
          }}
          startReached={loadOlder}
          rangeChanged={checkUnread}
          components={{ Header: snap.hasOlder ? OlderHeader : undefined }}
          context={{ loading: state.loadingOlder, canLoad: canLoadOlder, onLoad: loadOlder }}
        />
      )}
    </div>
  );
}

interface ListContext {
  loading: boolean;
  canLoad: boolean;
  onLoad: () => void;
}

/** Above the oldest loaded message: older ones load by themselves when this comes into view; the button
 * is for when they did not (an error) and for pointers. */
function OlderHeader({ context }: { context?: ListContext }) {
  return (
    <div className="flex justify-center py-2">
      {context?.loading ? (
        <span className="text-xs text-slate-600 dark:text-slate-400">Loading older messages…</span>
      ) : (
        <Button small variant="secondary" tabIndex={-1} onClick={context?.onLoad} disabled={!context?.canLoad}>
          Load older messages
        </Button>
      )}
    </div>
  );
}
