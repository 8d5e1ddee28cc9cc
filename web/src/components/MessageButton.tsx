// "Message" next to a member (the club's member list, a profile): opens the DM with them (`POST /dms`,
// the same room every time) and goes to it. A refusal (their DM setting, a block) is said beside it.
import { useState } from "react";
import { useNavigate } from "react-router-dom";
import { openDm } from "../lib/dms";
import { errorMessage } from "../lib/errors";
import { Button } from "./ui";

export function MessageButton({
  userId,
  name,
  small = true,
  icon = false,
  className = "",
}: {
  userId: number;
  name: string;
  small?: boolean;
  /** A speech-bubble icon rather than the word (narrow lists); named "Message <name>" either way. */
  icon?: boolean;
  className?: string;
}) {
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function open() {
    setBusy(true);
    setError(null);
    try {
      const roomId = await openDm([userId]);
      void navigate(`/dms/${roomId}`);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  return (
    <span className={`inline-flex min-w-0 flex-col items-end ${className}`}>
      <Button
        small={small}
        variant={icon ? "ghost" : "secondary"}
        aria-label={`Message ${name}`}
        title={`Message ${name}`}
        disabled={busy}
        onClick={() => void open()}
        className={icon ? "h-7 w-7 px-0!" : ""}
      >
        {icon ? (
          <svg aria-hidden="true" viewBox="0 0 24 24" className="h-4 w-4" fill="none" stroke="currentColor" strokeWidth="2">
            <path strokeLinecap="round" strokeLinejoin="round" d="M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12Z" />
          </svg>
        ) : (
          "Message"
        )}
      </Button>
      {error != null && (
        <span role="alert" className="mt-0.5 max-w-56 text-right text-xs text-red-800">
          {errorMessage(error)}
        </span>
      )}
    </span>
  );
}
