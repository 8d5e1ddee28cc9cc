import { useCallback, useEffect, useReducer, useRef, useState, type FormEvent } from "react";
import { Link, useParams } from "react-router-dom";

import { ApiError, api } from "../lib/api";
import { useAuth } from "../lib/auth";
import { errorMessage, liveErrorMessage, removedMessage } from "../lib/errors";
import {
  LiveSync,
  MAX_OPEN_QUESTIONS_PER_MEMBER,
  MAX_QUESTION_CHARS,
  NameCache,
  charCount,
  cleanPollOptions,
  openQuestionsOf,
  pollResults,
  resultLabel,
  roleOf,
  sortQuestions,
  userIdsOf,
  votesLabel,
  type LivePoll,
  type LiveState,
  type LiveSummary,
} from "../lib/live";
import { call, useSocket } from "../lib/socket";
import { SummaryView } from "./EventPage";

interface EventInfo {
  id: number;
  club_id: number;
  host_id: number;
  title: string;
  status: string;
  summary: LiveSummary | null;
}

/** Display names of users, shared by every visit of the page. */
const names = new NameCache((id) => api<{ display_name: string }>("GET", `/users/${id}`).then((u) => u.display_name));

const MAX_OPTIONS = 10;

const btn =
  "rounded px-3 py-1.5 text-sm font-medium focus:outline-none focus:ring-2 focus:ring-indigo-500 focus:ring-offset-1 disabled:opacity-50";
const btnPrimary = `${btn} bg-indigo-600 text-white hover:bg-indigo-700`;
const btnSecondary = `${btn} border border-slate-300 bg-white hover:bg-slate-100`;
const input =
  "w-full rounded border border-slate-300 px-3 py-2 focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500";

function Alert({ error, message }: { error: unknown; message?: string }) {
  return (
    <p role="alert" className="rounded border border-red-300 bg-red-50 p-3 text-red-800">
      {message ?? errorMessage(error)}
    </p>
  );
}

/** A failed live action and the sentence that explains it. */
interface ActError {
  error: unknown;
  message: string;
}

