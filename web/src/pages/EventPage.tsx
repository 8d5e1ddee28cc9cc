import { useCallback, useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";

import { API_PREFIX, ApiError, api, getAccessToken, refreshAccessToken } from "../lib/api";
import { useAuth } from "../lib/auth";
import type { ClubEvent, MyRsvp } from "../lib/events";
import { errorMessage } from "../lib/errors";
import { formatDuration, pollResults, resultLabel, votesLabel, type LiveSummary } from "../lib/live";

function formatWhen(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: "full", timeStyle: "short" });
}

function rsvpText(rsvp: MyRsvp): string {
  if (rsvp.status === "going") return "Going";
  if (rsvp.status === "waitlisted") {
    return rsvp.waitlist_position ? `Waitlisted (position ${rsvp.waitlist_position})` : "Waitlisted";
  }
  return rsvp.status;
}

/** GET the `.ics` with the bearer token (a plain link cannot send it); one refresh and retry on a 401. */
async function fetchIcs(eventId: number): Promise<Blob> {
  const get = () => {
    const token = getAccessToken();
    return fetch(`${API_PREFIX}/events/${eventId}.ics`, {
      headers: token ? { Authorization: `Bearer ${token}`, Accept: "text/calendar" } : { Accept: "text/calendar" },
      credentials: "same-origin",
    });
  };
  let res: Response;
  try {
    res = await get();
    if (res.status === 401) {
      await refreshAccessToken();
      res = await get();
    }
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError(0, "network", "could not reach the server");
  }
  if (!res.ok) {
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      body = undefined;
    }
    throw ApiError.fromBody(res.status, body);
  }
  return res.blob();
}

export function SummaryView({ summary }: { summary: LiveSummary }) {
  return (
    <section aria-label="Session summary" className="rounded-lg border border-slate-200 bg-white p-4">
      <h2 className="text-lg font-semibold">Live session summary</h2>
      <dl className="mt-2 grid grid-cols-2 gap-x-4 gap-y-1 text-sm sm:grid-cols-3">
        <div>
          <dt className="text-slate-600">Attendance</dt>
          <dd className="font-medium">{summary.attendance ?? 0}</dd>
        </div>
        <div>
          <dt className="text-slate-600">Peak audience</dt>
          <dd className="font-medium">{summary.peak_audience ?? 0}</dd>
        </div>
        {summary.duration_s != null && (
          <div>
            <dt className="text-slate-600">Duration</dt>
            <dd className="font-medium">{formatDuration(summary.duration_s)}</dd>
          </div>
        )}
      </dl>
      {summary.questions && summary.questions.length > 0 && (
        <>
          <h3 className="mt-4 font-medium">Questions</h3>
          <ol className="mt-1 list-decimal space-y-1 pl-6 text-sm">
            {summary.questions.map((q, i) => (
              <li key={i}>
                {q.text} <span className="text-slate-600">— {votesLabel(q.votes)}{q.answered ? ", answered" : ""}</span>
              </li>
            ))}
          </ol>
        </>
      )}
      {summary.polls && summary.polls.length > 0 && (
        <>
          <h3 className="mt-4 font-medium">Polls</h3>
          <ul className="mt-1 space-y-3 text-sm">
            {summary.polls.map((p, i) => {
              const r = pollResults(p);
              return (
                <li key={i}>
                  <p className="font-medium">{p.question}</p>
                  <ul className="mt-1 space-y-1">
                    {r.options.map((o) => (
                      <li key={o.index} className="flex justify-between gap-4">
                        <span>{o.option}</span>
                        <span className="text-slate-700">{resultLabel(o)}</span>
                      </li>
                    ))}
                  </ul>
                </li>
              );
            })}
          </ul>
        </>
      )}
    </section>
  );
}

const buttonClass =
  "rounded px-4 py-2 font-medium focus:outline-none focus:ring-2 focus:ring-indigo-500 focus:ring-offset-2 disabled:opacity-50";

