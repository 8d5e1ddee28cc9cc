import { useState, type FormEvent, type KeyboardEvent, type RefObject } from "react";

import { MAX_MESSAGE_CHARS, snippet } from "../../lib/chatView";
import type { ChatMessage } from "../../store/messages";
import { Button, ErrorAlert, inputClass } from "../ui";

/** The composer of a room: the last refused action, the message replied to, the text box and Send.
 * Enter sends, Shift+Enter starts a new line, Escape drops the reply. */
export function Composer({
  inputRef,
  roomName,
  replyTo,
  replyParent,
  onCancelReply,
  actionError,
  onDismissError,
  onError,
  onSend,
  onTyping,
}: {
  inputRef: RefObject<HTMLTextAreaElement | null>;
  roomName: string;
  /** The seq of the message replied to (null for none) and the message when it is loaded. */
  replyTo: number | null;
  replyParent: ChatMessage | undefined;
  onCancelReply: () => void;
  actionError: unknown;
  onDismissError: () => void;
  /** A message this side refuses to send (too long). */
  onError: (err: Error) => void;
  /** The trimmed text to send. */
  onSend: (text: string) => void;
  onTyping: () => void;
}) {
  const [text, setText] = useState("");

  function send(e?: FormEvent) {
    e?.preventDefault();
    const body = text.trim();
    if (!body) return;
    if (body.length > MAX_MESSAGE_CHARS) {
      onError(new Error(`A message holds at most ${MAX_MESSAGE_CHARS} characters (this one has ${body.length})`));
      return;
    }
    onSend(body);
    setText("");
  }

  function keys(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      send();
    } else if (e.key === "Escape" && replyTo) {
      onCancelReply();
    }
  }

  return (
    <div className="border-t border-slate-200 p-3">
      {actionError != null && (
        <ErrorAlert error={actionError} className="mb-2">
          <Button small variant="secondary" className="ml-2" onClick={onDismissError}>
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
          <Button small variant="ghost" onClick={onCancelReply}>
            Cancel reply
          </Button>
        </div>
      )}
      <form onSubmit={send} className="flex items-end gap-2">
        <textarea
          ref={inputRef}
          aria-label="Message"
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            if (e.target.value.trim()) onTyping();
          }}
          onKeyDown={keys}
          rows={2}
          placeholder={`Message #${roomName} (Enter sends, Shift+Enter for a new line)`}
          className={`${inputClass} resize-none`}
        />
        <Button type="submit">Send</Button>
      </form>
    </div>
  );
}
