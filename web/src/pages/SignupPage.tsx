import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { api } from "../lib/api";
import { Button, Card, ErrorAlert, Field, PageTitle, inputClass, linkClass } from "../components/ui";

export default function SignupPage() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [sentTo, setSentTo] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api("POST", "/auth/signup", { email: email.trim(), password, display_name: displayName.trim() });
      setSentTo(email.trim());
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  if (sentTo) {
    return (
      <div className="mx-auto max-w-md p-6">
        <Card>
          <PageTitle small>Check your email</PageTitle>
          <p className="mt-2 text-slate-700">
            We sent a verification link to <strong>{sentTo}</strong>. Open it to activate the account, then log in.
          </p>
          <p className="mt-4">
            <Link className={linkClass} to={`/dev/mailbox?email=${encodeURIComponent(sentTo)}`}>
              Open the dev mailbox
            </Link>
          </p>
        </Card>
      </div>
    );
  }

  return (
    <div className="mx-auto max-w-md p-6">
      <Card>
        <PageTitle small className="mb-4">
          Create your account
        </PageTitle>
        <form onSubmit={(e) => void submit(e)} className="space-y-4" noValidate>
          <Field label="Email" id="signup-email">
            <input
              id="signup-email"
              type="email"
              autoComplete="email"
              required
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              className={inputClass}
            />
          </Field>
          <Field label="Password" id="signup-password" hint="At least 10 characters.">
            <input
              id="signup-password"
              type="password"
              autoComplete="new-password"
              required
              minLength={10}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              className={inputClass}
            />
          </Field>
          <Field label="Display name" id="signup-name">
            <input
              id="signup-name"
              type="text"
              autoComplete="nickname"
              required
              maxLength={50}
              value={displayName}
              onChange={(e) => setDisplayName(e.target.value)}
              className={inputClass}
            />
          </Field>
          <ErrorAlert error={error} />
          <Button type="submit" disabled={busy} className="w-full">
            Sign up
          </Button>
        </form>
        <p className="mt-4 text-sm text-slate-600">
          Already have an account?{" "}
          <Link to="/login" className={linkClass}>
            Log in
          </Link>
        </p>
      </Card>
    </div>
  );
}
