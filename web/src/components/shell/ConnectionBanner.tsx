// The state of the live connection, in the flow of the page under the top bar (it pushes the screen
// down rather than covering its header): "Reconnecting…" while the socket is down, then "Back online"
// for a few seconds once it is up again.
import { useEffect, useState } from "react";
import { hasEverConnected, useConnection } from "../../lib/socket";

const GRACE_MS = 2000;
const BACK_ONLINE_MS = 4000;

export function ConnectionBanner() {
  const state = useConnection();
  const [graceOver, setGraceOver] = useState(false);
  const [backOnline, setBackOnline] = useState(false);
  const [wasDown, setWasDown] = useState(false);

  useEffect(() => {
    const t = setTimeout(() => setGraceOver(true), GRACE_MS);
    return () => clearTimeout(t);
  }, []);

  // Before the first connection (and its grace period) a slow start is not an outage.
  const down = state !== "connected" && (hasEverConnected() || graceOver);

  // Down, then up again: "Back online" (adjusted while rendering, not in an effect).
  if (down && !wasDown) {
    setWasDown(true);
    setBackOnline(false);
  } else if (!down && wasDown && state === "connected") {
    setWasDown(false);
    setBackOnline(true);
  }

  useEffect(() => {
    if (!backOnline) return;
    const t = setTimeout(() => setBackOnline(false), BACK_ONLINE_MS);
    return () => clearTimeout(t);
  }, [backOnline]);

  if (down) {
    return (
      <div
        role="status"
        aria-label="Reconnecting…"
        data-testid="connection-banner"
        className="border-b border-amber-300 bg-amber-100 px-4 py-1.5 text-center text-sm text-amber-900"
      >
        {state === "offline" ? "You are offline. Reconnecting…" : "Reconnecting…"}
      </div>
    );
  }
  if (backOnline) {
    return (
      <div
        role="status"
        aria-label="Back online"
        data-testid="connection-banner"
        className="border-b border-emerald-300 bg-emerald-100 px-4 py-1.5 text-center text-sm text-emerald-900"
      >
        Back online
      </div>
    );
  }
  return null;
}
