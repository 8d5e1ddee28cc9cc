// The live session screen's state and protocol, apart from its look (the components under
// components/live/ only render a `LiveView` and call its actions).
//
// `liveReducer` (pure, unit-tested) holds what the screen shows: the session's state as `live:join` and
// `live:update` deliver it (through `LiveSync`, lib/live.ts), the event, its summary, the last refused
// action, and whether this member was taken out of the club. `useLiveSession` runs the protocol: join,
// apply updates, join again after a gap or a reconnect, retry a session that has not started, fetch the
// summary of one that has ended, and send the `live:*` actions. With moderated Q&A it also keeps the review
// queue: no `live:update` carries a pending question's text, so the host (and an author, for its own) asks
// `live:pending` when the updates say the queue grew.
import { useCallback, useEffect, useReducer, useRef } from "react";

import { ApiError, api, type Me, type User } from "./api";
import { errorMessage, liveErrorMessage } from "./errors";
import { fetchEvent, type ClubEvent, type LiveEnd } from "./events";
import {
  LiveSync,
  NameCache,
  openQuestionsOf,
  pendingNews,
  roleOf,
  userIdsOf,
  type LivePendingQuestion,
  type LiveState,
  type LiveSummary,
} from "./live";
import { call, useSocket } from "./socket";

/** A refused action and the sentence that explains it. */
export interface ActError {
  error: unknown;
  message: string;
}

export interface LiveModel {
  /** The session as joined and updated; null before the join ack (or after `live:removed`). */
  state: LiveState | null;
  event: ClubEvent | null;
  /** The summary of an ended session, once known. */
  summary: LiveSummary | null;
  /** Why the last `live:join` failed (null when it did not). */
  joinError: unknown;
  /** The last refused action. */
  error: ActError | null;
  /** Set by `live:removed` (its reason): nothing of the session stays on screen. */
  removed: string | null;
  /** Polls this member voted in, questions this member upvoted, questions this member asked. */
  voted: ReadonlySet<number>;
  upvoted: ReadonlySet<number>;
  asked: ReadonlySet<number>;
  /** The review queue this member may read: every pending question for the host, its own for a member. */
  pending: LivePendingQuestion[];
  /** Questions that left the queue (approved, dismissed): a queue fetched before that cannot bring them back. */
  resolved: ReadonlySet<number>;
  /** Display names by user id, as far as they are known. */
  names: ReadonlyMap<number, string>;
  /** Why this session has no audio (no media server), from the join ack; null when it has. */
  audioUnavailable: string | null;
}

export type LiveAction =
  | { type: "event"; event: ClubEvent }
  | { type: "joined"; state: LiveState; audioUnavailable?: string | null }
  | { type: "updated"; state: LiveState }
  | { type: "joinFailed"; error: unknown }
  | { type: "removed"; reason: string }
  | { type: "actStarted" }
  | { type: "actFailed"; error: ActError }
  | { type: "voted"; pollId: number }
  | { type: "upvoted"; questionId: number }
  | { type: "asked"; questionId: number }
  | { type: "pending"; questions: LivePendingQuestion[] }
  | { type: "pendingResolved"; ids: number[] }
  | { type: "summary"; summary: LiveSummary }
  | { type: "ended"; summary: LiveSummary }
  | { type: "names"; names: ReadonlyMap<number, string> };

export const initialLive: LiveModel = {
  state: null,
  event: null,
  summary: null,
  joinError: null,
  error: null,
  removed: null,
  voted: new Set(),
  upvoted: new Set(),
  asked: new Set(),
  pending: [],
  resolved: new Set(),
  names: new Map(),
  audioUnavailable: null,
};

export function liveReducer(model: LiveModel, action: LiveAction): LiveModel {
  switch (action.type) {
    case "event":
      return { ...model, event: action.event };
    case "joined":
      return { ...model, state: action.state, joinError: null, audioUnavailable: action.audioUnavailable ?? null };
    case "updated":
      return { ...model, state: action.state };
    case "joinFailed":
      return { ...model, joinError: action.error };
    case "removed":
      return { ...model, state: null, joinError: null, error: null, removed: action.reason };
    case "actStarted":
      return model.error === null ? model : { ...model, error: null };
    case "actFailed":
      return { ...model, error: action.error };
    case "voted":
      return { ...model, voted: new Set(model.voted).add(action.pollId) };
    case "upvoted":
      return { ...model, upvoted: new Set(model.upvoted).add(action.questionId) };
    case "asked":
      return { ...model, asked: new Set(model.asked).add(action.questionId) };
    case "pending":
      return { ...model, pending: action.questions.filter((q) => !model.resolved.has(q.question_id)) };
    case "pendingResolved": {
      const resolved = new Set(model.resolved);
      for (const id of action.ids) resolved.add(id);
      return { ...model, resolved, pending: model.pending.filter((q) => !resolved.has(q.question_id)) };
    }
    case "summary":
      return { ...model, summary: action.summary };
    case "ended":
      // The host ended it here: the summary comes with the answer.
      return { ...model, summary: action.summary, state: model.state ? { ...model.state, status: "ended" } : null };
    case "names":
      return { ...model, names: action.names };
    default:
      return model;
  }
}

