// Shown instead of any screen while the service cannot be reached at start (the API answers 503 or
// nothing): the session is kept and the app tries again by itself, rather than looking logged out.
import { useEffect, useState } from "react";
import type { Outage } from "../../lib/auth";
import { Button, PageTitle } from "../ui";

export function OutageScreen({ outage, retryNow }: { outage: Outage; retryNow: () => void }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  const seconds = Math.max(0, Math.ceil((outage.retryAt - now) / 1000));
  return (
    <div className="mx-auto max-w-xl p-6">
      <div className="rounded-lg border border-amber-300 bg-amber-50 p-5 text-amber-950">
        <PageTitle>ClubHoloHub is unavailable right now</PageTitle>
        <p className="mt-2">
          The service is not answering (it may be restarting or under maintenance). Nothing is lost: this page
          keeps trying and carries on by itself once the service is back.
        </p>
        <p role="status" className="mt-3 text-sm font-medium">
          {seconds > 0 ? `Retrying in ${seconds} s…` : "Retrying…"}
        </p>
        <Button className="mt-4" onClick={retryNow}>
          Try again now
        </Button>
      </div>
    </div>
  );
}
