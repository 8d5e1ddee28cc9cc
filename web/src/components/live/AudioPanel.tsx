import type { LiveAudioView } from "../../lib/liveAudio";
import { Button, Panel } from "../ui";

/** The level as a 0–100 bar width (audio levels are mostly small: a square root reads better). */
export function meterPercent(level: number): number {
  return Math.round(Math.min(1, Math.sqrt(Math.max(0, level) * 4)) * 100);
}

/** The session's sound: join with one click, mute on the stage, the invitation to speak, reconnecting. */
export function AudioPanel({ audio, unavailable }: { audio: LiveAudioView; unavailable: string | null }) {
  const { status } = audio;
  const onStage = status.kind === "on" && status.mode === "stage";
  const hearing = status.kind === "on" && audio.level > 0.01;
  return (
    <Panel title="Audio">
      <div className="mt-2 space-y-3">
        {unavailable !== null || status.kind === "unavailable" ? (
          <p className="text-slate-700">
            Audio is unavailable for this session. {status.kind === "unavailable" ? status.reason : unavailable}
          </p>
        ) : status.kind === "off" ? (
          <div className="flex flex-wrap items-center gap-3">
            <Button onClick={audio.join}>Join audio</Button>
            <p className="text-sm text-slate-600">Listen to the stage; your microphone stays off unless you are invited to speak.</p>
          </div>
        ) : (
          <>
            <p role="status" className="text-sm text-slate-800">
              {status.kind === "connecting"
                ? "Connecting audio…"
                : status.kind === "reconnecting"
                  ? `Audio dropped (${status.reason}). Reconnecting in ${Math.max(1, Math.round(status.inMs / 1000))} s…`
                  : onStage
                    ? audio.muted
                      ? "You are on stage, muted."
                      : "You are on stage: everyone hears you."
                    : "Listening to the stage."}
            </p>
            {status.kind === "on" && (
              <div className="flex items-center gap-2">
                <span className="text-xs text-slate-600">{hearing ? "Sound" : "Quiet"}</span>
                <div
                  role="meter"
                  aria-label="Stage sound level"
                  aria-valuemin={0}
                  aria-valuemax={100}
                  aria-valuenow={meterPercent(audio.level)}
                  className="h-2 w-40 overflow-hidden rounded bg-slate-200"
                >
                  <div className="h-full bg-emerald-600 transition-[width]" style={{ width: `${meterPercent(audio.level)}%` }} />
                </div>
              </div>
            )}
            {audio.invited && (
              <div role="alert" className="flex flex-wrap items-center gap-3 rounded border border-emerald-300 bg-emerald-50 p-3">
                <p className="font-medium text-emerald-900">The host invited you to speak.</p>
                <Button onClick={audio.startSpeaking}>Start speaking</Button>
              </div>
            )}
            <div className="flex flex-wrap gap-2">
              {onStage && (
                <Button variant="secondary" aria-pressed={audio.muted} onClick={() => audio.setMuted(!audio.muted)}>
                  {audio.muted ? "Unmute" : "Mute"}
                </Button>
              )}
              <Button variant="secondary" onClick={audio.leave}>
                Leave audio
              </Button>
            </div>
          </>
        )}
      </div>
    </Panel>
  );
}
