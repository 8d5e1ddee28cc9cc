import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import type { Me } from "../lib/api";
import { removedMessage } from "../lib/errors";
import { splitMentions } from "../lib/mentions";
import { useMessages, useRoomState, type RoomSession } from "../lib/rooms";
import { useConnection } from "../lib/socket";
import type { ChatMessage, PendingMessage } from "../store/messages";
import { Button, ErrorAlert, inputClass } from "./ui";

const MAX_TEXT = 4000;
const THUMBS_UP = "👍";

interface Props {
  session: RoomSession;
  roomName: string;
  me: Me;
  /** Owners and moderators may delete anyone's messages. */
  canModerate: boolean;
  /** user_id -> display name (the club's members), for typing and mentions. */
  names: ReadonlyMap<number, string>;
}

function timeOf(ts: number): string {
  return new Date(ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function authorName(messages: readonly ChatMessage[], userId: number): string | undefined {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i].author.id === userId) return messages[i].author.display_name;
  return undefined;
}

function snippet(text: string, n = 80): string {
  const t = text.replace(/\s+/g, " ").trim();
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
}

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

interface ItemProps {
  message: ChatMessage;
  parent: ChatMessage | undefined;
  me: Me;
  canModerate: boolean;
  nameList: readonly string[];
  editing: boolean;
  onReply(seq: number): void;
  onReact(m: ChatMessage, add: boolean): void;
  onEdit(seq: number | null): void;
  onSaveEdit(seq: number, text: string): Promise<boolean>;
  onDelete(seq: number): void;
}

