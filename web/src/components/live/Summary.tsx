import { useState } from "react";

import { saveBlob } from "../../lib/download";
import { fetchSummaryCsv } from "../../lib/events";
import { formatDuration, pollResults, resultLabel, votesLabel, type LiveSummary } from "../../lib/live";
import { Button, ErrorAlert, Panel } from "../ui";

/** Downloads the summary of event `eventId` as CSV. */
function ExportCsv({ eventId }: { eventId: number }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  async function onExport() {
    setBusy(true);
    setError(null);
    try {
      saveBlob(await fetchSummaryCsv(eventId), `event-${eventId}-summary.csv`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return (
    <div className="mt-3">
      <Button variant="secondary" small disabled={busy} onClick={() => void onExport()}>
        Export CSV
      </Button>
      <ErrorAlert error={error} className="mt-2" />
    </div>
  );
}

/** What a live session came to (attendance, questions, final poll results); on the event and live screens.
 * `exportEventId`: offer the CSV export of that event's summary (to its host and the club's moderators). */
export function SummaryView({ summary, exportEventId }: { summary: LiveSummary; exportEventId?: number }) {
  return (
    <Panel title="Live session summary" label="Session summary">
      {exportEventId != null && <ExportCsv eventId={exportEventId} />}
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
    </Panel>
  );
}
