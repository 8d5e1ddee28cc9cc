import { pollResults, resultLabel, votesLabel, type LivePoll } from "../../lib/live";
import type { Act } from "../../lib/liveSession";
import { Badge, Button, Panel } from "../ui";

/** Open polls first, newest first within each. */
export function orderPolls(polls: readonly LivePoll[]): LivePoll[] {
  return [...polls].sort((a, b) => Number(a.closed) - Number(b.closed) || b.poll_id - a.poll_id);
}

/** The polls: a vote per option while open, live results as meters, final results once closed. */
export function Polls({
  polls,
  isHost,
  act,
  voted,
  onVoted,
}: {
  polls: LivePoll[];
  isHost: boolean;
  act: Act;
  voted: ReadonlySet<number>;
  onVoted: (pollId: number) => void;
}) {
  if (polls.length === 0) return null;

  async function vote(pollId: number, option: number) {
    const ack = await act("live:vote", { poll_id: pollId, option });
    if (ack) onVoted(pollId);
  }

  return (
    <Panel title="Polls">
      <ul className="mt-2 space-y-4">
        {orderPolls(polls).map((poll) => {
          const results = pollResults(poll);
          const hasVoted = voted.has(poll.poll_id);
          return (
            <li key={poll.poll_id} className="rounded border border-slate-200 p-3">
              <div className="flex flex-wrap items-center justify-between gap-2">
                <h3 className="font-medium">{poll.question}</h3>
                {poll.closed ? (
                  <Badge tone="muted">Closed · final results</Badge>
                ) : (
                  isHost && (
                    <Button small variant="secondary" onClick={() => void act("live:close_poll", { poll_id: poll.poll_id })}>
                      Close poll
                    </Button>
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
                        <Button small variant="secondary" disabled={hasVoted} onClick={() => void vote(poll.poll_id, r.index)}>
                          Vote {r.option}
                        </Button>
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
    </Panel>
  );
}