const MessageItem = memo(function MessageItem({
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
  const [draft, setDraft] = useState(m.text);
  const [saving, setSaving] = useState(false);
  useEffect(() => {
    if (editing) setDraft(m.text);
  }, [editing, m.text]);

  async function save() {
    const text = draft.trim();
    if (!text) return;
    if (text === m.text) {
      onEdit(null);
      return;
    }
    setSaving(true);
    const ok = await onSaveEdit(m.seq, text);
    setSaving(false);
    if (ok) onEdit(null);
  }

  function editKeys(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === "Escape") {
      e.preventDefault();
      onEdit(null);
    } else if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void save();
    }
  }

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
        <div className="mt-1 space-y-2">
          <textarea
            aria-label="Edited text"
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            onKeyDown={editKeys}
            rows={2}
            maxLength={MAX_TEXT}
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

function PendingItem({
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
  onRetry(id: string): void;
  onDiscard(id: string): void;
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

export function ChatRoom({ session, roomName, me, canModerate, names }: Props) {
  const snap = useMessages(session);
  const state = useRoomState(session);
  const connection = useConnection();
  const [text, setText] = useState("");
  const [replyTo, setReplyTo] = useState<number | null>(null);
  const [editing, setEditing] = useState<number | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const logRef = useRef<HTMLDivElement>(null);
  const composerRef = useRef<HTMLTextAreaElement>(null);
  const atBottom = useRef(true);
  const keepOffset = useRef<{ height: number; top: number } | null>(null);

  const bySeq = useMemo(() => new Map(snap.messages.map((m) => [m.seq, m])), [snap.messages]);
  const nameList = useMemo(() => {
    const all = new Set(names.values());
    for (const m of snap.messages) all.add(m.author.display_name);
    return [...all];
  }, [names, snap.messages]);

  const latestSeq = snap.messages.length ? snap.messages[snap.messages.length - 1].seq : 0;
  const prevLatest = useRef(0);
  const [newBelow, setNewBelow] = useState(false);

  // Reset the per-room view when the room changes.
  useEffect(() => {
    setReplyTo(null);
    setEditing(null);
    setActionError(null);
    setNewBelow(false);
    prevLatest.current = 0;
    atBottom.current = true;
  }, [session]);

  // Scrolling: stay at the bottom for new messages; keep the view still when older ones are prepended.
  useLayoutEffect(() => {
    const el = logRef.current;
    if (!el) return;
    if (keepOffset.current) {
      const { height, top } = keepOffset.current;
      if (el.scrollHeight !== height) {
        el.scrollTop = el.scrollHeight - height + top;
        keepOffset.current = null;
      }
    } else if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    } else if (latestSeq > prevLatest.current && prevLatest.current > 0) {
      setNewBelow(true);
    }
    prevLatest.current = latestSeq;
  }, [snap.messages, snap.pending, latestSeq]);

  function jumpToLatest() {
    const el = logRef.current;
    if (el) el.scrollTop = el.scrollHeight;
    atBottom.current = true;
    setNewBelow(false);
    markRead();
  }
  const markRead = useCallback(() => {
    if (latestSeq > 0 && atBottom.current && document.visibilityState === "visible" && state.joined) {
      session.markRead(latestSeq);
    }
  }, [latestSeq, session, state.joined]);

  useEffect(() => {
    markRead();
    document.addEventListener("visibilitychange", markRead);
    return () => document.removeEventListener("visibilitychange", markRead);
  }, [markRead]);

  function onScroll() {
    const el = logRef.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 48;
    if (atBottom.current) {
      setNewBelow(false);
      markRead();
    }
  }

  function loadOlder() {
    const el = logRef.current;
    if (el) keepOffset.current = { height: el.scrollHeight, top: el.scrollTop };
    void session.loadOlder();
  }

  function send(e?: FormEvent) {
    e?.preventDefault();
    const body = text.trim();
    if (!body) return;
    if (body.length > MAX_TEXT) {
      setActionError(new Error(`A message holds at most ${MAX_TEXT} characters (this one has ${body.length})`));
      return;
    }
    setActionError(null);
    session.send(body, { id: me.id, display_name: me.display_name }, replyTo);
    setText("");
    setReplyTo(null);
    atBottom.current = true;
    composerRef.current?.focus();
  }

  function composerKeys(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      send();
    } else if (e.key === "Escape" && replyTo) {
      setReplyTo(null);
    }
  }

  const onReply = useCallback((seq: number) => {
    setReplyTo(seq);
    composerRef.current?.focus();
  }, []);

  const onReact = useCallback(
    (m: ChatMessage, add: boolean) => {
      setActionError(null);
      session.react(m.seq, THUMBS_UP, add).catch(setActionError);
    },
    [session],
  );

  const onSaveEdit = useCallback(
    async (seq: number, body: string) => {
      setActionError(null);
      try {
        await session.edit(seq, body);
        return true;
      } catch (err) {
        setActionError(err);
        return false;
      }
    },
    [session],
  );

  const onDelete = useCallback(
    (seq: number) => {
      setActionError(null);
      session.remove(seq).catch(setActionError);
    },
    [session],
  );

  const onRetry = useCallback((id: string) => session.retry(id), [session]);
  const onDiscard = useCallback((id: string) => session.store.discard(id), [session]);

  const typingNames = [...state.typing.keys()]
    .filter((id) => id !== me.id)
    .map((id) => names.get(id) ?? authorName(snap.messages, id) ?? "Someone");
  const typingLine =
    typingNames.length === 0
      ? ""
      : typingNames.length === 1
        ? `${typingNames[0]} is typing…`
        : typingNames.length === 2
          ? `${typingNames[0]} and ${typingNames[1]} are typing…`
          : "Several people are typing…";

  const replyParent = replyTo ? bySeq.get(replyTo) : undefined;

  // Out of the club (`room:removed`): no messages, no composer, no action; only why.
  if (state.removed) {
    return (
      <section aria-labelledby="room-title" className="flex h-full min-h-0 flex-col">
        <header className="border-b border-slate-200 px-4 py-2">
          <h2 id="room-title" className="text-lg font-semibold">
            <span aria-hidden="true" className="text-slate-400">
              #
            </span>
            {roomName}
          </h2>
        </header>
        <div role="alert" className="m-3 rounded border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-800">
          {removedMessage(state.removed)}
        </div>
      </section>
    );
  }

  return (
    <section aria-labelledby="room-title" className="flex h-full min-h-0 flex-col">
      <header className="flex items-center justify-between border-b border-slate-200 px-4 py-2">
        <h2 id="room-title" className="text-lg font-semibold">
          <span aria-hidden="true" className="text-slate-400">
            #
          </span>
          {roomName}
        </h2>
        {!state.joined && connection === "connected" && !state.joinError && (
          <span className="text-sm text-slate-500">Joining…</span>
        )}
      </header>

      {state.joinError != null && (
        <ErrorAlert error={state.joinError} className="m-3">
          <Button small variant="secondary" className="ml-2" onClick={() => void session.join()}>
            Try again
          </Button>
        </ErrorAlert>
      )}
      {state.historyError != null && <ErrorAlert error={state.historyError} className="mx-3 mt-2" />}

      <div
        ref={logRef}
        onScroll={onScroll}
        role="log"
        aria-label="Messages"
        tabIndex={0}
        className="min-h-0 flex-1 space-y-1 overflow-y-auto px-1 py-2"
      >
        {snap.hasOlder && (
          <div className="flex justify-center py-1">
            <Button small variant="secondary" onClick={loadOlder} disabled={state.loadingOlder || !state.joined}>
              Load older messages
            </Button>
          </div>
        )}
        {snap.joinedOnce && !snap.hasOlder && snap.messages.length === 0 && snap.pending.length === 0 && (
          <p className="px-3 py-6 text-center text-slate-500">No messages yet. Say hello!</p>
        )}
        {snap.messages.map((m) => (
          <MessageItem
            key={m.seq}
            message={m}
            parent={m.reply_to_seq ? bySeq.get(m.reply_to_seq) : undefined}
            me={me}
            canModerate={canModerate}
            nameList={nameList}
            editing={editing === m.seq}
            onReply={onReply}
            onReact={onReact}
            onEdit={setEditing}
            onSaveEdit={onSaveEdit}
            onDelete={onDelete}
          />
        ))}
        {snap.pending.map((p) => (
          <PendingItem
            key={p.client_id}
            p={p}
            parent={p.reply_to_seq ? bySeq.get(p.reply_to_seq) : undefined}
            nameList={nameList}
            myName={me.display_name}
            onRetry={onRetry}
            onDiscard={onDiscard}
          />
        ))}
      </div>

      <div className="relative">
        {newBelow && (
          <Button small className="absolute -top-9 left-1/2 -translate-x-1/2 shadow" onClick={jumpToLatest}>
            Jump to latest messages
          </Button>
        )}
        <p className="h-5 px-4 text-xs italic text-slate-500" aria-live="polite">
          {typingLine}
        </p>
      </div>

      <div className="border-t border-slate-200 p-3">
        {actionError != null && (
          <ErrorAlert error={actionError} className="mb-2">
            <Button small variant="secondary" className="ml-2" onClick={() => setActionError(null)}>
              Dismiss
            </Button>
          </ErrorAlert>
        )}
        {replyTo && (
          <div className="mb-2 flex items-center justify-between gap-2 rounded bg-slate-100 px-3 py-1 text-sm">
            <span className="min-w-0 truncate">
              Replying to{" "}
              {replyParent ? (
                <>
                  <strong>{replyParent.author.display_name}</strong>: {snippet(replyParent.text, 60)}
                </>
              ) : (
                <>message #{replyTo}</>
              )}
            </span>
            <Button small variant="ghost" onClick={() => setReplyTo(null)}>
              Cancel reply
            </Button>
          </div>
        )}
        <form onSubmit={send} className="flex items-end gap-2">
          <textarea
            ref={composerRef}
            aria-label="Message"
            value={text}
            onChange={(e) => {
              setText(e.target.value);
              if (e.target.value.trim()) session.typing();
            }}
            onKeyDown={composerKeys}
            rows={2}
            placeholder={`Message #${roomName} (Enter sends, Shift+Enter for a new line)`}
            className={`${inputClass} resize-none`}
          />
          <Button type="submit">Send</Button>
        </form>
      </div>
    </section>
  );
}