/** What the screen shows: taken out, the summary of an ended session, waiting to join, or the session. */
export type LivePhase =
  | { kind: "removed"; reason: string }
  | { kind: "ended"; summary: LiveSummary | null }
  | { kind: "waiting"; joinError: unknown; notStarted: boolean }
  | { kind: "live"; state: LiveState; role: "host" | "speaker" | "audience"; handRaised: boolean };

export function livePhase(model: LiveModel, me: number | null): LivePhase {
  if (model.removed !== null) return { kind: "removed", reason: model.removed };
  const ended = model.state?.status === "ended";
  const finalSummary = model.summary ?? (model.event?.status === "ended" ? model.event.summary : null);
  if (ended || (!model.state && finalSummary)) return { kind: "ended", summary: finalSummary };
  if (!model.state) {
    const notStarted = model.joinError instanceof ApiError && model.joinError.code === "not_found";
    return { kind: "waiting", joinError: model.joinError, notStarted };
  }
  return {
    kind: "live",
    state: model.state,
    role: roleOf(model.state, me),
    handRaised: me != null && model.state.hands.includes(me),
  };
}

/** Display names of users, shared by every visit of the screen. */
export const liveNames = new NameCache((id) => api<User>("GET", `/users/${id}`).then((u) => u.display_name));

/** One `live:*` call with the event's id; resolves with its ack, or null once its error is shown. */
export type Act = <T>(name: string, payload: Record<string, unknown>) => Promise<T | null>;

export interface LiveSessionView {
  model: LiveModel;
  phase: LivePhase;
  /** Whether the socket exists yet (logged in, opened). */
  connecting: boolean;
  nameOf: (userId: number) => string;
  act: Act;
  voted: (pollId: number) => void;
  upvoted: (questionId: number) => void;
  /** This member's question was accepted (its ack); while Q&A is moderated it fetches its review queue. */
  asked: (questionId: number) => void;
  /** The host ends the session (`POST /events/{id}/live/end`); resolves with whether it did. */
  endSession: () => Promise<boolean>;
}