export default function LivePage() {
  const { eventId } = useParams();
  const id = Number(eventId);
  const valid = Number.isInteger(id) && id > 0;
  const { user } = useAuth();
  const socket = useSocket();

  const [state, setState] = useState<LiveState | null>(null);
  const [joinError, setJoinError] = useState<unknown>(null);
  const [error, setError] = useState<ActError | null>(null);
  /** Set by `live:removed`: the member was taken out of the club (and so of this session). */
  const [removed, setRemoved] = useState<string | null>(null);
  const [event, setEvent] = useState<EventInfo | null>(null);
  const [summary, setSummary] = useState<LiveSummary | null>(null);
  const [voted, setVoted] = useState<Set<number>>(() => new Set());
  const [upvoted, setUpvoted] = useState<Set<number>>(() => new Set());
  const [, namesLoaded] = useReducer((n: number) => n + 1, 0);
  const mounted = useRef(true);

  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  if (user) names.set(user.id, user.display_name);

  // The event itself (title, and its summary once the session has ended).
  const loadEvent = useCallback(async (): Promise<EventInfo | null> => {
    try {
      const ev = await api<EventInfo>("GET", `/events/${id}`);
      if (mounted.current) setEvent(ev);
      return ev;
    } catch {
      return null;
    }
  }, [id]);

  useEffect(() => {
    if (!valid) return;
    setState(null);
    setEvent(null);
    setSummary(null);
    setJoinError(null);
    setError(null);
    setRemoved(null);
    setVoted(new Set());
    setUpvoted(new Set());
    void loadEvent();
  }, [valid, loadEvent]);

  /** Waits for the summary the gateway stores right after the session ends. */
  const fetchSummary = useCallback(async () => {
    for (let attempt = 0; attempt < 6 && mounted.current; attempt++) {
      const ev = await loadEvent();
      if (ev?.summary) {
        if (mounted.current) setSummary(ev.summary);
        return;
      }
      await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
    }
  }, [loadEvent]);

  // Join the session (its ack carries the whole state), then apply each `live:update` to it; a gap in
  // the versions means a missed update: join again, the new ack replaces the state. Join again after
  // every reconnect too. A session that has not started yet is tried again every few seconds; one that
  // is over shows its summary. `live:removed` ends all of it.
  const syncRef = useRef<LiveSync | null>(null);
  useEffect(() => {
    if (!socket || !valid) return;
    let active = true;
    let gone = false;
    let retry: ReturnType<typeof setTimeout> | null = null;
    const join = () => {
      if (!active || gone) return;
      if (retry !== null) clearTimeout(retry);
      retry = null;
      sync.joinSent();
      call<{ state: LiveState }>("live:join", { event_id: id }).then(
        (res) => {
          if (!active || gone) return;
          setState(sync.joined(res.state));
          setJoinError(null);
        },
        (err: unknown) => {
          sync.joinFailed();
          if (!active || gone) return;
          setJoinError(err);
          if (err instanceof ApiError && err.code === "not_found") {
            void loadEvent().then((ev) => {
              if (!active) return;
              if (ev?.status === "ended") void fetchSummary();
              else if (ev) retry = setTimeout(() => socket.connected && join(), 5000);
            });
          }
        },
      );
    };
    const sync = new LiveSync(join);
    syncRef.current = sync;
    const onUpdate = (u: unknown) => {
      if (!active || gone) return;
      const next = sync.update(u);
      if (next) setState(next);
    };
    const onRemoved = (r: { event_id?: unknown; reason?: unknown }) => {
      if (!active || r?.event_id !== id) return;
      gone = true;
      if (retry !== null) clearTimeout(retry);
      sync.set(null);
      setState(null);
      setJoinError(null);
      setError(null);
      setRemoved(typeof r.reason === "string" ? r.reason : "removed");
    };
    socket.on("live:update", onUpdate);
    socket.on("live:removed", onRemoved);
    socket.on("connect", join);
    if (socket.connected) join();
    return () => {
      active = false;
      if (retry !== null) clearTimeout(retry);
      if (syncRef.current === sync) syncRef.current = null;
      socket.off("live:update", onUpdate);
      socket.off("live:removed", onRemoved);
      socket.off("connect", join);
    };
  }, [socket, id, valid, loadEvent, fetchSummary]);

  const ended = state?.status === "ended";

  useEffect(() => {
    if (ended && !summary) void fetchSummary();
  }, [ended, summary, fetchSummary]);

  // Names of everyone the state mentions.
  useEffect(() => {
    if (!state) return;
    let active = true;
    void names.load(userIdsOf(state)).then(() => {
      if (active) namesLoaded();
    });
    return () => {
      active = false;
    };
  }, [state]);

  /** One `live:*` call; its error is shown in the words of the session's limits. Resolves with the ack,
   * or null after an error. */
  const me = user?.id ?? null;
  const act = useCallback(
    async <T,>(name: string, payload: Record<string, unknown>): Promise<T | null> => {
      setError(null);
      try {
        return await call<T>(name, { event_id: id, ...payload });
      } catch (err) {
        const current = syncRef.current?.state;
        const open = current ? openQuestionsOf(current, me) : 0;
        if (mounted.current) setError({ error: err, message: liveErrorMessage(name, err, open) });
        return null;
      }
    },
    [id, me],
  );

  if (!valid) {
    return (
      <div className="mx-auto max-w-4xl p-4">
        <p role="alert">This event address is not valid.</p>
      </div>
    );
  }

  const title = event?.title ?? "Live session";
  const header = (
    <div>
      <Link to={`/events/${id}`} className="text-sm text-indigo-700 hover:underline">
        ← Back to the event
      </Link>
      <h1 className="mt-1 flex flex-wrap items-center gap-3 text-2xl font-semibold">
        <span>{title}</span>
        {state && !ended && (
          <span className="rounded bg-red-600 px-2 py-0.5 text-sm font-semibold text-white">Live</span>
        )}
      </h1>
    </div>
  );

  // Taken out of the club: nothing of the session stays, and no action is offered.
  if (removed !== null) {
    return (
      <div className="mx-auto max-w-4xl space-y-4 p-4">
        {header}
        <p role="alert" className="rounded border border-red-300 bg-red-50 p-3 text-red-800">
          {removedMessage(removed)} You can no longer follow this live session.
        </p>
        <p>
          <Link to="/clubs" className="text-indigo-700 hover:underline">
            Go to the club directory
          </Link>
        </p>
      </div>
    );
  }

  // Ended (seen live, or ended before we came): the summary.
  const finalSummary = summary ?? (event?.status === "ended" ? event.summary : null);
  if (ended || (!state && finalSummary)) {
    return (
      <div className="mx-auto max-w-4xl space-y-4 p-4">
        {header}
        <p className="rounded bg-slate-100 p-3 font-medium">This live session has ended.</p>
        {finalSummary ? <SummaryView summary={finalSummary} /> : <p className="text-slate-600">Loading the summary…</p>}
      </div>
    );
  }

  if (!state) {
    return (
      <div className="mx-auto max-w-4xl space-y-4 p-4">
        {header}
        {joinError != null ? (
          <div className="space-y-2">
            <Alert error={joinError} />
            {joinError instanceof ApiError && joinError.code === "not_found" && (
              <p className="text-slate-700">The live session has not started yet, or is over.</p>
            )}
          </div>
        ) : (
          <p className="text-slate-600">{socket ? "Joining the live session…" : "Connecting…"}</p>
        )}
      </div>
    );
  }

  const role = roleOf(state, me);
  const isHost = role === "host";
  const handRaised = me != null && state.hands.includes(me);

  return (
    <div className="mx-auto max-w-4xl space-y-6 p-4">
      {header}

      {state.pinned && (
        <div role="note" className="rounded-lg border border-amber-300 bg-amber-50 p-3">
          <p className="text-xs font-semibold uppercase tracking-wide text-amber-800">Pinned</p>
          <p className="mt-1 whitespace-pre-wrap text-slate-900">{state.pinned}</p>
        </div>
      )}

      {error != null && <Alert error={error.error} message={error.message} />}

      <div className="grid gap-6 md:grid-cols-2">
        <div className="space-y-6">
          <section aria-label="Stage" className="rounded-lg border border-slate-200 bg-white p-4">
            <h2 className="text-lg font-semibold">Stage</h2>
            <ul className="mt-2 space-y-2">
              <li className="flex items-center gap-2">
                <span className="font-medium">{names.label(state.host_id)}</span>
                <span className="rounded bg-indigo-100 px-2 py-0.5 text-xs text-indigo-800">Host</span>
              </li>
              {state.speakers.map((uid) => {
                const name = names.label(uid);
                return (
                  <li key={uid} className="flex flex-wrap items-center gap-2">
                    <span className="font-medium">{name}</span>
                    <span className="rounded bg-emerald-100 px-2 py-0.5 text-xs text-emerald-800">Speaker</span>
                    {isHost && (
                      <button
                        type="button"
                        className={btnSecondary}
                        onClick={() => void act("live:promote", { user_id: uid, role: "audience" })}
                      >
                        Move {name} to audience
                      </button>
                    )}
                  </li>
                );
              })}
            </ul>
          </section>

          <div className="flex flex-wrap items-center gap-3">
            <p className="text-slate-700">{state.audience_count} in audience</p>
            {role === "audience" && (
              <button
                type="button"
                className={handRaised ? btnSecondary : btnPrimary}
                onClick={() => void act("live:hand", { raised: !handRaised })}
              >
                {handRaised ? "Lower hand" : "Raise hand"}
              </button>
            )}
            {role === "speaker" && <p className="text-sm text-emerald-800">You are a speaker.</p>}
          </div>

          {isHost && (
            <HostControls
              state={state}
              act={act}
              onEnded={(s) => {
                setSummary(s);
                setState((cur) => {
                  const next = cur ? { ...cur, status: "ended" } : cur;
                  syncRef.current?.set(next);
                  return next;
                });
              }}
              setError={(err) => setError(err == null ? null : { error: err, message: errorMessage(err) })}
              eventId={id}
            />
          )}
        </div>

        <div className="space-y-6">
          <Questions
            state={state}
            me={me}
            isHost={isHost}
            act={act}
            upvoted={upvoted}
            onUpvoted={(qid) => setUpvoted((s) => new Set(s).add(qid))}
          />
          <Polls
            polls={state.polls}
            isHost={isHost}
            act={act}
            voted={voted}
            onVoted={(pid) => setVoted((s) => new Set(s).add(pid))}
          />
        </div>
      </div>
    </div>
  );
}

