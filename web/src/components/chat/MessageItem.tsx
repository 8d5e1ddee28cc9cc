import { memo, useLayoutEffect, useRef, useState, type FocusEvent, type KeyboardEvent } from "react";

import type { Me } from "../../lib/api";
import { MAX_MESSAGE_CHARS, messageSnippet } from "../../lib/chatView";
import { fullTime, messageTime } from "../../lib/dates";
import { mentions as mentionsName } from "../../lib/mentions";
import { mentionsUser, type ChatMessage, type PendingMessage } from "../../store/messages";
import { Button, ErrorAlert, inputClass } from "../ui";
import { Attachments } from "../media/Attachments";
import { MessageBody } from "./MessageBody";
import { MessageMenu, type MenuItem } from "./MessageMenu";
import { AddReaction, Reactions } from "./Reactions";
import { repliesLabel } from "../../lib/threads";

export const THUMBS_UP = "👍";

/** The message a reply answers, quoted (or its number when it is not loaded). */
function Quote({ parent, seq }: { parent: ChatMessage | undefined; seq: number }) {
  return (
    <blockquote className="mb-1 border-l-4 border-slate-300 pl-2 text-sm text-slate-600 dark:border-slate-600 dark:text-slate-300">
      {parent ? (
        <>
          <span className="font-medium">{parent.author.display_name}</span>:{" "}
          {parent.deleted ? <em>message deleted</em> : messageSnippet(parent)}
        </>
      ) : (
        <>Reply to an earlier message (#{seq})</>
      )}
    </blockquote>
  );
}

export interface MessageActions {
  onReply: (seq: number) => void;
  /** Adds or removes the reader's reaction `emoji` (👍 when not said). */
  onReact: (m: ChatMessage, add: boolean, emoji?: string) => void;
  /** Starts (a seq) or ends (null) editing. */
  onEdit: (seq: number | null) => void;
  /** Resolves with whether the edit was saved. */
  onSaveEdit: (seq: number, text: string) => Promise<boolean>;
  onDelete: (seq: number) => void;
  /** Opens the message's thread (absent where threads are not offered: in the thread panel). */
  onThread?: (seq: number) => void;
  /** Pins or unpins (absent for readers who may not). */
  onPin?: (seq: number, pin: boolean) => void;
  /** Opens the report dialog of the message. */
  onReport?: (m: ChatMessage) => void;
  /** Blocks (true) or unblocks the message's author. */
  onBlock?: (author: ChatMessage["author"], block: boolean) => void;
}

/**
 * Focus within a message of the log. The log is one tab stop (arrow keys move between messages), so the
 * controls of a message are reachable by Tab only while that message holds focus: every button and link
 * in it (its own, the text's, the reactions') gets tabindex -1 otherwise. Done on the DOM after each
 * render, so controls of child components follow too.
 */
function useRovingControls() {
  const ref = useRef<HTMLElement | null>(null);
  const [focused, setFocused] = useState(false);
  useLayoutEffect(() => {
    ref.current?.querySelectorAll<HTMLElement>("button, a[href]").forEach((el) => {
      el.tabIndex = focused ? 0 : -1;
    });
  });
  const onFocus = () => setFocused(true);
  const onBlur = (e: FocusEvent<HTMLElement>) => {
    if (!e.currentTarget.contains(e.relatedTarget)) setFocused(false);
  };
  return { ref, onFocus, onBlur };
}

const ROW = "group relative rounded px-3 outline-none focus-visible:ring-2 focus-visible:ring-inset focus-visible:ring-indigo-500";

interface ItemProps extends MessageActions {
  message: ChatMessage;
  parent: ChatMessage | undefined;
  me: Me;
  canModerate: boolean;
  nameList: readonly string[];
  editing: boolean;
  /** Under the previous message's header (same author within 5 minutes). */
  grouped?: boolean;
  /** The time "now" for dates ("Yesterday 14:05"). */
  now?: number;
  /** Its position in the log (arrow-key navigation). */
  pos?: number;
  /** The message a notification led to: it stands out for a few seconds. */
  highlighted?: boolean;
  /** Whether it is pinned in the room. */
  pinned?: boolean;
  /** Its author is blocked by the reader: shown collapsed until asked. */
  blocked?: boolean;
  /** The replies in its thread (0: none). */
  replies?: number;
}

/** One stored message: author and time (unless grouped under the previous one), text (or its editor),
 * reactions, and what one may do with it (shown on hover or focus). */
export const MessageItem = memo(function MessageItem({
  message: m,
  parent,
  me,
  canModerate,
  nameList,
  editing,
  grouped = false,
  now,
  pos,
  highlighted = false,
  pinned = false,
  blocked = false,
  replies = 0,
  onReply,
  onReact,
  onEdit,
  onSaveEdit,
  onDelete,
  onThread,
  onPin,
  onReport,
  onBlock,
}: ItemProps) {
  const own = m.author.id === me.id;
  const [menuOpen, setMenuOpen] = useState(false);
  const [revealed, setRevealed] = useState(false);
  const collapsed = blocked && !revealed && !m.deleted;
  const menu: MenuItem[] = [];
  if (!m.deleted) {
    if (onThread) menu.push({ label: "Reply in thread", onSelect: () => onThread(m.seq) });
    if (onPin) menu.push({ label: pinned ? "Unpin message" : "Pin message", onSelect: () => onPin(m.seq, !pinned) });
    if (!own && onReport) menu.push({ label: "Report message", onSelect: () => onReport(m) });
    if (!own && onBlock) {
      menu.push(
        blocked
          ? { label: `Unblock ${m.author.display_name}`, onSelect: () => onBlock(m.author, false) }
          : { label: `Block ${m.author.display_name}`, onSelect: () => onBlock(m.author, true), danger: true },
      );
    }
  }
  const mentionsMe = !m.deleted && mentionsUser(m, me.id, () => mentionsName(m.text, me.display_name));
  const reacted = (m.reactions?.[THUMBS_UP] ?? []).includes(me.id);
  const { ref, onFocus, onBlur } = useRovingControls();
  const time = messageTime(m.ts, now);

  return (
    <article
      ref={ref}
      data-seq={m.seq}
      data-pos={pos}
      data-grouped={grouped}
      data-mention={mentionsMe || undefined}
      data-highlighted={highlighted || undefined}
      data-blocked={blocked || undefined}
      data-pinned={pinned || undefined}
      tabIndex={-1}
      onFocus={onFocus}
      onBlur={onBlur}
      className={`${ROW} ${grouped ? "py-0.5" : "mt-1.5 pb-0.5 pt-1"} ${
        highlighted
          ? "bg-amber-100 ring-2 ring-inset ring-amber-500 dark:bg-amber-900/40"
          : mentionsMe
            ? "bg-amber-50 hover:bg-amber-100 focus-within:bg-amber-100 dark:bg-amber-900/20 dark:hover:bg-amber-900/30"
            : "hover:bg-slate-50 focus-within:bg-slate-50 dark:hover:bg-slate-800/60 dark:focus-within:bg-slate-800/60"
      } ${mentionsMe ? "border-l-4 border-amber-500" : own ? "border-l-4 border-indigo-200 dark:border-indigo-700" : "border-l-4 border-transparent"} transition-colors duration-700`}
    >
      {(mentionsMe || highlighted) && (
        // Said to screen readers; sighted readers see the colour and the marked name.
        <span className="sr-only">{highlighted ? "The message you were notified of. " : ""}{mentionsMe ? "Mentions you. " : ""}</span>
      )}
      {collapsed ? (
        <p className="flex flex-wrap items-center gap-2 py-1 pr-24 text-sm italic text-slate-600 dark:text-slate-400">
          Message from a blocked member
          <Button small variant="secondary" className="not-italic" onClick={() => setRevealed(true)}>
            Show
          </Button>
        </p>
      ) : grouped ? (
        // Said to screen readers, not shown: the header above covers it.
        <header className="sr-only">
          {m.author.display_name}, <time dateTime={new Date(m.ts).toISOString()}>{time}</time>
        </header>
      ) : (
        <header className="flex flex-wrap items-baseline gap-2 pr-2 text-sm">
          <span className="font-semibold text-slate-900 dark:text-slate-100">{m.author.display_name}</span>
          <time dateTime={new Date(m.ts).toISOString()} title={fullTime(m.ts)} className="text-xs text-slate-600 dark:text-slate-400">
            {time}
          </time>
          {pinned && <span className="rounded bg-amber-100 px-1 text-xs text-amber-900">Pinned</span>}
          {blocked && (
            <Button small variant="ghost" onClick={() => setRevealed(false)}>
              Hide
            </Button>
          )}
        </header>
      )}
      {m.edited_at && !m.deleted && !collapsed && (
        <span className="float-right ml-2 rounded bg-slate-100 px-1 text-xs text-slate-700 dark:bg-slate-800 dark:text-slate-300" title={fullTime(m.edited_at)}>
          edited
        </span>
      )}
      {!m.deleted && !editing && collapsed && (
        <div
          role="toolbar"
          aria-label="Message actions"
          className={`absolute right-2 top-0.5 z-10 gap-0.5 rounded border border-slate-200 bg-white p-0.5 shadow-sm group-hover:flex group-focus-within:flex dark:border-slate-600 dark:bg-slate-800 ${menuOpen ? "flex" : "hidden"}`}
        >
          <MessageMenu items={menu} onOpenChange={setMenuOpen} />
        </div>
      )}
      {!m.deleted && !editing && !collapsed && (
        // Hidden (not dimmed) until the message is hovered or holds focus: nothing faint to read.
        <div
          role="toolbar"
          aria-label="Message actions"
          className={`absolute right-2 top-0.5 z-10 max-w-[calc(100%-1rem)] flex-wrap justify-end gap-0.5 rounded border border-slate-200 bg-white p-0.5 shadow-sm group-hover:flex group-focus-within:flex dark:border-slate-600 dark:bg-slate-800 ${menuOpen ? "flex" : "hidden"}`}
        >
          <Button small variant="ghost" onClick={() => onReply(m.seq)}>
            Reply
          </Button>
          <Button small variant="ghost" aria-pressed={reacted} onClick={() => onReact(m, !reacted, THUMBS_UP)}>
            React {THUMBS_UP}
          </Button>
          <AddReaction onPick={(emoji) => onReact(m, true, emoji)} />
          {own && (
            <Button small variant="ghost" onClick={() => onEdit(m.seq)}>
              Edit
            </Button>
          )}
          {(own || canModerate) && (
            <Button small variant="danger" onClick={() => onDelete(m.seq)}>
              Delete
            </Button>
          )}
          <MessageMenu items={menu} onOpenChange={setMenuOpen} />
        </div>
      )}
      {collapsed ? null : (
        <>
      {m.reply_to_seq ? <Quote parent={parent} seq={m.reply_to_seq} /> : null}
      {m.deleted ? (
        <p className="italic text-slate-600 dark:text-slate-400">message deleted</p>
      ) : editing ? (
        <EditBox text={m.text} seq={m.seq} onEdit={onEdit} onSaveEdit={onSaveEdit} />
      ) : (
        <>
          {m.text && <MessageBody text={m.text} names={nameList} myName={me.display_name} />}
          <Attachments items={m.attachments} from={m.author.display_name} />
        </>
      )}
      {!m.deleted && <Reactions reactions={m.reactions} meId={me.id} onReact={(emoji, add) => onReact(m, add, emoji)} />}
      {replies > 0 && onThread && (
        <button
          type="button"
          onClick={() => onThread(m.seq)}
          className="mt-0.5 rounded px-1 text-xs font-medium text-indigo-700 underline underline-offset-2 hover:bg-indigo-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500"
        >
          {repliesLabel(replies)}
        </button>
      )}
        </>
      )}
    </article>
  );
});

/** The editor of one's own message: Enter saves, Escape cancels. */
function EditBox({
  text,
  seq,
  onEdit,
  onSaveEdit,
}: {
  text: string;
  seq: number;
  onEdit: MessageActions["onEdit"];
  onSaveEdit: MessageActions["onSaveEdit"];
}) {
  const [draft, setDraft] = useState(text);
  const [saving, setSaving] = useState(false);
  // The message changed while being edited (another device): start again from the new text.
  const [shownText, setShownText] = useState(text);
  if (shownText !== text) {
    setShownText(text);
    setDraft(text);
  }

  async function save() {
    const body = draft.trim();
    if (!body) return;
    if (body === text) {
      onEdit(null);
      return;
    }
    setSaving(true);
    const ok = await onSaveEdit(seq, body);
    setSaving(false);
    if (ok) onEdit(null);
  }

  function keys(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === "Escape") {
      e.preventDefault();
      onEdit(null);
    } else if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void save();
    }
  }

  return (
    <div className="mt-1 space-y-2">
      <textarea
        aria-label="Edited text"
        value={draft}
        onChange={(e) => setDraft(e.target.value)}
        onKeyDown={keys}
        rows={2}
        maxLength={MAX_MESSAGE_CHARS}
        autoFocus
        className={inputClass}
      />
      <div className="flex gap-2">
        <Button small onClick={() => void save()} disabled={saving || !draft.trim()}>
          Save
        </Button>
        <Button small variant="secondary" onClick={() => onEdit(null)}>
          Cancel
        </Button>
      </div>
    </div>
  );
}

