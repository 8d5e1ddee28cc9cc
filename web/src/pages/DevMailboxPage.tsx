import { useCallback, useEffect, useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { api, query, type Mail, type Schema } from "../lib/api";
import { Button, Card, ErrorAlert, Field, PageTitle, inputClass, linkClass } from "../components/ui";

/** The path (and query) of a mail's link, so it opens inside this app whatever host the mail names. */
function localPath(link: string): string {
  try {
    const url = new URL(link, window.location.origin);
    return url.pathname + url.search + url.hash;
  } catch {
    return link;
  }
}

/** The mail kept for `email`, newest first. */
async function fetchMail(email: string): Promise<Mail[]> {
  const out = await api<Schema<"MailboxOut">>("GET", `/dev/mailbox${query({ email })}`);
  return [...out.messages].sort((a, b) => b.sent_at - a.sent_at);
}

export default function DevMailboxPage() {
  const [params] = useSearchParams();
  const email = params.get("email") ?? "";
  // Another address: its own box from the start.
  return <Mailbox key={email} email={email} />;
}

function Mailbox({ email }: { email: string }) {
  const [, setParams] = useSearchParams();
  const [draft, setDraft] = useState(email);
  const [mails, setMails] = useState<Mail[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  // The first look starts with the screen.
  const [loading, setLoading] = useState(email !== "");

  const load = useCallback(
    () =>
      fetchMail(email)
        .then(
          (list) => {
            setMails(list);
            setError(null);
          },
          (err: unknown) => setError(err),
        )
        .finally(() => setLoading(false)),
    [email],
  );

  useEffect(() => {
    if (email) void load();
  }, [email, load]);

  // A mail may take a moment: look again every 2 s for a while until one is there.
  useEffect(() => {
    if (!email || (mails && mails.length > 0)) return;
    let tries = 0;
    const timer = setInterval(() => {
      tries += 1;
      if (tries > 15) {
        clearInterval(timer);
        return;
      }
      setLoading(true);
      void load();
    }, 2000);
    return () => clearInterval(timer);
  }, [email, mails, load]);

  function submit(e: FormEvent) {
    e.preventDefault();
    setParams(draft.trim() ? { email: draft.trim() } : {});
  }

  return (
    <div className="mx-auto max-w-2xl space-y-4 p-6">
      <PageTitle small>Dev mailbox</PageTitle>
      <p className="text-sm text-slate-600">In development, mail is kept here instead of being sent.</p>
      <form onSubmit={submit} className="flex items-end gap-2">
        <div className="flex-1">
          <Field label="Email" id="mailbox-email">
            <input
              id="mailbox-email"
              type="email"
              value={draft}
              onChange={(e) => setDraft(e.target.value)}
              className={inputClass}
            />
          </Field>
        </div>
        <Button type="submit">Show mail</Button>
      </form>
      <ErrorAlert error={error} />
      {email && mails !== null && mails.length === 0 && (
        <p className="text-slate-600">{loading ? "Looking for mail…" : "No mail for this address yet."}</p>
      )}
      {mails && mails.length > 0 && (
        <ul aria-label="Mail" className="space-y-3">
          {mails.map((m, i) => (
            <li key={`${m.sent_at}-${i}`}>
              <Card>
                <p className="text-xs text-slate-500">
                  To {m.to} · {new Date(m.sent_at * 1000).toLocaleString()}
                </p>
                <h2 className="mt-1 font-medium">{m.subject}</h2>
                <p className="mt-2 whitespace-pre-wrap text-sm text-slate-700">{m.body}</p>
                {m.link && (
                  <p className="mt-3">
                    <Link to={localPath(m.link)} className={linkClass}>
                      Verify my email
                    </Link>
                  </p>
                )}
              </Card>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
