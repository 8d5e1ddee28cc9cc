import { useEffect, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { api } from "../lib/api";
import { Card, ErrorAlert, PageTitle, linkClass } from "../components/ui";

// A token can be used once: the request is made once per token even if the effect runs twice.
const attempts = new Map<string, Promise<unknown>>();

function verify(token: string): Promise<unknown> {
  let p = attempts.get(token);
  if (!p) {
    p = api("POST", "/auth/verify", { token });
    attempts.set(token, p);
    p.catch(() => attempts.delete(token));
  }
  return p;
}

const NO_TOKEN = new Error("This link has no verification token. Open the link from the mail as it is.");

export default function VerifyPage() {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  return (
    <div className="mx-auto max-w-md p-6">
      <Card>{token ? <Verification key={token} token={token} /> : <Failed error={NO_TOKEN} />}</Card>
    </div>
  );
}

function Verification({ token }: { token: string }) {
  const [state, setState] = useState<"working" | "done" | "failed">("working");
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    let live = true;
    verify(token).then(
      () => live && setState("done"),
      (err: unknown) => {
        if (!live) return;
        setError(err);
        setState("failed");
      },
    );
    return () => {
      live = false;
    };
  }, [token]);

  if (state === "working") {
    return (
      <p role="status" className="text-slate-600">
        Verifying your email…
      </p>
    );
  }
  if (state === "failed") return <Failed error={error} />;
  return (
    <>
      <PageTitle small>Email verified</PageTitle>
      <p className="mt-2 text-slate-700">Your account is active.</p>
      <p className="mt-4">
        <Link to="/login" className={linkClass}>
          Log in
        </Link>
      </p>
    </>
  );
}

function Failed({ error }: { error: unknown }) {
  return (
    <>
      <PageTitle small>Verification failed</PageTitle>
      <ErrorAlert error={error} className="mt-3" />
      <p className="mt-4 text-sm">
        <Link to="/signup" className={linkClass}>
          Back to sign up
        </Link>
      </p>
    </>
  );
}