type Act = <T>(name: string, payload: Record<string, unknown>) => Promise<T | null>;

function HostControls({
  state,
  act,
  onEnded,
  setError,
  eventId,
}: {
  state: LiveState;
  act: Act;
  onEnded: (summary: LiveSummary) => void;
  setError: (err: unknown) => void;
  eventId: number;
}) {
  const [pin, setPin] = useState("");
  const [question, setQuestion] = useState("");
  const [options, setOptions] = useState<string[]>(["", ""]);
  const [pollError, setPollError] = useState<string | null>(null);
  const [ending, setEnding] = useState(false);

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

  async function endSession() {
    setEnding(true);
    setError(null);
    try {
      const out = await api<{ event_id: number; summary: LiveSummary }>("POST", `/events/${eventId}/live/end`);
      onEnded(out.summary);
    } catch (err) {
      setError(err);
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
            const name = names.label(uid);
            return (
              <li key={uid} className="flex flex-wrap items-center gap-2">
                <span>{name}</span>
                <button
                  type="button"
                  className={btnPrimary}
                  onClick={() => void act("live:promote", { user_id: uid, role: "speaker" })}
                >
                  Promote {name}
                </button>
              </li>
            );
          })}
        </ul>
      </div>

      <form onSubmit={onPin} className="space-y-2">
        <label className="block">
          <span className="text-sm font-medium">Pinned message</span>
          <input className={`${input} mt-1`} value={pin} onChange={(e) => setPin(e.target.value)} maxLength={500} />
        </label>
        <div className="flex gap-2">
          <button type="submit" className={btnPrimary}>
            Pin
          </button>
          {state.pinned && (
            <button type="button" className={btnSecondary} onClick={() => void act("live:pin", { text: "" })}>
              Unpin
            </button>
          )}
        </div>
      </form>

      <form onSubmit={onPoll} className="space-y-2" noValidate>
        <h3 className="font-medium">New poll</h3>
        <label className="block">
          <span className="text-sm font-medium">Poll question</span>
          <input
            className={`${input} mt-1`}
            value={question}
            onChange={(e) => setQuestion(e.target.value)}
            maxLength={300}
          />
        </label>
        {options.map((opt, i) => (
          <label key={i} className="block">
            <span className="text-sm font-medium">Option {i + 1}</span>
            <input
              className={`${input} mt-1`}
              value={opt}
              maxLength={100}
              onChange={(e) => {
                const v = e.target.value;
                setOptions((cur) => cur.map((o, j) => (j === i ? v : o)));
              }}
            />
          </label>
        ))}
        <div className="flex flex-wrap gap-2">
          <button
            type="button"
            className={btnSecondary}
            disabled={options.length >= MAX_OPTIONS}
            onClick={() => setOptions((cur) => (cur.length < MAX_OPTIONS ? [...cur, ""] : cur))}
          >
            Add option
          </button>
          <button type="submit" className={btnPrimary}>
            Start poll
          </button>
        </div>
        {pollError && (
          <p role="alert" className="text-sm text-red-800">
            {pollError}
          </p>
        )}
      </form>

      <div className="border-t border-slate-200 pt-4">
        <button
          type="button"
          className={`${btn} bg-red-600 text-white hover:bg-red-700`}
          disabled={ending}
          onClick={() => void endSession()}
        >
          End session
        </button>
      </div>
    </section>
  );
}

