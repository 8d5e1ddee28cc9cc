import { Link, useParams } from "react-router-dom";

import { AudioPanel } from "../components/live/AudioPanel";
import { HostControls } from "../components/live/HostControls";
import { Polls } from "../components/live/Polls";
import { Questions } from "../components/live/Questions";
import { Audience, Pinned, Stage } from "../components/live/Stage";
import { SummaryView } from "../components/live/Summary";
import { AlertText, Badge, BackLink, ErrorAlert, PageTitle, linkClass } from "../components/ui";
import { useAuth } from "../lib/auth";
import { removedMessage } from "../lib/errors";
import { useLiveAudio } from "../lib/liveAudio";
import { useLiveSession } from "../lib/liveSession";

export default function LivePage() {
  const { eventId } = useParams();
  const id = Number(eventId);
  if (!Number.isInteger(id) || id <= 0) {
    return (
      <div className="mx-auto max-w-4xl p-4">
        <AlertText>This event address is not valid.</AlertText>
      </div>
    );
  }
  // A new event is a new session: every piece of state starts afresh.
  return <LiveSession key={id} eventId={id} />;
}

function LiveSession({ eventId }: { eventId: number }) {
  const { user } = useAuth();
  const me = user?.id ?? null;
  const live = useLiveSession(eventId, user);
  const { model, phase } = live;
  // Audio lives as long as the session is live here: ending or removal closes every connection.
  const audio = useLiveAudio(eventId, phase.kind === "live" ? phase.role : null, phase.kind === "live");

  const header = (
    <div>
      <BackLink to={`/events/${eventId}`}>Back to the event</BackLink>
      <PageTitle className="mt-1 flex flex-wrap items-center gap-3">
        <span>{model.event?.title ?? "Live session"}</span>
        {phase.kind === "live" && (
          <Badge tone="live" className="text-sm">
            Live
          </Badge>
        )}
      </PageTitle>
    </div>
  );

  // Taken out of the club: nothing of the session stays, and no action is offered.
  if (phase.kind === "removed") {
    return (
      <div className="mx-auto max-w-4xl space-y-4 p-4">
        {header}
        <AlertText>{removedMessage(phase.reason)} You can no longer follow this live session.</AlertText>
        <p>
          <Link to="/clubs" className={linkClass}>
            Go to the club directory
          </Link>
        </p>
      </div>
    );
  }

  // Ended (seen live, or ended before we came): the summary.
  if (phase.kind === "ended") {
    return (
      <div className="mx-auto max-w-4xl space-y-4 p-4">
        {header}
        <p className="rounded bg-slate-100 p-3 font-medium">This live session has ended.</p>
        {phase.summary ? (
          <SummaryView summary={phase.summary} exportEventId={model.event && model.event.host_id === me ? eventId : undefined} />
        ) : (
          <p className="text-slate-600">Loading the summary…</p>
        )}
      </div>
    );
  }

  if (phase.kind === "waiting") {
    return (
      <div className="mx-auto max-w-4xl space-y-4 p-4">
        {header}
        {phase.joinError != null ? (
          <div className="space-y-2">
            <ErrorAlert error={phase.joinError} />
            {phase.notStarted && <p className="text-slate-700">The live session has not started yet, or is over.</p>}
          </div>
        ) : (
          <p className="text-slate-600">{live.connecting ? "Connecting…" : "Joining the live session…"}</p>
        )}
      </div>
    );
  }

  const { state, role } = phase;
  const isHost = role === "host";
  return (
    <div className="mx-auto max-w-4xl space-y-6 p-4">
      {header}
      {state.pinned && <Pinned text={state.pinned} />}
      {model.error != null && <ErrorAlert error={model.error.error} message={model.error.message} />}

      <div className="grid gap-6 md:grid-cols-2">
        <div className="space-y-6">
          <AudioPanel audio={audio} unavailable={model.audioUnavailable} />
          <Stage state={state} isHost={isHost} nameOf={live.nameOf} act={live.act} talking={audio.talking} />
          <Audience state={state} role={role} handRaised={phase.handRaised} act={live.act} />
          {isHost && <HostControls state={state} nameOf={live.nameOf} act={live.act} endSession={live.endSession} />}
        </div>
        <div className="space-y-6">
          <Questions
            state={state}
            me={me}
            isHost={isHost}
            nameOf={live.nameOf}
            act={live.act}
            upvoted={model.upvoted}
            onUpvoted={live.upvoted}
            asked={model.asked}
            onAsked={live.asked}
            pending={model.pending}
          />
          <Polls polls={state.polls} isHost={isHost} act={live.act} voted={model.voted} onVoted={live.voted} />
        </div>
      </div>
    </div>
  );
}
