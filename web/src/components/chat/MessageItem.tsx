import { memo, useMemo, useState, type KeyboardEvent } from "react";

import type { Me } from "../../lib/api";
import { MAX_MESSAGE_CHARS, snippet, timeOf } from "../../lib/chatView";
import { splitMentions } from "../../lib/mentions";
import type { ChatMessage, PendingMessage } from "../../store/messages";
import { Button, ErrorAlert, inputClass } from "../ui";

export const THUMBS_UP = "👍";

/** A message's text with its mentions marked (one's own name stands out). */
function MessageText({ text, names, myName }: { text: string; names: readonly string[]; myName: string }) {
  const parts = useMemo(() => splitMentions(text, names), [text, names]);
  return (
    <p className="whitespace-pre-wrap break-words text-slate-800">
      {parts.map((part, i) =>
        part.mention ? (
          <mark
            key={i}
            className={
              part.mention.toLowerCase() === myName.toLowerCase()
                ? "rounded bg-amber-200 px-0.5 font-semibold text-amber-950"
                : "rounded bg-indigo-100 px-0.5 font-medium text-indigo-900"
            }
          >
            {part.text}
          </mark>
        ) : (
          <span key={i}>{part.text}</span>
        ),
      )}
    </p>
  );
}

/** The message a reply answers, quoted (or its number when it is not loaded). */
function Quote({ parent, seq }: { parent: ChatMessage | undefined; seq: number }) {
  return (
    <blockquote className="mb-1 border-l-4 border-slate-300 pl-2 text-sm text-slate-600">
      {parent ? (
        <>
          <span className="font-medium">{parent.author.display_name}</span>:{" "}
          {parent.deleted ? <em>message deleted</em> : snippet(parent.text)}
        </>
      ) : (
        <>Reply to an earlier message (#{seq})</>
      )}
    </blockquote>
  );
}

export interface MessageActions {
  onReply: (seq: number) => void;
  onReact: (m: ChatMessage, add: boolean) => void;
  /** Starts (a seq) or ends (null) editing. */
  onEdit: (seq: number | null) => void;
  /** Resolves with whether the edit was saved. */
  onSaveEdit: (seq: number, text: string) => Promise<boolean>;
  onDelete: (seq: number) => void;
}

interface ItemProps extends MessageActions {
  message: ChatMessage;
  parent: ChatMessage | undefined;
  me: Me;
  canModerate: boolean;
  nameList: readonly string[];
  editing: boolean;
}

/** One stored message: author, time, text (or its editor), reactions, and what one may do with it. */
export const MessageItem = memo(function MessageItem({
  message: m,
  parent,
  me,
  canModerate,
  nameList,
  editing,
  onReply,
  onReact,
  onEdit,
  onSaveEdit,
  onDelete,
}: ItemProps) {
  const own = m.author.id === me.id;
  const reacted = (m.reactions?.[THUMBS_UP] ?? []).includes(me.id);
  const reactions = Object.entries(m.reactions ?? {}).filter(([, users]) => users.length > 0);

  return (
    <article
      data-seq={m.seq}
      className={`group rounded px-3 py-1.5 hover:bg-slate-50 ${own ? "border-l-4 border-indigo-200" : "border-l-4 border-transparent"}`}
    >
      <header className="flex flex-wrap items-baseline gap-2 text-sm">
        <span className="font-semibold text-slate-900">{m.author.display_name}</span>
        <time dateTime={new Date(m.ts).toISOString()} className="text-xs text-slate-500">
          {timeOf(m.ts)}
        </time>
        {m.edited_at && !m.deleted && (
          <span className="rounded bg-slate-100 px-1 text-xs text-slate-500" title={new Date(m.edited_at).toLocaleString()}>
            edited
          </span>
        )}
        {!m.deleted && !editing && (
          <div className="ml-auto flex flex-wrap gap-0.5 opacity-60 group-hover:opacity-100 group-focus-within:opacity-100">
            <Button small variant="ghost" onClick={() => onReply(m.seq)}>
              Reply
            </Button>
            <Button small variant="ghost" aria-pressed={reacted} onClick={() => onReact(m, !reacted)}>
              React {THUMBS_UP}
            </Button>
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
          </div>
        )}
      </header>
      {m.reply_to_seq ? <Quote parent={parent} seq={m.reply_to_seq} /> : null}
      {m.deleted ? (
        <p className="italic text-slate-500">message deleted</p>
      ) : editing ? (
        <EditBox text={m.text} seq={m.seq} onEdit={onEdit} onSaveEdit={onSaveEdit} />
      ) : (
        <MessageText text={m.text} names={nameList} myName={me.display_name} />
      )}
      {reactions.length > 0 && (
        <ul aria-label="Reactions" className="mt-1 flex flex-wrap gap-1">
          {reactions.map(([emoji, users]) => (
            <li
              key={emoji}
              className={`rounded-full border px-2 text-xs ${users.includes(me.id) ? "border-indigo-300 bg-indigo-50" : "border-slate-200 bg-white"}`}
            >
              {emoji} {users.length}
            </li>
          ))}
        </ul>
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
  onRetry,
  onDiscard,
}: {
  p: PendingMessage;
  parent: ChatMessage | undefined;
  nameList: readonly string[];
  myName: string;
  onRetry: (id: string) => void;
  onDiscard: (id: string) => void;
}) {
  return (
    <article className="rounded border-l-4 border-indigo-200 px-3 py-1.5 opacity-80" aria-busy={p.status !== "failed"}>
      <header className="flex flex-wrap items-baseline gap-2 text-sm">
        <span className="font-semibold text-slate-900">{p.author.display_name}</span>
        {p.status !== "failed" && <span className="text-xs italic text-slate-500">Sending…</span>}
      </header>
      {p.reply_to_seq ? <Quote parent={parent} seq={p.reply_to_seq} /> : null}
      <MessageText text={p.text} names={nameList} myName={myName} />
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
