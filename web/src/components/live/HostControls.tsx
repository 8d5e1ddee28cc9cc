import { useId, useState, type FormEvent } from "react";

import { cleanPollOptions, type LiveState } from "../../lib/live";
import type { Act } from "../../lib/liveSession";
import { Button, Field, inputClass } from "../ui";

const MAX_OPTIONS = 10;

/** The host's tools: raised hands to promote, moderated Q&A on or off, the pinned message, a new poll, the
 * end of the session. */
export function HostControls({
  state,
  nameOf,
  act,
  endSession,
}: {
  state: LiveState;
  nameOf: (userId: number) => string;
  act: Act;
  endSession: () => Promise<boolean>;
}) {
  const id = useId();
  const [pin, setPin] = useState("");
  const [question, setQuestion] = useState("");
  const [options, setOptions] = useState<string[]>(["", ""]);
  const [pollError, setPollError] = useState<string | null>(null);
  const [ending, setEnding] = useState(false);
  // The switch follows the click at once; the session's own state takes over when its update arrives (a
  // refusal puts it back).
  const [wantModerated, setWantModerated] = useState<boolean | null>(null);
  const [seenModerated, setSeenModerated] = useState(state.moderated);
  if (seenModerated !== state.moderated) {
    setSeenModerated(state.moderated);
    setWantModerated(null);
  }

  async function onModerate(enabled: boolean) {
    setWantModerated(enabled);
    if (!(await act("live:moderate", { enabled }))) setWantModerated(null);
  }

  async function onPin(e: FormEvent) {
    e.preventDefault();
    const ack = await act("live:pin", { text: pin.trim() });
    if (ack) setPin("");
  }

  async function onPoll(e: FormEvent) {
    e.preventDefault();
    setPollError(null);
    const q = question.trim();
    if (!q) return setPollError("The poll needs a question.");
    const cleaned = cleanPollOptions(options);
    if (cleaned.error) return setPollError(cleaned.error);
    const ack = await act<{ poll_id: number }>("live:poll", { question: q, options: cleaned.options });
    if (ack) {
      setQuestion("");
      setOptions(["", ""]);
    }
  }

  async function onEnd() {
    setEnding(true);
    try {
      await endSession();
    } finally {
      setEnding(false);
    }
  }

  return (
    <section aria-label="Host controls" className="space-y-5 rounded-lg border border-slate-200 bg-white p-4">
      <h2 className="text-lg font-semibold">Host controls</h2>

      <div>
        <h3 className="font-medium">Raised hands</h3>
        <ul aria-label="Raised hands" className="mt-2 space-y-2">
          {state.hands.length === 0 && <li className="text-sm text-slate-600">No raised hands.</li>}
          {state.hands.map((uid) => {
            const name = nameOf(uid);
            return (
              <li key={uid} className="flex flex-wrap items-center gap-2">
                <span>{name}</span>
                <Button small onClick={() => void act("live:promote", { user_id: uid, role: "speaker" })}>
                  Promote {name}
                </Button>
              </li>
            );
          })}
        </ul>
      </div>

      <div className="flex items-start gap-2">
        <input
          id={`${id}-moderated`}
          type="checkbox"
          className="mt-1 h-4 w-4"
          checked={wantModerated ?? state.moderated}
          aria-describedby={`${id}-moderated-hint`}
          onChange={(e) => void onModerate(e.target.checked)}
        />
        <div>
          <label htmlFor={`${id}-moderated`} className="font-medium">
            Moderate questions
          </label>
          <p id={`${id}-moderated-hint`} className="text-sm text-slate-600">
            New questions wait for your approval before everyone sees them.
          </p>
        </div>
      </div>

      <form onSubmit={(e) => void onPin(e)} className="space-y-2">
        <Field label="Pinned message" id={`${id}-pin`}>
          <input id={`${id}-pin`} className={inputClass} value={pin} onChange={(e) => setPin(e.target.value)} maxLength={500} />
        </Field>
        <div className="flex gap-2">
          <Button type="submit">Pin</Button>
          {state.pinned && (
            <Button variant="secondary" onClick={() => void act("live:pin", { text: "" })}>
              Unpin
            </Button>
          )}
        </div>
      </form>

      <form onSubmit={(e) => void onPoll(e)} className="space-y-2" noValidate>
        <h3 className="font-medium">New poll</h3>
        <Field label="Poll question" id={`${id}-question`}>
          <input
            id={`${id}-question`}
            className={inputClass}
            value={question}
            onChange={(e) => setQuestion(e.target.value)}
            maxLength={300}
          />
        </Field>
        {options.map((opt, i) => (
          <Field key={i} label={`Option ${i + 1}`} id={`${id}-option-${i}`}>
            <input
              id={`${id}-option-${i}`}
              className={inputClass}
              value={opt}
              maxLength={100}
              onChange={(e) => {
                const v = e.target.value;
                setOptions((cur) => cur.map((o, j) => (j === i ? v : o)));
              }}
            />
          </Field>
        ))}
        <div className="flex flex-wrap gap-2">
          <Button
            variant="secondary"
            disabled={options.length >= MAX_OPTIONS}
            onClick={() => setOptions((cur) => (cur.length < MAX_OPTIONS ? [...cur, ""] : cur))}
          >
            Add option
          </Button>
          <Button type="submit">Start poll</Button>
        </div>
        {pollError && (
          <p role="alert" className="text-sm text-red-800">
            {pollError}
          </p>
        )}
      </form>

      <div className="border-t border-slate-200 pt-4">
        <Button variant="critical" disabled={ending} onClick={() => void onEnd()}>
          End session
        </Button>
      </div>
    </section>
  );
}
