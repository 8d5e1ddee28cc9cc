import type { UIEvent, RefObject } from "react";

import type { Me } from "../../lib/api";
import type { RoomState } from "../../lib/rooms";
import type { ChatMessage, StoreSnapshot } from "../../store/messages";
import { Button } from "../ui";
import { MessageItem, PendingItem, type MessageActions } from "./MessageItem";

/** The log of a room: "Load older messages", the stored messages, then one's own not stored yet. */
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
}) {
  return (
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
          <Button small variant="secondary" onClick={onLoadOlder} disabled={state.loadingOlder || !state.joined}>
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
          onReply={actions.onReply}
          onReact={actions.onReact}
          onEdit={actions.onEdit}
          onSaveEdit={actions.onSaveEdit}
          onDelete={actions.onDelete}
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
  );
}