export default function EventPage() {
  const { eventId } = useParams();
  const id = Number(eventId);
  const { user } = useAuth();
  const [event, setEvent] = useState<ClubEvent | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const valid = Number.isInteger(id) && id > 0;

  const load = useCallback(async () => {
    try {
      const ev = await api<ClubEvent>("GET", `/events/${id}`);
      setEvent(ev);
      setLoadError(null);
    } catch (err) {
      setLoadError(err);
    }
  }, [id]);

  useEffect(() => {
    if (!valid) return;
    setEvent(null);
    setLoadError(null);
    setError(null);
    setNotice(null);
    void load();
  }, [valid, load]);

  // Follow the event while the page is open (the host may start or end its live session meanwhile).
  const status = event?.status;
  useEffect(() => {
    if (!valid || status === undefined || status === "ended") return;
    const timer = setInterval(() => {
      if (typeof document !== "undefined" && document.visibilityState === "hidden") return;
      api<ClubEvent>("GET", `/events/${id}`).then(
        (ev) => setEvent((cur) => (cur && cur.id === ev.id ? ev : cur)),
        () => undefined,
      );
    }, 10_000);
    return () => clearInterval(timer);
  }, [valid, id, status]);

  async function act(fn: () => Promise<void>) {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      await fn();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const rsvp = () =>
    act(async () => {
      const out = await api<MyRsvp>("POST", `/events/${id}/rsvp`);
      setEvent((e) => (e ? { ...e, my_rsvp: out } : e));
      await load();
    });

  const cancel = () =>
    act(async () => {
      await api("DELETE", `/events/${id}/rsvp`);
      setEvent((e) => (e ? { ...e, my_rsvp: null } : e));
      await load();
    });

  const addToCalendar = () =>
    act(async () => {
      const blob = await fetchIcs(id);
      const url = URL.createObjectURL(new Blob([blob], { type: "text/calendar" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = `event-${id}.ics`;
      a.rel = "noopener";
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setNotice("Calendar file downloaded.");
    });

  const startLive = () =>
    act(async () => {
      await api("POST", `/events/${id}/live/start`);
      await load();
    });

  const endLive = () =>
    act(async () => {
      const out = await api<{ event_id: number; summary: LiveSummary }>("POST", `/events/${id}/live/end`);
      setEvent((e) => (e ? { ...e, status: "ended", summary: out.summary } : e));
      await load();
    });

  if (!valid) {
    return (
      <div className="mx-auto max-w-3xl p-4">
        <p role="alert">This event address is not valid.</p>
      </div>
    );
  }

  if (!event) {
    return (
      <div className="mx-auto max-w-3xl p-4">
        {loadError != null ? (
          <div role="alert" className="rounded border border-red-300 bg-red-50 p-3 text-red-800">
            {errorMessage(loadError)}{" "}
            <button type="button" onClick={() => void load()} className="underline">
              Try again
            </button>
          </div>
        ) : (
          <p className="text-slate-600">Loading the event…</p>
        )}
      </div>
    );
  }

  const isHost = user != null && event.host_id === user.id;
  const live = event.status === "live";
  const ended = event.status === "ended";
  const mine = event.my_rsvp ?? null;

  return (
    <div className="mx-auto max-w-3xl space-y-6 p-4">
      <div>
        <Link to={`/clubs/${event.club_id}/events`} className="text-sm text-indigo-700 hover:underline">
          ← All events of the club
        </Link>
        <h1 className="mt-1 flex flex-wrap items-center gap-3 text-2xl font-semibold">
          <span>{event.title}</span>
          {live && <span className="rounded bg-red-600 px-2 py-0.5 text-sm font-semibold text-white">Live now</span>}
          {ended && <span className="rounded bg-slate-200 px-2 py-0.5 text-sm text-slate-700">Ended</span>}
        </h1>
        <p className="mt-1 text-slate-700">
          <time dateTime={event.starts_at}>{formatWhen(event.starts_at)}</time> –{" "}
          <time dateTime={event.ends_at}>{formatWhen(event.ends_at)}</time>
        </p>
        {event.description && <p className="mt-3 whitespace-pre-wrap text-slate-800">{event.description}</p>}
        <p className="mt-3 text-sm text-slate-700">
          {typeof event.going === "number" && (
            <>
              Attendees: {event.going}
              {event.capacity != null ? ` / ${event.capacity}` : ""}
              {event.waitlisted ? ` · on the waitlist: ${event.waitlisted}` : ""}
            </>
          )}
          {typeof event.going !== "number" && event.capacity != null && <>Capacity: {event.capacity}</>}
          {isHost && <span className="ml-2 rounded bg-indigo-100 px-2 py-0.5 text-indigo-800">You host this event</span>}
        </p>
      </div>

      <div className="flex flex-wrap items-center gap-3">
        {!ended &&
          (mine ? (
            <button type="button" onClick={cancel} disabled={busy} className={`${buttonClass} border border-slate-300 hover:bg-slate-100`}>
              Cancel RSVP
            </button>
          ) : (
            <button type="button" onClick={rsvp} disabled={busy} className={`${buttonClass} bg-indigo-600 text-white hover:bg-indigo-700`}>
              RSVP
            </button>
          ))}
        {mine && (
          <p role="status" className="rounded bg-green-50 px-3 py-1 font-medium text-green-800">
            {rsvpText(mine)}
          </p>
        )}
        <button type="button" onClick={addToCalendar} disabled={busy} className={`${buttonClass} border border-slate-300 hover:bg-slate-100`}>
          Add to calendar
        </button>
      </div>

      {(isHost || live) && (
        <div className="flex flex-wrap items-center gap-3 rounded-lg border border-slate-200 bg-white p-4">
          {live && (
            <Link
              to={`/events/${event.id}/live`}
              className={`${buttonClass} bg-red-600 text-white hover:bg-red-700`}
            >
              Join live session
            </Link>
          )}
          {isHost && !live && !ended && (
            <button type="button" onClick={startLive} disabled={busy} className={`${buttonClass} bg-indigo-600 text-white hover:bg-indigo-700`}>
              Start live session
            </button>
          )}
          {isHost && live && (
            <button type="button" onClick={endLive} disabled={busy} className={`${buttonClass} border border-red-300 text-red-700 hover:bg-red-50`}>
              End live session
            </button>
          )}
        </div>
      )}

      {error != null && (
        <p role="alert" className="rounded border border-red-300 bg-red-50 p-3 text-red-800">
          {errorMessage(error)}
        </p>
      )}
      {notice && <p className="text-sm text-slate-700">{notice}</p>}

      {event.summary && <SummaryView summary={event.summary} />}
    </div>
  );
}
