// A thread beside the room (a full screen on phones): its root message, its replies (`GET
// /rooms/{id}/threads/{root}?after_seq=&limit=`, page by page, then live from the room's store: a reply
// is a message of the room with `thread_root_seq`), one's own replies not stored yet, and a composer
// whose messages go to the thread (`message:send {thread_root_seq}`).
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, query, type Me } from "../../lib/api";
import { useMessages, type RoomSession } from "../../lib/rooms";
import { isFromBlocked, pendingReplies, repliesLabel, threadReplies } from "../../lib/threads";
import type { ChatMessage } from "../../store/messages";
import { Button, ErrorAlert } from "../ui";
import { Composer } from "./Composer";
import { MessageItem, PendingItem, type MessageActions } from "./MessageItem";

const PAGE = 50;

export function ThreadPanel({
  session,
  rootSeq,
  me,
  canModerate,
  nameList,
  actions,
  pinned,
  blocked,
  roomName,
  onClose,
}: {
  session: RoomSession;
  rootSeq: number;
  me: Me;
  canModerate: boolean;
  nameList: readonly string[];
  actions: MessageActions;
  pinned: ReadonlySet<number>;
  blocked: ReadonlySet<number> | null;
  roomName: string;
  onClose: () => void;
}) {
  const snap = useMessages(session);
  const [fetched, setFetched] = useState<ChatMessage[]>([]);
  const [fetchedRoot, setFetchedRoot] = useState<ChatMessage | null>(null);
  const [more, setMore] = useState(false);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [editing, setEditing] = useState<number | null>(null);
  const composer = useRef<HTMLTextAreaElement>(null);
  const heading = useRef<HTMLHeadingElement>(null);

  // The room's copy when it holds the root (kept current by the room's events), else the thread's.
  const root = useMemo(() => snap.messages.find((m) => m.seq === rootSeq) ?? fetchedRoot, [snap.messages, rootSeq, fetchedRoot]);
  const replies = useMemo(() => threadReplies(rootSeq, fetched, snap.messages), [rootSeq, fetched, snap.messages]);
  const pending = useMemo(() => pendingReplies(rootSeq, snap.pending), [rootSeq, snap.pending]);

  const load = useCallback(
    async (after: number | null) => {
      try {
        const out = await api<{ messages?: ChatMessage[] }>(
          "GET",
          `/rooms/${session.roomId}/threads/${rootSeq}${query({ after_seq: after ?? undefined, limit: PAGE })}`,
        );
        const list = (out.messages ?? []).map((m) => ({ ...m, room_id: m.room_id ?? session.roomId, thread_root_seq: m.thread_root_seq ?? rootSeq }));
        setFetched((prev) => (after === null ? list : [...prev, ...list]));
        setMore(list.length >= PAGE);
        setError(null);
      } catch (err) {
        setError(err);
      } finally {
        setLoading(false);
      }
    },
    [session.roomId, rootSeq],
  );

  useEffect(() => {
    heading.current?.focus();
    let live = true;
    api<{ root?: ChatMessage; messages?: ChatMessage[] }>("GET", `/rooms/${session.roomId}/threads/${rootSeq}${query({ limit: PAGE })}`).then(
      (out) => {
        if (!live) return;
        if (out.root) setFetchedRoot({ ...out.root, room_id: out.root.room_id ?? session.roomId });
        const list = (out.messages ?? []).map((m) => ({ ...m, room_id: m.room_id ?? session.roomId, thread_root_seq: m.thread_root_seq ?? rootSeq }));
        setFetched(list);
        setMore(list.length >= PAGE);
        setLoading(false);
      },
      (err: unknown) => {
        if (!live) return;
        setError(err);
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [session.roomId, rootSeq]);

  const threadActions = useMemo<MessageActions>(
    () => ({ ...actions, onThread: undefined, onEdit: setEditing, onReply: () => composer.current?.focus() }),
    [actions],
  );

  const lastFetched = fetched.length ? fetched[fetched.length - 1].seq : null;

  return (
    <section aria-labelledby="thread-title" className="flex h-full min-h-0 min-w-0 flex-col bg-white">
      <header className="flex shrink-0 items-center justify-between gap-2 border-b border-slate-200 px-4 py-2">
        <h2 id="thread-title" ref={heading} tabIndex={-1} className="min-w-0 truncate text-lg font-semibold focus:outline-none">
          Thread <span className="text-sm font-normal text-slate-600">in {roomName}</span>
        </h2>
        <Button small variant="secondary" onClick={onClose}>
          Close thread
        </Button>
      </header>
      <div role="log" aria-label="Thread" tabIndex={0} className="min-h-0 flex-1 overflow-y-auto px-1 py-2 focus:outline-none focus-visible:ring-2 focus-visible:ring-inset focus-visible:ring-indigo-500">
        {root ? (
          <MessageItem
            message={root}
            parent={undefined}
            me={me}
            canModerate={canModerate}
            nameList={nameList}
            editing={editing === root.seq}
            pinned={pinned.has(root.seq)}
            blocked={isFromBlocked(root, blocked)}
            {...threadActions}
          />
        ) : (
          <p className="px-3 text-sm text-slate-600">Loading the message…</p>
        )}
        <p className="mx-3 my-2 border-b border-slate-200 pb-1 text-xs font-semibold uppercase tracking-wide text-slate-600">
          {repliesLabel(replies.length)}
        </p>
        {replies.map((m) => (
          <MessageItem
            key={m.seq}
            message={m}
            parent={undefined}
            me={me}
            canModerate={canModerate}
            nameList={nameList}
            editing={editing === m.seq}
            pinned={pinned.has(m.seq)}
            blocked={isFromBlocked(m, blocked)}
            {...threadActions}
          />
        ))}
        {pending.map((p) => (
          <PendingItem
            key={p.client_id}
            p={p}
            parent={undefined}
            nameList={nameList}
            myName={me.display_name}
            onRetry={(id) => session.retry(id)}
            onDiscard={(id) => session.store.discard(id)}
          />
        ))}
        {loading && <p className="px-3 py-2 text-sm text-slate-600">Loading replies…</p>}
        <ErrorAlert error={error} className="mx-3 my-2" />
        {more && !loading && (
          <div className="flex justify-center py-2">
            <Button
              small
              variant="secondary"
              onClick={() => {
                setLoading(true);
                void load(lastFetched);
              }}
            >
              Load more replies
            </Button>
          </div>
        )}
      </div>
      <Composer
        inputRef={composer}
        roomName={roomName}
        draft={`${session.roomId}:thread:${rootSeq}`}
        inputId="thread-composer"
        label="Reply in thread"
        placeholder="Reply in thread (Enter sends)"
        replyTo={null}
        replyParent={undefined}
        onCancelReply={() => undefined}
        actionError={actionError}
        onDismissError={() => setActionError(null)}
        onError={setActionError}
        onSend={(text) => {
          setActionError(null);
          session.send(text, { id: me.id, display_name: me.display_name }, null, rootSeq);
        }}
        onTyping={() => session.typing()}
      />
    </section>
  );
}
