import { useCallback, useEffect, useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent, type RefObject } from "react";
import { useParams } from "react-router-dom";

import { MAX_MESSAGE_CHARS, messageSnippet } from "../../lib/chatView";
import { clearDraft, loadDraft, saveDraft } from "../../lib/drafts";
import { acceptOf, type Attachment, type UploadQueue } from "../../lib/media";
import type { ChatMessage } from "../../store/messages";
import { Button, ErrorAlert, inputClass } from "../ui";
import { EmojiPicker } from "./EmojiPicker";
import { UploadTray, useUploads } from "../media/UploadTray";

/** How long typing pauses before the draft is written to localStorage (not on every keystroke). */
const DRAFT_SAVE_MS = 300;

/** The composer of a room: the last refused action, the message replied to, the text box, an emoji picker
 * and Send. Enter sends, Shift+Enter starts a new line, Escape drops the reply. The unsent text is the room's
 * draft: it stays with the room across room switches and reloads (lib/drafts.ts) until it is sent. */
export function Composer({
  inputRef,
  roomId,
  roomName,
  replyTo,
  replyParent,
  onCancelReply,
  actionError,
  onDismissError,
  onError,
  onSend,
  onTyping,
  draft,
  inputId = "composer",
  label = "Message",
  placeholder,
  uploads,
}: {
  inputRef: RefObject<HTMLTextAreaElement | null>;
  /** The room the draft belongs to (without it: the club and the room's name). */
  roomId?: number;
  roomName: string;
  /** The seq of the message replied to (null for none) and the message when it is loaded. */
  replyTo: number | null;
  replyParent: ChatMessage | undefined;
  onCancelReply: () => void;
  actionError: unknown;
  onDismissError: () => void;
  /** A message this side refuses to send (too long). */
  onError: (err: Error) => void;
  /** The trimmed text to send (maybe empty when it carries attachments), and its ready attachments. */
  onSend: (text: string, attachments?: Attachment[]) => void;
  onTyping: () => void;
  /** Where the draft is kept when not the room's own (a thread's). */
  draft?: string;
  /** The text box's id (one "composer" per page: the room's). */
  inputId?: string;
  /** The text box's accessible name. */
  label?: string;
  placeholder?: string;
  /** Where attached files go (without it: no attachments here). */
  uploads?: UploadQueue;
}) {
  const { clubId } = useParams();
  const draftKey = draft ?? roomId ?? `${clubId ?? ""}/${roomName}`;
  const [text, setText] = useState(() => loadDraft(draftKey));
  // Another room: its own draft (adjusted while rendering, so the old text never shows in the new room).
  const [shownKey, setShownKey] = useState(draftKey);
  if (shownKey !== draftKey) {
    setShownKey(draftKey);
    setText(loadDraft(draftKey));
  }

  // The draft not written yet, and the timer that writes it.
  const pending = useRef<{ key: string | number; text: string } | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  // Only refs inside, so one function for the component's life.
  const flush = useCallback(() => {
    clearTimeout(timer.current);
    if (pending.current) saveDraft(pending.current.key, pending.current.text);
    pending.current = null;
  }, []);
  // Leaving the room (or the page) writes what is pending at once.
  useEffect(() => flush, [draftKey, flush]);
  useEffect(() => {
    window.addEventListener("pagehide", flush);
    return () => window.removeEventListener("pagehide", flush);
  }, [flush]);

  function change(value: string) {
    setText(value);
    pending.current = { key: draftKey, text: value };
    clearTimeout(timer.current);
    timer.current = setTimeout(flush, DRAFT_SAVE_MS);
  }

  const files = useUploads(uploads);
  const fileInput = useRef<HTMLInputElement>(null);
  // Why Send did nothing (attachments still on their way).
  const [hold, setHold] = useState<string | null>(null);
  const busy = files.some((f) => f.status !== "ready" && f.status !== "failed" && f.status !== "canceled");
  if (hold && !busy) setHold(null);

  function send(e?: FormEvent) {
    e?.preventDefault();
    const body = text.trim();
    const ready = files.some((f) => f.status === "ready");
    if (!body && !ready && !busy) return;
    if (busy) {
      setHold("Your attachments are still uploading. Send once they are ready, or remove them.");
      return;
    }
    if (body.length > MAX_MESSAGE_CHARS) {
      onError(new Error(`A message holds at most ${MAX_MESSAGE_CHARS} characters (this one has ${body.length})`));
      return;
    }
    const attachments = uploads?.takeReady() ?? [];
    if (attachments.length) onSend(body, attachments);
    else onSend(body);
    setText("");
    clearTimeout(timer.current);
    pending.current = null;
    clearDraft(draftKey);
  }

  function keys(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      send();
    } else if (e.key === "Escape" && replyTo) {
      onCancelReply();
    }
  }

  // Where the caret goes after an emoji is inserted (applied once the new text is in the box).
  const caret = useRef<number | null>(null);
  useLayoutEffect(() => {
    const box = inputRef.current;
    if (caret.current === null || !box) return;
    box.focus();
    box.setSelectionRange(caret.current, caret.current);
    caret.current = null;
  }, [text, inputRef]);

  function insert(emoji: string) {
    const box = inputRef.current;
    const start = box?.selectionStart ?? text.length;
    const end = box?.selectionEnd ?? text.length;
    caret.current = start + emoji.length;
    change(text.slice(0, start) + emoji + text.slice(end));
  }

  return (
    <div className="min-w-0 shrink-0 border-t border-slate-200 p-3">
      {uploads && <UploadTray queue={uploads} />}
      {hold && (
        <p role="status" className="mb-2 text-sm text-amber-900 dark:text-amber-200">
          {hold}
        </p>
      )}
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
                <strong>{replyParent.author.display_name}</strong>: {messageSnippet(replyParent, 60)}
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
      <form onSubmit={send} className="flex min-w-0 items-end gap-2">
        <textarea
          ref={inputRef}
          id={inputId}
          aria-label={label}
          value={text}
          onChange={(e) => {
            change(e.target.value);
            if (e.target.value.trim()) onTyping();
          }}
          onKeyDown={keys}
          onPaste={(e) => {
            if (!uploads) return;
            const pasted = [...e.clipboardData.files];
            if (pasted.length === 0) return;
            // A pasted picture (a screenshot, a copied image): attached, not pasted as text.
            e.preventDefault();
            uploads.add(pasted);
          }}
          rows={2}
          placeholder={placeholder ?? `Message #${roomName} (Enter sends, Shift+Enter for a new line)`}
          className={`${inputClass} min-w-0 flex-1 resize-none`}
        />
        {uploads && (
          <>
            <input
              ref={fileInput}
              type="file"
              multiple
              accept={acceptOf()}
              aria-label="Attach files"
              tabIndex={-1}
              className="hidden"
              onChange={(e) => {
                const picked = [...(e.target.files ?? [])];
                e.target.value = "";
                if (picked.length) uploads.add(picked);
              }}
            />
            <button
              type="button"
              aria-label="Attach files"
              title="Attach images or videos (or drop them here, or paste)"
              onClick={() => fileInput.current?.click()}
              className="inline-flex h-9 w-9 shrink-0 items-center justify-center rounded border border-slate-300 bg-white text-lg hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500"
            >
              <span aria-hidden="true">📎</span>
            </button>
          </>
        )}
        <EmojiPicker
          label="Insert emoji"
          onPick={insert}
          className="inline-flex h-9 w-9 shrink-0 items-center justify-center rounded border border-slate-300 bg-white text-lg hover:bg-slate-100"
        >
          <span aria-hidden="true">🙂</span>
        </EmojiPicker>
        <Button type="submit" className="shrink-0">
          Send
        </Button>
      </form>
    </div>
  );
}
