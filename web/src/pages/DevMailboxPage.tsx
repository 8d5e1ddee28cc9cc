import { useCallback, useEffect, useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { api, query, type Mail } from "../lib/api";
import { Button, Card, ErrorAlert, Field, inputClass, linkClass } from "../components/ui";

/** The path (and query) of a mail's link, so it opens inside this app whatever host the mail names. */
function localPath(link: string): string {
  try {
    const url = new URL(link, window.location.origin);
    return url.pathname + url.search + url.hash;
  } catch {
    return link;
  }
}

export default function DevMailboxPage() {
  const [params, setParams] = useSearchParams();
  const email = params.get("email") ?? "";
  const [draft, setDraft] = useState(email);
  const [mails, setMails] = useState<Mail[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);

  const load = useCallback(async () => {
    if (!email) return;
    setLoading(true);
    try {
      const out = await api<{ messages: Mail[] }>("GET", `/dev/mailbox${query({ email })}`);
      setMails([...out.messages].sort((a, b) => b.sent_at - a.sent_at));
      setError(null);
    } catch (err) {
      setError(err);
    } finally {
      setLoading(false);
    }
  }, [email]);

  useEffect(() => {
    setDraft(email);
    setMails(null);
    void load();
  }, [email, load]);

  // A mail may take a moment: look again every 2 s for a while until one is there.
  useEffect(() => {
    if (!email || (mails && mails.length > 0)) return;
    let tries = 0;
    const timer = setInterval(() => {
      tries += 1;
      if (tries > 15) clearInterval(timer);
      else void load();
    }, 2000);
    return () => clearInterval(timer);
  }, [email, mails, load]);

  function submit(e: FormEvent) {
    e.preventDefault();
    setParams(draft.trim() ? { email: draft.trim() } : {});
  }

  return (
    <div className="mx-auto max-w-2xl space-y-4 p-6">
      <h1 className="text-xl font-semibold">Dev mailbox</h1>
      <p className="text-sm text-slate-600">
        In development, mail is kept here instead of being sent.
      </p>
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
