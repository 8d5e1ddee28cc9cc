import type { Act } from "../../lib/liveSession";
import { ChatMarkdown } from "../../lib/markdown";
import type { LiveState } from "../../lib/live";
import { Badge, Button, Panel } from "../ui";

/** A speaking indicator: a ring that lights while Janus hears this person above its level threshold. */
function Speaking({ on, name }: { on: boolean; name: string }) {
  return (
    <span
      role="img"
      aria-label={on ? `${name} is speaking` : `${name} is quiet`}
      data-speaking={on ? "true" : "false"}
      className={`inline-block h-3 w-3 rounded-full ${on ? "bg-emerald-600 ring-4 ring-emerald-200 motion-safe:animate-pulse" : "bg-slate-300"}`}
    />
  );
}

/** Who is on stage (the host, the speakers) and who of them is speaking; the host may move a speaker back
 * to the audience. */
export function Stage({
  state,
  isHost,
  nameOf,
  act,
  talking = new Set(),
}: {
  state: LiveState;
  isHost: boolean;
  nameOf: (userId: number) => string;
  act: Act;
  talking?: ReadonlySet<number>;
}) {
  return (
    <Panel title="Stage">
      <ul className="mt-2 space-y-2">
        <li className="flex items-center gap-2">
          <Speaking on={talking.has(state.host_id)} name={nameOf(state.host_id)} />
          <span className="font-medium">{nameOf(state.host_id)}</span>
          <Badge tone="info">Host</Badge>
        </li>
        {state.speakers.map((uid) => {
          const name = nameOf(uid);
          return (
            <li key={uid} className="flex flex-wrap items-center gap-2">
              <Speaking on={talking.has(uid)} name={name} />
              <span className="font-medium">{name}</span>
              <Badge tone="success">Speaker</Badge>
              {isHost && (
                <Button small variant="secondary" onClick={() => void act("live:promote", { user_id: uid, role: "audience" })}>
                  Move {name} to audience
                </Button>
              )}
            </li>
          );
        })}
      </ul>
    </Panel>
  );
}

/** The audience's size and this member's hand (raise / lower), or that this member is a speaker. */
export function Audience({
  state,
  role,
  handRaised,
  act,
}: {
  state: LiveState;
  role: "host" | "speaker" | "audience";
  handRaised: boolean;
  act: Act;
}) {
  return (
    <div className="flex flex-wrap items-center gap-3">
      <p className="text-slate-700">{state.audience_count} in audience</p>
      {role === "audience" && (
        <Button variant={handRaised ? "secondary" : "primary"} onClick={() => void act("live:hand", { raised: !handRaised })}>
          {handRaised ? "Lower hand" : "Raise hand"}
        </Button>
      )}
      {role === "speaker" && <p className="text-sm text-emerald-800">You are a speaker.</p>}
    </div>
  );
}

/** The host's pinned message. */
export function Pinned({ text }: { text: string }) {
  return (
    <div role="note" className="rounded-lg border border-amber-300 bg-amber-50 p-3">
      <p className="text-xs font-semibold uppercase tracking-wide text-amber-800">Pinned</p>
      {/* The host's text formats like chat: its addresses are links (rel="noopener nofollow ugc"). */}
      <div className="mt-1 min-w-0 space-y-1 text-slate-900 [overflow-wrap:anywhere]">
        <ChatMarkdown text={text} />
      </div>
    </div>
  );
}
