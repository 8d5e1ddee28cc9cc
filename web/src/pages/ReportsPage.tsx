// `/clubs/:clubId/reports`: the club's report queue (moderators). Tabs "Open" and "Resolved" (`GET
// /clubs/{id}/reports?status=`, page by page); each report shows the snapshot of the message as it was
// reported, who reported it and why, a link to the message, and (open ones) Dismiss / Delete message /
// Time out author (minutes) / Ban author, each confirmed in a dialog (`POST /reports/{id}/resolve`).
import { useCallback, useEffect, useState, type FormEvent, type KeyboardEvent } from "react";
import { useParams } from "react-router-dom";
import { api, type Club } from "../lib/api";
import { messageTime } from "../lib/dates";
import {
  ACTIONS,
  DEFAULT_TIMEOUT_MINUTES,
  MAX_TIMEOUT_MINUTES,
  actionLabel,
  listReports,
  parseMinutes,
  resolveReport,
  snapshotAuthor,
  type Report,
  type ReportStatus,
  type ResolveAction,
} from "../lib/moderation";
import { toMs } from "../lib/notifications";
import { Dialog } from "../components/Dialog";
import { AlertText, BackLink, Button, ErrorAlert, Field, LoadError, Loading, PageTitle, StatusText, inputClass, linkClass } from "../components/ui";
import { Link } from "react-router-dom";

const TABS: readonly { status: ReportStatus; label: string; empty: string }[] = [
  { status: "open", label: "Open", empty: "No open reports. All clear." },
  { status: "resolved", label: "Resolved", empty: "No resolved reports yet." },
  { status: "dismissed", label: "Dismissed", empty: "No dismissed reports." },
];

