// A chat room on screen: the container that wires a RoomSession (lib/rooms.ts) to the message list, the
// composer and the scrolling (lib/useStickyScroll.ts), and marks what the reader has seen as read.
import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent as ReactDragEvent } from "react";
import { useNavigate } from "react-router-dom";

import type { Me } from "../../lib/api";
import { authorName, typingLine } from "../../lib/chatView";
import { removedMessage } from "../../lib/errors";
import { useMessages, useRoomState, type RoomSession } from "../../lib/rooms";
import { useConnection } from "../../lib/socket";
import { useStickyScroll } from "../../lib/useStickyScroll";
import { blockMember, unblockMember, useBlocks } from "../../lib/blocks";
import { pinnedSeqs, replyCounts as countReplies } from "../../lib/threads";
import { ApiError } from "../../lib/api";
import { uploadQueueFor, type Attachment } from "../../lib/media";
import { LightboxProvider } from "../media/Lightbox";
import { Drawer } from "../shell/Drawer";
import { WIDER, useMediaQuery } from "../shell/useMediaQuery";
import { PinsPanel } from "./PinsPanel";
import { ReportDialog } from "./ReportDialog";
import { ThreadPanel } from "./ThreadPanel";
import type { ChatMessage } from "../../store/messages";
import { AlertText, Button, ErrorAlert, StatusText } from "../ui";
import { Composer } from "./Composer";
import { THUMBS_UP, type MessageActions } from "./MessageItem";
import { MemberNames } from "./Reactions";
import { MessageList } from "./MessageList";
import { RoomMenu } from "./RoomMenu";

/** How long the message a notification led to stays marked. */
const HIGHLIGHT_MS = 6000;

/** A message to show: a notification's `seq`, and `key` to tell two clicks on it apart. */
export interface RoomTarget {
  seq: number;
  key: string;
}

interface Props {
  session: RoomSession;
  roomName: string;
  me: Me;
  /** Owners and moderators may delete anyone's messages. */
  canModerate: boolean;
  /** user_id -> display name (the club's members), for typing and mentions. */
  names: ReadonlyMap<number, string>;
  /** The message to bring into view and mark (a notification's), if any. */
  target?: RoomTarget | null;
  /** A club's room ("#name") or a direct conversation (the people's names). */
  kind?: "room" | "dm";
  /** May pin and unpin (a club's moderators; any member of a DM). */
  canPin?: boolean;
}

function RoomTitle({ name, dm = false }: { name: string; dm?: boolean }) {
  return (
    <h2 id="room-title" className="min-w-0 truncate text-lg font-semibold">
      {!dm && (
        <span aria-hidden="true" className="text-slate-500">
          #
        </span>
      )}
      {name}
    </h2>
  );
}

