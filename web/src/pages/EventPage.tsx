import { useCallback, useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";

import { SummaryView } from "../components/live/Summary";
import { AlertText, BackLink, Badge, Button, ErrorAlert, LoadError, Loading, PageTitle, buttonClass } from "../components/ui";
import { api, type Club } from "../lib/api";
import { useAuth } from "../lib/auth";
import { canExportSummary } from "../lib/clubs";
import { saveBlob } from "../lib/download";
import { fetchEvent, fetchIcs, type ClubEvent, type LiveEnd, type MyRsvp } from "../lib/events";

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

export default function EventPage() {
  const { eventId } = useParams();
  const id = Number(eventId);
  if (!Number.isInteger(id) || id <= 0) {
    return (
      <div className="mx-auto max-w-3xl p-4">
        <AlertText>This event address is not valid.</AlertText>
      </div>
    );
  }
  // Another event: every piece of state starts afresh.
  return <EventView key={id} id={id} />;
}

function EventView({ id }: { id: number }) {
  const { user } = useAuth();
  const [event, setEvent] = useState<ClubEvent | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [clubRole, setClubRole] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const ev = await fetchEvent(id);
      setEvent(ev);
      setLoadError(null);
    } catch (err) {
      setLoadError(err);
    }
  }, [id]);

  useEffect(() => {
    let active = true;
    fetchEvent(id).then(
      (ev) => active && setEvent(ev),
      (err: unknown) => active && setLoadError(err),
    );
    return () => {
      active = false;
    };
  }, [id]);

  // Follow the event while the page is open (the host may start or end its live session meanwhile).
  const status = event?.status;
  useEffect(() => {
    if (status === undefined || status === "ended") return;
    const timer = setInterval(() => {
      if (typeof document !== "undefined" && document.visibilityState === "hidden") return;
      fetchEvent(id).then(
        (ev) => setEvent((cur) => (cur && cur.id === ev.id ? ev : cur)),
        () => undefined,
      );
    }, 10_000);
    return () => clearInterval(timer);
  }, [id, status]);

  // Whether the summary's CSV export is offered: the host knows from the event, a moderator from the club.
  const clubId = event?.club_id;
  const needRole = !!event?.summary && event.host_id !== user?.id;
  useEffect(() => {
    if (clubId === undefined || !needRole) return;
    let active = true;
    api<Club>("GET", `/clubs/${clubId}`).then(
      (club) => active && setClubRole(club.my_role ?? null),
      () => undefined,
    );
    return () => {
      active = false;
    };
  }, [clubId, needRole]);

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
      saveBlob(new Blob([blob], { type: "text/calendar" }), `event-${id}.ics`);
      setNotice("Calendar file downloaded.");
    });

  const startLive = () =>
    act(async () => {
      await api("POST", `/events/${id}/live/start`);
      await load();
    });

  const endLive = () =>
    act(async () => {
      const out = await api<LiveEnd>("POST", `/events/${id}/live/end`);
      setEvent((e) => (e ? { ...e, status: "ended", summary: out.summary } : e));
      await load();
    });

  if (!event) {
    return (
      <div className="mx-auto max-w-3xl p-4">
        {loadError != null ? (
          <LoadError error={loadError} retry={() => void load()} />
        ) : (
          <Loading label="Loading the event…" className="" />
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
        <BackLink to={`/clubs/${event.club_id}/events`}>All events of the club</BackLink>
        <PageTitle className="mt-1 flex flex-wrap items-center gap-3">
          <span>{event.title}</span>
          {live && (
            <Badge tone="live" className="text-sm">
              Live now
            </Badge>
          )}
          {ended && (
            <Badge tone="muted" className="text-sm">
              Ended
            </Badge>
          )}
        </PageTitle>
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
          {isHost && (
            <Badge tone="info" className="ml-2 text-sm">
              You host this event
            </Badge>
          )}
        </p>
      </div>

      <div className="flex flex-wrap items-center gap-3">
        {!ended &&
          (mine ? (
            <Button variant="secondary" onClick={() => void cancel()} disabled={busy}>
              Cancel RSVP
            </Button>
          ) : (
            <Button onClick={() => void rsvp()} disabled={busy}>
              RSVP
            </Button>
          ))}
        {mine && (
          <p role="status" className="rounded bg-green-50 px-3 py-1 font-medium text-green-800">
            {rsvpText(mine)}
          </p>
        )}
        <Button variant="secondary" onClick={() => void addToCalendar()} disabled={busy}>
          Add to calendar
        </Button>
      </div>

      {(isHost || live) && (
        <div className="flex flex-wrap items-center gap-3 rounded-lg border border-slate-200 bg-white p-4">
          {live && (
            <Link to={`/events/${event.id}/live`} className={buttonClass("critical")}>
              Join live session
            </Link>
          )}
          {isHost && !live && !ended && (
            <Button onClick={() => void startLive()} disabled={busy}>
              Start live session
            </Button>
          )}
          {isHost && live && (
            <Button variant="danger" className="border border-red-300" onClick={() => void endLive()} disabled={busy}>
              End live session
            </Button>
          )}
        </div>
      )}

      <ErrorAlert error={error} />
      {notice && <p className="text-sm text-slate-700">{notice}</p>}

      {event.summary && (
        <SummaryView summary={event.summary} exportEventId={canExportSummary(clubRole, isHost) ? event.id : undefined} />
      )}
    </div>
  );
}