/** The live session of event `eventId` (a valid id; mount it again, with a key, for another event). */
export function useLiveSession(eventId: number, user: Me | null): LiveSessionView {
  const socket = useSocket();
  const [model, dispatch] = useReducer(liveReducer, initialLive);
  const mounted = useRef(true);
  const syncRef = useRef<LiveSync | null>(null);
  const me = user?.id ?? null;
  const modelRef = useRef(model); // what a refused action's message counts (asked, pending)
  useEffect(() => {
    modelRef.current = model;
  }, [model]);

  // The review queue, fetched again when the updates say it grew: one request at a time, and one more
  // after it when news came meanwhile (a burst of questions costs two requests, not one per question).
  const pendingFetch = useRef<{ busy: boolean; again: boolean }>({ busy: false, again: false });
  const refreshPending = useCallback(async () => {
    const f = pendingFetch.current;
    if (f.busy) {
      f.again = true;
      return;
    }
    f.busy = true;
    try {
      do {
        f.again = false;
        try {
          const res = await call<{ questions: LivePendingQuestion[] }>("live:pending", { event_id: eventId });
          if (mounted.current) dispatch({ type: "pending", questions: res.questions });
        } catch {
          // the next news (or join) asks again
        }
      } while (f.again && mounted.current);
    } finally {
      f.busy = false;
    }
  }, [eventId]);

  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  useEffect(() => {
    if (user) liveNames.set(user.id, user.display_name);
  }, [user]);

  // The event itself (title, and its summary once the session has ended).
  const loadEvent = useCallback(async (): Promise<ClubEvent | null> => {
    try {
      const ev = await fetchEvent(eventId);
      if (mounted.current) dispatch({ type: "event", event: ev });
      return ev;
    } catch {
      return null;
    }
  }, [eventId]);

  useEffect(() => {
    void loadEvent();
  }, [loadEvent]);

  /** Waits for the summary the gateway stores right after the session ends. */
  const fetchSummary = useCallback(async () => {
    for (let attempt = 0; attempt < 6 && mounted.current; attempt++) {
      const ev = await loadEvent();
      if (ev?.summary) {
        if (mounted.current) dispatch({ type: "summary", summary: ev.summary });
        return;
      }
      await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
    }
  }, [loadEvent]);

  // Join the session (its ack carries the whole state), then apply each `live:update` to it; a gap in
  // the versions means a missed update: join again, the new ack replaces the state. Join again after
  // every reconnect too. A session that has not started yet is tried again every few seconds; one that
  // is over shows its summary. `live:removed` ends all of it.
  useEffect(() => {
    if (!socket) return;
    let active = true;
    let gone = false;
    let retry: ReturnType<typeof setTimeout> | null = null;
    const join = () => {
      if (!active || gone) return;
      if (retry !== null) clearTimeout(retry);
      retry = null;
      sync.joinSent();
      type JoinAck = { state: LiveState; pending?: LivePendingQuestion[]; audio?: unknown; audio_unavailable?: string };
      call<JoinAck>("live:join", { event_id: eventId }).then(
        (res) => {
          if (!active || gone) return;
          const audioUnavailable = res.audio ? null : (res.audio_unavailable ?? "This server has no audio.");
          dispatch({ type: "joined", state: sync.joined(res.state), audioUnavailable });
          dispatch({ type: "pending", questions: res.pending ?? [] });
        },
        (err: unknown) => {
          sync.joinFailed();
          if (!active || gone) return;
          dispatch({ type: "joinFailed", error: err });
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
      if (next) dispatch({ type: "updated", state: next });
      const news = pendingNews(u, eventId);
      if (news.resolved.length > 0) dispatch({ type: "pendingResolved", ids: news.resolved });
      if (news.fresh && me != null && sync.state?.host_id === me) void refreshPending();
    };
    const onRemoved = (r: { event_id?: unknown; reason?: unknown }) => {
      if (!active || r?.event_id !== eventId) return;
      gone = true;
      if (retry !== null) clearTimeout(retry);
      sync.set(null);
      dispatch({ type: "removed", reason: typeof r.reason === "string" ? r.reason : "removed" });
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
  }, [socket, eventId, loadEvent, fetchSummary, me, refreshPending]);

  const ended = model.state?.status === "ended";
  const haveSummary = model.summary !== null;
  useEffect(() => {
    if (ended && !haveSummary) void fetchSummary();
  }, [ended, haveSummary, fetchSummary]);

  // Names of everyone the state mentions.
  const state = model.state;
  useEffect(() => {
    if (!state) return;
    let active = true;
    void liveNames.load(userIdsOf(state)).then(() => {
      if (active) dispatch({ type: "names", names: liveNames.known() });
    });
    return () => {
      active = false;
    };
  }, [state]);

  // A refused action is shown in the words of the session's limits.
  const act = useCallback<Act>(
    async <T>(name: string, payload: Record<string, unknown>): Promise<T | null> => {
      dispatch({ type: "actStarted" });
      try {
        return await call<T>(name, { event_id: eventId, ...payload });
      } catch (err) {
        const current = syncRef.current?.state;
        const { asked, pending } = modelRef.current;
        const open = current ? openQuestionsOf(current, me, asked, pending) : 0;
        if (mounted.current) dispatch({ type: "actFailed", error: { error: err, message: liveErrorMessage(name, err, open) } });
        return null;
      }
    },
    [eventId, me],
  );

  const endSession = useCallback(async (): Promise<boolean> => {
    dispatch({ type: "actStarted" });
    try {
      const out = await api<LiveEnd>("POST", `/events/${eventId}/live/end`);
      const sync = syncRef.current;
      if (sync?.state) sync.set({ ...sync.state, status: "ended" });
      dispatch({ type: "ended", summary: out.summary });
      return true;
    } catch (err) {
      dispatch({ type: "actFailed", error: { error: err, message: errorMessage(err) } });
      return false;
    }
  }, [eventId]);

  const voted = useCallback((pollId: number) => dispatch({ type: "voted", pollId }), []);
  const upvoted = useCallback((questionId: number) => dispatch({ type: "upvoted", questionId }), []);
  const asked = useCallback(
    (questionId: number) => {
      dispatch({ type: "asked", questionId });
      // Moderated: it may be waiting for approval, seen by nobody else; show it to its author.
      if (syncRef.current?.state?.moderated) void refreshPending();
    },
    [refreshPending],
  );
  const names = model.names;
  const nameOf = useCallback((userId: number) => names.get(userId) ?? `User ${userId}`, [names]);

  return {
    model,
    phase: livePhase(model, me),
    connecting: !socket,
    nameOf,
    act,
    voted,
    upvoted,
    asked,
    endSession,
  };
}
