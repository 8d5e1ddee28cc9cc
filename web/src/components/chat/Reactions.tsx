import { createContext, useContext, useEffect, useId, useRef, useState } from "react";

import { emojiName } from "../../lib/emoji";
import { EmojiPicker } from "./EmojiPicker";

export interface ReactionsProps {
  /** emoji -> ids of the users who reacted with it (ChatMessage.reactions). */
  reactions: Record<string, number[]> | undefined;
  /** The reader's user id. */
  meId: number;
  /** user_id -> display name (the club's members), for "who reacted"; unknown ids read "a member". */
  names?: ReadonlyMap<number, string>;
  /** False hides the "Add reaction" button (a deleted message). Default true. */
  canAdd?: boolean;
  /** Adds (true) or removes (false) the reader's reaction `emoji`. */
  onReact: (emoji: string, add: boolean) => void;
  /** tabIndex of every button (-1 while the message list's roving focus is elsewhere). */
  tabIndex?: number;
}

const MAX_NAMES = 12;
/** A touch held this long shows who reacted instead of toggling (phones have no hover). */
export const LONG_PRESS_MS = 450;

/** user_id -> display name for "who reacted", provided once by the room (ChatRoom) instead of threading a
 * prop through the list; a `names` prop wins over it. */
export const MemberNames = createContext<ReadonlyMap<number, string> | undefined>(undefined);

/** "Ann, Bob and you reacted with party popper" (the reader last, long lists cut). */
export function whoReacted(emoji: string, users: readonly number[], meId: number, names?: ReadonlyMap<number, string>): string {
  const others = users.filter((id) => id !== meId).map((id) => names?.get(id) ?? "a member");
  const shown = others.slice(0, MAX_NAMES);
  const rest = others.length - shown.length;
  if (rest > 0) shown.push(`${rest} ${rest === 1 ? "other" : "others"}`);
  if (users.includes(meId)) shown.push("you");
  const list = shown.length > 1 ? `${shown.slice(0, -1).join(", ")} and ${shown[shown.length - 1]}` : (shown[0] ?? "");
  return `${list.charAt(0).toUpperCase()}${list.slice(1)} reacted with ${emojiName(emoji)}`;
}

/** The button that opens the emoji picker to react to a message (for a message's action bar too). */
export function AddReaction({
  onPick,
  className = "",
  tabIndex,
}: {
  onPick: (emoji: string) => void;
  className?: string;
  tabIndex?: number;
}) {
  return (
    <EmojiPicker
      label="Add reaction"
      onPick={onPick}
      tabIndex={tabIndex}
      className={`inline-flex h-6 items-center justify-center rounded-full border border-slate-200 bg-white px-2 text-xs text-slate-700 hover:bg-slate-100 ${className}`}
    >
      <span aria-hidden="true">🙂+</span>
    </EmojiPicker>
  );
}

function Chip({
  emoji,
  users,
  meId,
  names,
  onReact,
  tabIndex,
}: {
  emoji: string;
  users: number[];
  meId: number;
  names?: ReadonlyMap<number, string>;
  onReact: ReactionsProps["onReact"];
  tabIndex?: number;
}) {
  const tipId = useId();
  const mine = users.includes(meId);
  const [tip, setTip] = useState(false);
  // Touch: a long press shows who reacted (a tap still toggles); the tip stays until the next touch elsewhere.
  const chip = useRef<HTMLLIElement>(null);
  const press = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const pressed = useRef(false);
  const touching = useRef(false);
  const [touchTip, setTouchTip] = useState(false);
  useEffect(() => () => clearTimeout(press.current), []);
  useEffect(() => {
    if (!touchTip) return;
    const away = (e: PointerEvent) => {
      if (!chip.current?.contains(e.target as Node)) {
        setTouchTip(false);
        setTip(false);
      }
    };
    document.addEventListener("pointerdown", away);
    return () => document.removeEventListener("pointerdown", away);
  }, [touchTip]);
  function showByTouch() {
    pressed.current = true;
    setTouchTip(true);
    setTip(true);
  }
  return (
    <li
      ref={chip}
      className="relative"
      onMouseEnter={() => setTip(true)}
      onMouseLeave={() => touchTip || setTip(false)}
      onFocus={() => setTip(true)}
      onBlur={() => touchTip || setTip(false)}
      onKeyDown={(e) => {
        // WCAG 1.4.13: a tooltip can be dismissed without moving focus or the pointer.
        if (e.key === "Escape" && tip) {
          e.stopPropagation();
          setTip(false);
          setTouchTip(false);
        }
      }}
    >
      <button
        type="button"
        aria-pressed={mine}
        aria-label={`${emojiName(emoji)}: ${users.length}`}
        aria-describedby={tipId}
        tabIndex={tabIndex}
        onPointerDown={(e) => {
          pressed.current = false;
          if (e.pointerType === "mouse") return;
          touching.current = true;
          clearTimeout(press.current);
          press.current = setTimeout(showByTouch, LONG_PRESS_MS);
        }}
        onPointerUp={() => {
          touching.current = false;
          clearTimeout(press.current);
        }}
        onPointerCancel={() => {
          touching.current = false;
          clearTimeout(press.current);
        }}
        onContextMenu={(e) => {
          // A long press on Android opens the context menu: it is our long press.
          if (touching.current) {
            e.preventDefault();
            clearTimeout(press.current);
            showByTouch();
          }
        }}
        onClick={() => {
          if (pressed.current) {
            pressed.current = false; // the end of a long press, not a tap
            return;
          }
          onReact(emoji, !mine);
        }}
        className={`inline-flex h-6 items-center gap-1 rounded-full border px-2 text-xs text-slate-800 ${mine ? "border-indigo-400 bg-indigo-50" : "border-slate-200 bg-white hover:bg-slate-100"}`}
      >
        <span aria-hidden="true">{emoji}</span>
        <span aria-hidden="true">{users.length}</span>
      </button>
      {/* Who reacted: shown on hover, keyboard focus and a long press, read as the button's description. */}
      <span
        id={tipId}
        role="tooltip"
        className={`absolute bottom-full left-0 z-20 mb-1 w-max max-w-64 rounded bg-slate-800 px-2 py-1 text-xs text-slate-50 shadow ${tip ? "block" : "hidden"}`}
      >
        {whoReacted(emoji, users, meId, names)}
      </span>
    </li>
  );
}

/** The reactions under a message: each one toggles the reader's own reaction and tells who reacted; a button
 * next to them adds another emoji. */
export function Reactions({ reactions, meId, names: namesProp, canAdd = true, onReact, tabIndex }: ReactionsProps) {
  const provided = useContext(MemberNames);
  const names = namesProp ?? provided;
  const shown = Object.entries(reactions ?? {}).filter(([, users]) => users.length > 0);
  if (shown.length === 0) return null;
  return (
    <div className="mt-1 flex flex-wrap items-center gap-1">
      <ul aria-label="Reactions" className="flex flex-wrap gap-1">
        {shown.map(([emoji, users]) => (
          <Chip key={emoji} emoji={emoji} users={users} meId={meId} names={names} onReact={onReact} tabIndex={tabIndex} />
        ))}
      </ul>
      {canAdd && (
        <AddReaction
          tabIndex={tabIndex}
          onPick={(emoji) => {
            if (!reactions?.[emoji]?.includes(meId)) onReact(emoji, true);
          }}
        />
      )}
    </div>
  );
}
