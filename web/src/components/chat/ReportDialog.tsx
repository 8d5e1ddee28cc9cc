// "Report message": a dialog asking why (`POST /reports {room_id, seq, reason}`); the club's moderators
// get it in their report queue with a snapshot of the message.
import { useState, type FormEvent } from "react";
import { messageSnippet } from "../../lib/chatView";
import { MAX_REASON_CHARS, reasonProblem, reportMessage } from "../../lib/moderation";
import type { ChatMessage } from "../../store/messages";
import { Dialog } from "../Dialog";
import { AlertText, Button, ErrorAlert, Field, StatusText, inputClass } from "../ui";

export function ReportDialog({ message, onClose }: { message: ChatMessage | null; onClose: () => void }) {
  const [reason, setReason] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);

  // Another message: the dialog starts afresh (adjusted while rendering).
  const [shown, setShown] = useState(message);
  if (shown !== message) {
    setShown(message);
    setReason("");
    setProblem(null);
    setError(null);
    setDone(false);
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!message) return;
    const why = reasonProblem(reason);
    setProblem(why);
    if (why) return;
    setBusy(true);
    setError(null);
    try {
      await reportMessage(message.room_id, message.seq, reason);
      setDone(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Dialog open={message !== null} onClose={onClose} title="Report message">
      {message && (
        <blockquote className="border-l-4 border-slate-300 pl-2 text-sm text-slate-700">
          <span className="font-medium">{message.author.display_name}</span>: {messageSnippet(message, 140)}
        </blockquote>
      )}
      {done ? (
        <>
          <StatusText>Thanks. The club's moderators will look at it.</StatusText>
          <div className="flex justify-end">
            <Button onClick={onClose}>Close</Button>
          </div>
        </>
      ) : (
        <form onSubmit={(e) => void submit(e)} className="space-y-3" noValidate>
          <Field label="Reason" id="report-reason" hint={`What is wrong with it (at most ${MAX_REASON_CHARS} characters). Only the moderators see it.`}>
            <textarea
              id="report-reason"
              value={reason}
              onChange={(e) => {
                setReason(e.target.value);
                setProblem(null);
              }}
              rows={3}
              maxLength={MAX_REASON_CHARS + 100}
              autoFocus
              className={inputClass}
            />
          </Field>
          {problem && <AlertText>{problem}</AlertText>}
          <ErrorAlert error={error} />
          <div className="flex justify-end gap-2">
            <Button variant="secondary" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" disabled={busy}>
              {busy ? "Sending…" : "Send report"}
            </Button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
