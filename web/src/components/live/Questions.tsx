import { useId, useState, type FormEvent } from "react";

import {
  MAX_OPEN_QUESTIONS_PER_MEMBER,
  MAX_QUESTION_CHARS,
  charCount,
  openQuestionsOf,
  sortQuestions,
  votesLabel,
  type LivePendingQuestion,
  type LiveState,
} from "../../lib/live";
import type { Act } from "../../lib/liveSession";
import { Badge, Button, Panel, inputClass } from "../ui";

/** "501 / 500 — 1 character too many · your open questions: 1 of 5" under the question box. */
export function askCounter(length: number, myOpen: number): string {
  const over = length - MAX_QUESTION_CHARS;
  let text = `${length} / ${MAX_QUESTION_CHARS}`;
  if (over > 0) text += ` — ${over === 1 ? "1 character" : `${over} characters`} too many`;
  if (myOpen > 0) text += ` · your open questions: ${myOpen} of ${MAX_OPEN_QUESTIONS_PER_MEMBER}`;
  return text;
}

/** "asked by Ann", or "asked anonymously" (nobody is told who, the host neither). */
export function askedBy(authorId: number | null, nameOf: (userId: number) => string): string {
  return authorId == null ? "asked anonymously" : `asked by ${nameOf(authorId)}`;
}

/** The Q&A: ask (with its counter, anonymously if wished), upvote, and for the host mark answered; with
 * moderated Q&A the host's review queue (approve, dismiss) and a member's own questions awaiting it. */
export function Questions({
  state,
  me,
  isHost,
  nameOf,
  act,
  upvoted,
  onUpvoted,
  asked = new Set(),
  onAsked,
  pending = [],
}: {
  state: LiveState;
  me: number | null;
  isHost: boolean;
  nameOf: (userId: number) => string;
  act: Act;
  upvoted: ReadonlySet<number>;
  onUpvoted: (questionId: number) => void;
  asked?: ReadonlySet<number>;
  onAsked?: (questionId: number) => void;
  pending?: readonly LivePendingQuestion[];
}) {
  const id = useId();
  const [text, setText] = useState("");
  const [anonymous, setAnonymous] = useState(false);
  const [sending, setSending] = useState(false);
  const questions = sortQuestions(state.questions);
  const mineWaiting = pending.filter((q) => q.mine);
  const length = charCount(text.trim());
  const tooLong = length > MAX_QUESTION_CHARS;

  async function onAsk(e: FormEvent) {
    e.preventDefault();
    const t = text.trim();
    if (!t || tooLong) return;
    setSending(true);
    const ack = await act<{ question_id: number }>("live:ask", { text: t, anonymous });
    setSending(false);
    if (ack) {
      setText("");
      onAsked?.(ack.question_id);
    }
  }

  async function upvote(questionId: number) {
    const ack = await act("live:upvote", { question_id: questionId });
    if (ack) onUpvoted(questionId);
  }

  return (
    <Panel title="Questions" label="Q&A">
      <form onSubmit={(e) => void onAsk(e)} className="mt-2">
        <div className="flex gap-2">
          <input
            aria-label="Ask a question"
            aria-describedby="ask-count"
            aria-invalid={tooLong}
            placeholder="Ask a question"
            className={inputClass}
            value={text}
            onChange={(e) => setText(e.target.value)}
          />
          <Button type="submit" disabled={sending || tooLong || !text.trim()}>
            Ask
          </Button>
        </div>
        <p id="ask-count" className={`mt-1 text-xs ${tooLong ? "font-medium text-red-700" : "text-slate-600"}`}>
          {askCounter(length, openQuestionsOf(state, me, asked, pending))}
        </p>
        <div className="mt-2 flex items-center gap-2 text-sm">
          <input
            id={`${id}-anonymous`}
            type="checkbox"
            className="h-4 w-4"
            checked={anonymous}
            onChange={(e) => setAnonymous(e.target.checked)}
          />
          <label htmlFor={`${id}-anonymous`}>Ask anonymously</label>
        </div>
        {state.moderated && !isHost && (
          <p className="mt-2 text-sm text-slate-700">The host reviews questions before everyone sees them.</p>
        )}
      </form>
      {isHost && (state.moderated || state.pending_count > 0) && (
        <div className="mt-4">
          <h3 className="font-medium">Awaiting approval ({state.pending_count})</h3>
          {pending.length === 0 ? (
            <p className="mt-1 text-sm text-slate-600">No questions awaiting approval.</p>
          ) : (
            <ol aria-label="Questions awaiting approval" className="mt-2 space-y-2">
              {pending.map((q) => (
                <li key={q.question_id} className="rounded border border-amber-300 bg-amber-50 p-3">
                  <p className="whitespace-pre-wrap break-words">{q.text}</p>
                  <div className="mt-2 flex flex-wrap items-center gap-2 text-sm">
                    <span className="text-slate-700">{askedBy(q.author_id, nameOf)}</span>
                    <Button small aria-label={`Approve: ${q.text}`} onClick={() => void act("live:approve", { question_id: q.question_id })}>
                      Approve
                    </Button>
                    <Button
                      small
                      variant="secondary"
                      aria-label={`Dismiss: ${q.text}`}
                      onClick={() => void act("live:dismiss", { question_id: q.question_id })}
                    >
                      Dismiss
                    </Button>
                  </div>
                </li>
              ))}
            </ol>
          )}
        </div>
      )}
      {!isHost && mineWaiting.length > 0 && (
        <div className="mt-4">
          <h3 className="font-medium">Your questions awaiting approval</h3>
          <ul aria-label="Your questions awaiting approval" className="mt-2 space-y-2">
            {mineWaiting.map((q) => (
              <li key={q.question_id} className="rounded border border-slate-200 bg-slate-50 p-3 text-slate-700">
                <p className="whitespace-pre-wrap break-words">{q.text}</p>
                <Badge tone="warning" className="mt-2 inline-block">
                  Awaiting approval{q.anonymous ? " · anonymous" : ""}
                </Badge>
              </li>
            ))}
          </ul>
        </div>
      )}
      {questions.length === 0 ? (
        <p className="mt-3 text-sm text-slate-600">No questions yet.</p>
      ) : (
        <ol aria-label="Questions" className="mt-3 space-y-2">
          {questions.map((q) => (
            <li
              key={q.question_id}
              className={`rounded border p-3 ${q.answered ? "border-slate-200 bg-slate-50 text-slate-600" : "border-slate-200"}`}
            >
              <p className="whitespace-pre-wrap break-words">{q.text}</p>
              <div className="mt-2 flex flex-wrap items-center gap-2 text-sm">
                <span className="text-slate-600">{askedBy(q.author_id, nameOf)}</span>
                <span className="font-medium" aria-live="polite">
                  {votesLabel(q.votes)}
                </span>
                {q.answered && <Badge tone="success">Answered</Badge>}
                <Button
                  small
                  variant="secondary"
                  aria-label={`Upvote: ${q.text}`}
                  className={upvoted.has(q.question_id) ? "text-indigo-700" : ""}
                  onClick={() => void upvote(q.question_id)}
                >
                  ▲ Upvote
                </Button>
                {isHost && !q.answered && (
                  <Button small variant="secondary" onClick={() => void act("live:answer", { question_id: q.question_id })}>
                    Mark answered
                  </Button>
                )}
              </div>
            </li>
          ))}
        </ol>
      )}
    </Panel>
  );
}