function Questions({
  state,
  me,
  isHost,
  act,
  upvoted,
  onUpvoted,
}: {
  state: LiveState;
  me: number | null;
  isHost: boolean;
  act: Act;
  upvoted: Set<number>;
  onUpvoted: (questionId: number) => void;
}) {
  const [text, setText] = useState("");
  const [sending, setSending] = useState(false);
  const questions = sortQuestions(state.questions);
  const length = charCount(text.trim());
  const myOpen = openQuestionsOf(state, me);
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

  return (
    <section aria-label="Q&A" className="rounded-lg border border-slate-200 bg-white p-4">
      <h2 className="text-lg font-semibold">Questions</h2>
      <form onSubmit={onAsk} className="mt-2">
        <div className="flex gap-2">
          <input
            aria-label="Ask a question"
            aria-describedby="ask-count"
            aria-invalid={tooLong}
            placeholder="Ask a question"
            className={input}
            value={text}
            onChange={(e) => setText(e.target.value)}
          />
          <button type="submit" className={btnPrimary} disabled={sending || tooLong || !text.trim()}>
            Ask
          </button>
        </div>
        <p id="ask-count" className={`mt-1 text-xs ${tooLong ? "font-medium text-red-700" : "text-slate-600"}`}>
          {length} / {MAX_QUESTION_CHARS}
          {tooLong && ` — ${length - MAX_QUESTION_CHARS === 1 ? "1 character" : `${length - MAX_QUESTION_CHARS} characters`} too many`}
          {myOpen > 0 && ` · your open questions: ${myOpen} of ${MAX_OPEN_QUESTIONS_PER_MEMBER}`}
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
                <span className="text-slate-600">asked by {names.label(q.author_id)}</span>
                <span className="font-medium" aria-live="polite">
                  {votesLabel(q.votes)}
                </span>
                {q.answered && (
                  <span className="rounded bg-emerald-100 px-2 py-0.5 text-xs text-emerald-800">Answered</span>
                )}
                <button
                  type="button"
                  aria-label={`Upvote: ${q.text}`}
                  className={upvoted.has(q.question_id) ? `${btnSecondary} text-indigo-700` : btnSecondary}
                  onClick={async () => {
                    const ack = await act("live:upvote", { question_id: q.question_id });
                    if (ack) onUpvoted(q.question_id);
                  }}
                >
                  ▲ Upvote
                </button>
                {isHost && !q.answered && (
                  <button
                    type="button"
                    className={btnSecondary}
                    onClick={() => void act("live:answer", { question_id: q.question_id })}
                  >
                    Mark answered
                  </button>
                )}
              </div>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

function Polls({
  polls,
  isHost,
  act,
  voted,
  onVoted,
}: {
  polls: LivePoll[];
  isHost: boolean;
  act: Act;
  voted: Set<number>;
  onVoted: (pollId: number) => void;
}) {
  if (polls.length === 0) return null;
  // Newest first; open polls before closed ones.
  const ordered = [...polls].sort((a, b) => Number(a.closed) - Number(b.closed) || b.poll_id - a.poll_id);
  return (
    <section aria-label="Polls" className="rounded-lg border border-slate-200 bg-white p-4">
      <h2 className="text-lg font-semibold">Polls</h2>
      <ul className="mt-2 space-y-4">
        {ordered.map((poll) => {
          const results = pollResults(poll);
          const hasVoted = voted.has(poll.poll_id);
          return (
            <li key={poll.poll_id} className="rounded border border-slate-200 p-3">
              <div className="flex flex-wrap items-center justify-between gap-2">
                <h3 className="font-medium">{poll.question}</h3>
                {poll.closed ? (
                  <span className="rounded bg-slate-200 px-2 py-0.5 text-xs text-slate-700">Closed · final results</span>
                ) : (
                  isHost && (
                    <button
                      type="button"
                      className={btnSecondary}
                      onClick={() => void act("live:close_poll", { poll_id: poll.poll_id })}
                    >
                      Close poll
                    </button>
                  )
                )}
              </div>
              <ul className="mt-2 space-y-2">
                {results.options.map((r) => (
                  <li key={r.index}>
                    <div className="flex flex-wrap items-center justify-between gap-2 text-sm">
                      {poll.closed ? (
                        <span className="font-medium">{r.option}</span>
                      ) : (
                        <button
                          type="button"
                          className={btnSecondary}
                          disabled={hasVoted}
                          onClick={async () => {
                            const ack = await act("live:vote", { poll_id: poll.poll_id, option: r.index });
                            if (ack) onVoted(poll.poll_id);
                          }}
                        >
                          Vote {r.option}
                        </button>
                      )}
                      <span className="text-slate-700">{resultLabel(r)}</span>
                    </div>
                    <div
                      role="meter"
                      aria-label={r.option}
                      aria-valuemin={0}
                      aria-valuemax={100}
                      aria-valuenow={r.percent}
                      aria-valuetext={`${r.percent}%`}
                      className="mt-1 h-2 w-full overflow-hidden rounded bg-slate-200"
                    >
                      <div className="h-2 rounded bg-indigo-600 transition-all" style={{ width: `${r.percent}%` }} />
                    </div>
                  </li>
                ))}
              </ul>
              <p className="mt-2 text-xs text-slate-600">
                {votesLabel(results.total)} in total{hasVoted && !poll.closed ? " · your vote is in" : ""}
              </p>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