function ResolveDialog({
  report,
  action,
  onClose,
  onDone,
}: {
  report: Report | null;
  action: ResolveAction | null;
  onClose: () => void;
  onDone: (id: number, action: ResolveAction) => void;
}) {
  const [minutes, setMinutes] = useState(String(DEFAULT_TIMEOUT_MINUTES));
  const [problem, setProblem] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const key = report && action ? `${report.id}:${action}` : null;
  const [shown, setShown] = useState(key);
  if (shown !== key) {
    setShown(key);
    setMinutes(String(DEFAULT_TIMEOUT_MINUTES));
    setProblem(null);
    setError(null);
  }
  const info = ACTIONS.find((a) => a.action === action);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!report || !action) return;
    let m: number | undefined;
    if (action === "timeout") {
      const parsed = parseMinutes(minutes);
      if (parsed === null) {
        setProblem(`The timeout is a whole number of minutes from 1 to ${MAX_TIMEOUT_MINUTES}.`);
        return;
      }
      m = parsed;
    }
    setProblem(null);
    setBusy(true);
    setError(null);
    try {
      await resolveReport(report.id, action, m);
      onDone(report.id, action);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Dialog open={key !== null} onClose={onClose} title={info ? `${info.label}?` : "Resolve report"} describedBy="resolve-question">
      <form onSubmit={(e) => void submit(e)} className="space-y-3" noValidate>
        <p id="resolve-question" className="text-sm text-slate-700">
          {info?.confirm}
        </p>
        {report && (
          <blockquote className="border-l-4 border-slate-300 pl-2 text-sm text-slate-700">
            <span className="font-medium">{snapshotAuthor(report)}</span>: {report.snapshot?.text}
          </blockquote>
        )}
        {action === "timeout" && (
          <Field label="Minutes" id="timeout-minutes" hint={`From 1 to ${MAX_TIMEOUT_MINUTES} (28 days).`}>
            <input
              id="timeout-minutes"
              inputMode="numeric"
              value={minutes}
              onChange={(e) => setMinutes(e.target.value)}
              className={inputClass}
            />
          </Field>
        )}
        {problem && <AlertText>{problem}</AlertText>}
        <ErrorAlert error={error} />
        <div className="flex justify-end gap-2">
          <Button variant="secondary" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" variant={action === "dismiss" ? "primary" : "critical"} disabled={busy}>
            {busy ? "Working…" : `Confirm: ${info?.label ?? "resolve"}`}
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

function ReportCard({ r, clubId, now, onResolve }: { r: Report; clubId: number; now: number; onResolve: (r: Report, a: ResolveAction) => void }) {
  const ts = r.snapshot?.ts != null ? toMs(r.snapshot.ts) : 0;
  const created = toMs(r.created_at);
  return (
    <article aria-label={`Report of a message by ${snapshotAuthor(r)}`} className="rounded-lg border border-slate-200 bg-white p-3">
      <p className="flex flex-wrap items-baseline gap-x-2 text-xs text-slate-600">
        <span>
          Reported by <span className="font-medium text-slate-800">{r.reporter?.display_name ?? "a member"}</span>
        </span>
        {created > 0 && <time dateTime={new Date(created).toISOString()}>{messageTime(created, now)}</time>}
        {r.status !== "open" && <span className="rounded bg-slate-200 px-1.5 text-slate-800">{actionLabel(r.action)}</span>}
      </p>
      <p className="mt-1 text-sm">
        <span className="font-medium">Reason:</span> <span className="break-words [overflow-wrap:anywhere]">{r.reason}</span>
      </p>
      <figure className="mt-2 rounded border-l-4 border-slate-300 bg-slate-50 px-3 py-2">
        <figcaption className="flex flex-wrap items-baseline gap-x-2 text-xs text-slate-600">
          <span className="font-semibold text-slate-800">{snapshotAuthor(r)}</span>
          {ts > 0 && <time dateTime={new Date(ts).toISOString()}>{messageTime(ts, now)}</time>}
          <span>(the message when reported)</span>
        </figcaption>
        <blockquote className="mt-1 whitespace-pre-wrap break-words text-sm [overflow-wrap:anywhere]">{r.snapshot?.text}</blockquote>
      </figure>
      <div className="mt-2 flex flex-wrap items-center gap-2">
        <Link to={`/clubs/${clubId}/rooms/${r.room_id}?seq=${r.seq}`} className={`text-sm ${linkClass}`}>
          Show in room
        </Link>
        {r.status === "open" &&
          ACTIONS.map((a) => (
            <Button key={a.action} small variant={a.action === "dismiss" ? "secondary" : "danger"} onClick={() => onResolve(r, a.action)}>
              {a.label}
            </Button>
          ))}
      </div>
    </article>
  );
}

export default function ReportsPage() {
  const clubId = Number(useParams().clubId);
  const [club, setClub] = useState<Club | null>(null);
  const [status, setStatus] = useState<ReportStatus>("open");
  const [items, setItems] = useState<Report[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [reload, setReload] = useState(0);
  const [resolving, setResolving] = useState<{ report: Report; action: ResolveAction } | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [now] = useState(() => Date.now());

  useEffect(() => {
    api<Club>("GET", `/clubs/${clubId}`).then(setClub, setError);
  }, [clubId]);

  const load = useCallback(
    async (cursor: string | null) => {
      try {
        const page = await listReports(clubId, status, cursor);
        setError(null);
        setItems((prev) => (cursor ? [...(prev ?? []), ...(page.items ?? []).filter((r) => !(prev ?? []).some((p) => p.id === r.id))] : page.items ?? []));
        setNext(page.next_cursor ?? null);
      } catch (err) {
        setError(err);
      } finally {
        setLoading(false);
      }
    },
    [clubId, status],
  );

  useEffect(() => {
    let live = true;
    listReports(clubId, status, null).then(
      (page) => {
        if (!live) return;
        setItems(page.items ?? []);
        setNext(page.next_cursor ?? null);
        setError(null);
        setLoading(false);
      },
      (err: unknown) => {
        if (!live) return;
        setError(err);
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [clubId, status, reload]);

  function tabKeys(e: KeyboardEvent<HTMLDivElement>) {
    if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
    e.preventDefault();
    const i = TABS.findIndex((t) => t.status === status);
    const nextTab = TABS[(i + (e.key === "ArrowRight" ? 1 : TABS.length - 1)) % TABS.length];
    pick(nextTab.status);
    document.getElementById(`tab-${nextTab.status}`)?.focus();
  }

  function pick(s: ReportStatus) {
    if (s === status) return;
    setStatus(s);
    setItems(null);
    setNext(null);
    setDone(null);
    setLoading(true);
  }

  const canModerate = club?.my_role === "owner" || club?.my_role === "moderator";
  if (club && !canModerate) {
    return (
      <div className="mx-auto max-w-3xl space-y-4 p-4">
        <PageTitle>Reports</PageTitle>
        <AlertText>Only the club's moderators see its reports.</AlertText>
      </div>
    );
  }

  return (
    <div className="mx-auto w-full max-w-3xl space-y-4 p-4">
      <BackLink to={`/clubs/${clubId}`}>Back to {club?.name ?? "the club"}</BackLink>
      <PageTitle>Reports{club ? ` in ${club.name}` : ""}</PageTitle>
      <div role="tablist" aria-label="Reports by status" onKeyDown={tabKeys} className="flex gap-1 border-b border-slate-200">
        {TABS.map((t) => (
          <button
            key={t.status}
            id={`tab-${t.status}`}
            type="button"
            role="tab"
            aria-selected={status === t.status}
            aria-controls="reports-panel"
            tabIndex={status === t.status ? 0 : -1}
            onClick={() => pick(t.status)}
            className={`-mb-px rounded-t border px-4 py-2 text-sm font-medium focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 ${
              status === t.status ? "border-slate-200 border-b-white bg-white text-indigo-800" : "border-transparent text-slate-700 hover:bg-slate-100"
            }`}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div id="reports-panel" role="tabpanel" aria-labelledby={`tab-${status}`} className="space-y-3">
        {done && <StatusText>{done}</StatusText>}
        {error != null && (
          <LoadError
            error={error}
            retry={() => {
              setLoading(true);
              setError(null);
              setReload((n) => n + 1);
            }}
          />
        )}
        {items === null ? (
          loading && <Loading label="Loading reports…" className="" />
        ) : items.length === 0 ? (
          <p className="py-6 text-center text-sm text-slate-600">{TABS.find((t) => t.status === status)?.empty}</p>
        ) : (
          <ul aria-label={`${TABS.find((t) => t.status === status)?.label ?? ""} reports`} className="space-y-3">
            {items.map((r) => (
              <li key={r.id}>
                <ReportCard r={r} clubId={clubId} now={now} onResolve={(report, action) => setResolving({ report, action })} />
              </li>
            ))}
          </ul>
        )}
        {next && (
          <Button
            variant="secondary"
            disabled={loading}
            onClick={() => {
              setLoading(true);
              void load(next);
            }}
          >
            {loading ? "Loading…" : "Load more reports"}
          </Button>
        )}
      </div>
      <ResolveDialog
        report={resolving?.report ?? null}
        action={resolving?.action ?? null}
        onClose={() => setResolving(null)}
        onDone={(id, action) => {
          setResolving(null);
          setItems((list) => (list ?? []).filter((r) => r.id !== id));
          setDone(`Report resolved: ${actionLabel(action)}.`);
        }}
      />
    </div>
  );
}