export function ChatRoom({ session, roomName, me, canModerate, names, target = null, kind = "room", canPin }: Props) {
  const dm = kind === "dm";
  const mayPin = canPin ?? canModerate;
  const navigate = useNavigate();
  const wider = useMediaQuery(WIDER);
  const blocks = useBlocks();
  const [thread, setThread] = useState<number | null>(null);
  const [reporting, setReporting] = useState<ChatMessage | null>(null);
  const [pinsOpen, setPinsOpen] = useState(false);
  const [note, setNote] = useState<string | null>(null);
  const snap = useMessages(session);
  const state = useRoomState(session);
  const connection = useConnection();
  const [replyTo, setReplyTo] = useState<number | null>(null);
  const [editing, setEditing] = useState<number | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [highlight, setHighlight] = useState<RoomTarget | null>(null);
  /** The key of the highlight once its message is in view (the few seconds count from then). */
  const [highlightShown, setHighlightShown] = useState<string | null>(null);
  const [targetMissing, setTargetMissing] = useState(false);
  const composerRef = useRef<HTMLTextAreaElement>(null);

  // Another room: no reply, edit or error of the last one stays (adjusted while rendering).
  const [shownSession, setShownSession] = useState(session);
  if (shownSession !== session) {
    setShownSession(session);
    setReplyTo(null);
    setEditing(null);
    setActionError(null);
    setHighlight(null);
    setTargetMissing(false);
    setThread(null);
    setReporting(null);
    setPinsOpen(false);
    setNote(null);
  }

  // A notification's message: loaded (older pages when it is before what is held), then marked for a
  // few seconds; MessageList scrolls to it and focuses it. Once per target, when the room is joined.
  const handledTarget = useRef<string | null>(null);
  useEffect(() => {
    if (!target || !state.joined || handledTarget.current === target.key) return;
    handledTarget.current = target.key;
    let live = true;
    void session.reveal(target.seq).then((found) => {
      if (!live) return;
      setTargetMissing(!found);
      const root = found ? session.store.get(target.seq)?.thread_root_seq : null;
      // A thread's reply: its thread opens, its root is marked in the room.
      if (root) {
        setThread(root);
        void session.reveal(root).then((ok) => {
          if (live && ok) setHighlight({ seq: root, key: target.key });
        });
      } else if (found) setHighlight(target);
    });
    return () => {
      live = false;
      if (handledTarget.current === target.key) handledTarget.current = null;
    };
  }, [target, state.joined, session]);
  useEffect(() => {
    if (!highlight || highlightShown !== highlight.key) return;
    const t = setTimeout(() => setHighlight(null), HIGHLIGHT_MS);
    return () => clearTimeout(t);
  }, [highlight, highlightShown]);

  const bySeq = useMemo(() => new Map(snap.messages.map((m) => [m.seq, m])), [snap.messages]);
  const pinned = useMemo(() => pinnedSeqs(state.pins, snap.messages), [state.pins, snap.messages]);
  const replies = useMemo(() => countReplies(snap.messages), [snap.messages]);

  // A send the server refused (auto-moderation names its rule; a timeout, slow mode): said at the composer
  // too, not only at the failed message (adjusted while rendering, once per message).
  const refused = snap.pending.find((p) => p.status === "failed" && p.error instanceof ApiError && p.error.code === "forbidden");
  const [shownRefusal, setShownRefusal] = useState<string | null>(null);
  if (refused && refused.client_id !== shownRefusal) {
    setShownRefusal(refused.client_id);
    setActionError(refused.error);
  }
  const nameList = useMemo(() => {
    const all = new Set(names.values());
    for (const m of snap.messages) all.add(m.author.display_name);
    return [...all];
  }, [names, snap.messages]);

  const latestSeq = snap.messages.length ? snap.messages[snap.messages.length - 1].seq : 0;
  const scroll = useStickyScroll<HTMLDivElement>({ resetKey: session, content: snap, latest: latestSeq });
  const { atBottom, stick } = scroll;

  const markRead = useCallback(() => {
    if (latestSeq > 0 && atBottom() && document.visibilityState === "visible" && state.joined) {
      session.markRead(latestSeq);
    }
  }, [latestSeq, session, state.joined, atBottom]);

  useEffect(() => {
    markRead();
    document.addEventListener("visibilitychange", markRead);
    return () => document.removeEventListener("visibilitychange", markRead);
  }, [markRead]);

  // The room's attachments on their way (kept across room switches, like the draft).
  const uploads = useMemo(() => uploadQueueFor(`room:${session.roomId}`), [session.roomId]);
  // Files dragged over the room: dropped anywhere on it, they are attached.
  const [dragging, setDragging] = useState(false);
  const dragDepth = useRef(0);
  const hasFiles = (e: ReactDragEvent) => [...e.dataTransfer.types].includes("Files");
  const dropProps = {
    onDragEnter: (e: ReactDragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      dragDepth.current += 1;
      setDragging(true);
    },
    onDragOver: (e: ReactDragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
    },
    onDragLeave: (e: ReactDragEvent) => {
      if (!hasFiles(e)) return;
      dragDepth.current = Math.max(0, dragDepth.current - 1);
      if (dragDepth.current === 0) setDragging(false);
    },
    onDrop: (e: ReactDragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      dragDepth.current = 0;
      setDragging(false);
      const files = [...e.dataTransfer.files];
      if (files.length) uploads.add(files);
      composerRef.current?.focus();
    },
  };

  const onSend = useCallback(
    (body: string, attachments?: Attachment[]) => {
      setActionError(null);
      session.send(body, { id: me.id, display_name: me.display_name }, replyTo, undefined, attachments);
      setReplyTo(null);
      stick();
      composerRef.current?.focus();
    },
    [session, me.id, me.display_name, replyTo, stick],
  );

  const onReply = useCallback((seq: number) => {
    setReplyTo(seq);
    composerRef.current?.focus();
  }, []);

  const onReact = useCallback(
    (m: ChatMessage, add: boolean, emoji?: string) => {
      setActionError(null);
      session.react(m.seq, emoji ?? THUMBS_UP, add).catch(setActionError);
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

  const onPin = useCallback(
    (seq: number, pin: boolean) => {
      setActionError(null);
      session.pin(seq, pin).then(() => setNote(pin ? "Message pinned." : "Message unpinned."), setActionError);
    },
    [session],
  );

  const onBlock = useCallback((author: ChatMessage["author"], block: boolean) => {
    setActionError(null);
    (block ? blockMember(author.id, author.display_name) : unblockMember(author.id)).then(
      () => setNote(block ? `You blocked ${author.display_name}. Their messages are hidden.` : `You unblocked ${author.display_name}.`),
      setActionError,
    );
  }, []);

  const actions = useMemo<MessageActions>(
    () => ({
      onReply,
      onReact,
      onEdit: setEditing,
      onSaveEdit,
      onDelete,
      onThread: setThread,
      onPin: mayPin ? onPin : undefined,
      onReport: setReporting,
      onBlock,
    }),
    [onReply, onReact, onSaveEdit, onDelete, mayPin, onPin, onBlock],
  );
  const onRetry = useCallback((id: string) => session.retry(id), [session]);
  const onDiscard = useCallback((id: string) => session.store.discard(id), [session]);

  const typingNames = [...state.typing.keys()]
    .filter((id) => id !== me.id)
    .map((id) => names.get(id) ?? authorName(snap.messages, id) ?? "Someone");

  // Out of the club (`room:removed`): no messages, no composer, no action; only why.
  if (state.removed) {
    return (
      <section aria-labelledby="room-title" className="flex h-full min-h-0 min-w-0 flex-col">
        <header className="min-w-0 border-b border-slate-200 px-4 py-2">
          <RoomTitle name={roomName} dm={dm} />
        </header>
        <AlertText className="m-3">{removedMessage(state.removed)}</AlertText>
      </section>
    );
  }

  const threadPanel =
    thread !== null ? (
      <ThreadPanel
        key={`${session.roomId}:${thread}`}
        session={session}
        rootSeq={thread}
        me={me}
        canModerate={canModerate}
        nameList={nameList}
        actions={actions}
        pinned={pinned}
        blocked={blocks.ids}
        roomName={dm ? roomName : `#${roomName}`}
        onClose={() => setThread(null)}
      />
    ) : null;

  const dialogs = (
    <>
      <ReportDialog message={reporting} onClose={() => setReporting(null)} />
      <Drawer open={pinsOpen} onClose={() => setPinsOpen(false)} label="Pinned messages" id="room-pins" side="right" panelClassName={wider ? "w-96 max-w-[90vw]" : "w-full"}>
        <PinsPanel
          roomId={session.roomId}
          version={`${state.pinsRev}:${(state.pins ?? []).join(",")}`}
          canPin={mayPin}
          onOpen={(seq) => {
            setPinsOpen(false);
            void navigate({ search: `?seq=${seq}` });
          }}
          onUnpin={(seq) => session.pin(seq, false)}
        />
      </Drawer>
    </>
  );

  const room = (
    <section aria-labelledby="room-title" className="relative flex h-full min-h-0 min-w-0 flex-col" {...dropProps}>
      {dragging && (
        <div
          aria-hidden="true"
          className="pointer-events-none absolute inset-2 z-30 flex items-center justify-center rounded-lg border-2 border-dashed border-indigo-500 bg-indigo-50/90 text-lg font-medium text-indigo-900 dark:bg-indigo-950/90 dark:text-indigo-100"
        >
          Drop images or videos to attach them
        </div>
      )}
      <header className="flex min-w-0 shrink-0 items-center justify-between gap-2 border-b border-slate-200 px-4 py-2">
        <RoomTitle name={roomName} dm={dm} />
        <div className="flex shrink-0 items-center gap-2">
          {!state.joined && connection === "connected" && !state.joinError && (
            <span className="shrink-0 text-sm text-slate-600">Joining…</span>
          )}
          <Button
            small
            variant="secondary"
            aria-haspopup="dialog"
            aria-expanded={pinsOpen}
            onClick={() => setPinsOpen(true)}
          >
            Pinned{pinned.size > 0 ? ` (${pinned.size})` : ""}
          </Button>
          <RoomMenu roomId={session.roomId} roomName={roomName} />
        </div>
      </header>
      {note && (
        <div className="mx-3 mt-2 flex items-center justify-between gap-2 rounded border border-green-300 bg-green-50 px-3 py-1">
          <StatusText>{note}</StatusText>
          <Button small variant="ghost" onClick={() => setNote(null)}>
            Dismiss
          </Button>
        </div>
      )}
      {targetMissing && (
        <p role="status" className="mx-3 mt-2 rounded border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900">
          The message you were notified of is no longer in this room.
        </p>
      )}

      {state.joinError != null && (
        <ErrorAlert error={state.joinError} className="m-3">
          <Button small variant="secondary" className="ml-2" onClick={() => void session.join()}>
            Try again
          </Button>
        </ErrorAlert>
      )}
      {state.historyError != null && <ErrorAlert error={state.historyError} className="mx-3 mt-2" />}

      <MemberNames.Provider value={names}>
        <MessageList
          logRef={scroll.ref}
          onScroll={(e) => {
            if (scroll.onScroll(e)) markRead();
          }}
          snap={snap}
          state={state}
          bySeq={bySeq}
          me={me}
          canModerate={canModerate}
          nameList={nameList}
          editing={editing}
          actions={actions}
          onLoadOlder={() => {
            scroll.holdForOlder();
            void session.loadOlder();
          }}
          onRetry={onRetry}
          onDiscard={onDiscard}
          highlight={highlight}
          onHighlightShown={setHighlightShown}
          pinned={pinned}
          blocked={blocks.ids}
          replyCounts={replies}
        />
      </MemberNames.Provider>

      <div className="relative shrink-0">
        {scroll.newBelow && (
          <Button
            small
            className="absolute -top-9 left-1/2 -translate-x-1/2 shadow"
            onClick={() => {
              scroll.jumpToLatest();
              markRead();
            }}
          >
            Jump to latest messages
          </Button>
        )}
        <p className="h-5 truncate px-4 text-xs italic text-slate-600" aria-live="polite">
          {typingLine(typingNames)}
        </p>
      </div>

      <Composer
        roomId={session.roomId}
        inputRef={composerRef}
        roomName={roomName}
        replyTo={replyTo}
        replyParent={replyTo ? bySeq.get(replyTo) : undefined}
        onCancelReply={() => setReplyTo(null)}
        actionError={actionError}
        onDismissError={() => setActionError(null)}
        onError={setActionError}
        onSend={onSend}
        onTyping={() => session.typing()}
        uploads={uploads}
        placeholder={dm ? `Message ${roomName} (Enter sends, Shift+Enter for a new line)` : undefined}
      />
    </section>
  );

  // From lg the thread sits beside the room; narrower it takes the room's place (the room stays mounted,
  // hidden, so its log and scroll are as they were when the thread closes). One tree either way.
  const beside = threadPanel !== null && wider;
  return (
    <LightboxProvider>
      <div
        className={
          beside
            ? "grid h-full min-h-0 min-w-0 grid-cols-[minmax(0,1fr)_22rem] grid-rows-[minmax(0,1fr)]"
            : "flex h-full min-h-0 min-w-0 flex-col"
        }
      >
        <div className={threadPanel && !wider ? "hidden" : "flex h-full min-h-0 min-w-0 flex-col"}>{room}</div>
        {threadPanel ? (
          <div className={`flex h-full min-h-0 min-w-0 flex-col ${beside ? "border-l border-slate-200" : ""}`}>{threadPanel}</div>
        ) : null}
      </div>
      {dialogs}
    </LightboxProvider>
  );
}