/** One's own message not stored yet: "Sending…", or why it failed with Retry and Discard. */
export function PendingItem({
  p,
  parent,
  nameList,
  myName,
  grouped = false,
  pos,
  onRetry,
  onDiscard,
}: {
  p: PendingMessage;
  parent: ChatMessage | undefined;
  nameList: readonly string[];
  myName: string;
  grouped?: boolean;
  pos?: number;
  onRetry: (id: string) => void;
  onDiscard: (id: string) => void;
}) {
  const { ref, onFocus, onBlur } = useRovingControls();
  const status = p.status !== "failed" && <span className="text-xs italic text-slate-600 dark:text-slate-400">Sending…</span>;
  return (
    <article
      ref={ref}
      data-pos={pos}
      data-grouped={grouped}
      tabIndex={-1}
      onFocus={onFocus}
      onBlur={onBlur}
      className={`${ROW} ${grouped ? "py-0.5" : "mt-1.5 pb-0.5 pt-1"} border-l-4 border-indigo-200 dark:border-indigo-700`}
      aria-busy={p.status !== "failed"}
    >
      {grouped ? (
        <header className="sr-only">{p.author.display_name}</header>
      ) : (
        <header className="flex flex-wrap items-baseline gap-2 text-sm">
          <span className="font-semibold text-slate-900 dark:text-slate-100">{p.author.display_name}</span>
          {status}
        </header>
      )}
      {p.reply_to_seq ? <Quote parent={parent} seq={p.reply_to_seq} /> : null}
      {p.text && <MessageBody text={p.text} names={nameList} myName={myName} />}
      <Attachments items={p.attachments} from={p.author.display_name} />
      {grouped && status}
      {p.status === "failed" && (
        <ErrorAlert error={p.error} className="mt-1">
          <span className="ml-2 inline-flex gap-1">
            <Button small variant="secondary" onClick={() => onRetry(p.client_id)}>
              Retry
            </Button>
            <Button small variant="secondary" onClick={() => onDiscard(p.client_id)}>
              Discard
            </Button>
          </span>
        </ErrorAlert>
      )}
    </article>
  );
}
