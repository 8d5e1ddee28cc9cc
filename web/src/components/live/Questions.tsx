import { useState, type FormEvent } from "react";

import {
  MAX_OPEN_QUESTIONS_PER_MEMBER,
  MAX_QUESTION_CHARS,
  charCount,
  openQuestionsOf,
  sortQuestions,
  votesLabel,
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

/** The Q&A: ask (with its counter), upvote, and for the host mark answered. */
export function Questions({
  state,
  me,
  isHost,
  nameOf,
  act,
  upvoted,
  onUpvoted,
}: {
  state: LiveState;
  me: number | null;
  isHost: boolean;
  nameOf: (userId: number) => string;
  act: Act;
  upvoted: ReadonlySet<number>;
  onUpvoted: (questionId: number) => void;
}) {
  const [text, setText] = useState("");
  const [sending, setSending] = useState(false);
  const questions = sortQuestions(state.questions);
  const length = charCount(text.trim());
  const tooLong = length > MAX_QUESTION_CHARS;

  async function onAsk(e: FormEvent) {
    e.preventDefault();
    const t = text.trim();
    if (!t || tooLong) return;
    setSending(true);
    const ack = await act<{ question_id: number }>("live:ask", { text: t });
    setSending(false);
    if (ack) setText("");
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
          {askCounter(length, openQuestionsOf(state, me))}
        </p>
      </form>
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
                <span className="text-slate-600">asked by {nameOf(q.author_id)}</span>
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
