import { useState, type FormEvent } from "react";
import { Link, useLocation, useNavigate } from "react-router-dom";
import { ApiError } from "../lib/api";
import { useAuth } from "../lib/auth";
import { returnPath } from "../lib/returnPath";
import { Button, Card, ErrorAlert, Field, PageTitle, inputClass, linkClass } from "../components/ui";

export default function LoginPage() {
  const { login, notice } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  // Sent here by a protected screen: go back there; otherwise the feed.
  const target = returnPath(location.state);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(email.trim(), password);
      void navigate(target, { replace: true });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  const unverified = error instanceof ApiError && error.code === "email_unverified";

  return (
    <div className="mx-auto max-w-md p-6">
      <Card>
        <PageTitle small className="mb-4">
          Welcome back
        </PageTitle>
        {notice && (
          <p role="status" className="mb-4 rounded border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900">
            {notice}
          </p>
        )}
        <form onSubmit={(e) => void submit(e)} className="space-y-4" noValidate>
          <Field label="Email" id="login-email">
            <input
              id="login-email"
              type="email"
              autoComplete="username"
              required
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              className={inputClass}
            />
          </Field>
          <Field label="Password" id="login-password">
            <input
              id="login-password"
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              className={inputClass}
            />
          </Field>
          <ErrorAlert error={error}>
            {unverified && (
              <>
                {" "}
                <Link className={linkClass} to={`/dev/mailbox?email=${encodeURIComponent(email.trim())}`}>
                  Open the dev mailbox
                </Link>
              </>
            )}
          </ErrorAlert>
          <Button type="submit" disabled={busy} className="w-full">
            Log in
          </Button>
        </form>
        <p className="mt-4 text-sm text-slate-600">
          New here?{" "}
          <Link to="/signup" className={linkClass}>
            Sign up
          </Link>
        </p>
      </Card>
    </div>
  );
}
