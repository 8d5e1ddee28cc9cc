// `/clubs/:clubId/moderation`: the club's auto-moderation (moderators): blocked terms (one a line), how long
// someone must have been a member before posting links, and the most mentions in one message (`GET/PUT
// /clubs/{id}/automod`). A send a rule refuses is answered `forbidden` naming the rule (shown at the
// composer). Also the way to the report queue.
import { useEffect, useState, type FormEvent } from "react";
import { Link, useParams } from "react-router-dom";
import { api, type Club } from "../lib/api";
import { MAX_TERMS, automodFromForm, automodToForm, type Automod } from "../lib/moderation";
import { AlertText, BackLink, Button, ErrorAlert, Field, LoadError, Loading, PageTitle, StatusText, inputClass, linkClass } from "../components/ui";

export default function ModerationPage() {
  const clubId = Number(useParams().clubId);
  const [club, setClub] = useState<Club | null>(null);
  const [form, setForm] = useState<{ terms: string; linkAgeMinutes: string; maxMentions: string } | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [reload, setReload] = useState(0);
  const [problem, setProblem] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    let live = true;
    Promise.all([api<Club>("GET", `/clubs/${clubId}`), api<Partial<Automod>>("GET", `/clubs/${clubId}/automod`)]).then(
      ([c, a]) => {
        if (!live) return;
        setClub(c);
        setForm(automodToForm(a));
        setLoadError(null);
      },
      (err: unknown) => {
        if (live) setLoadError(err);
      },
    );
    return () => {
      live = false;
    };
  }, [clubId, reload]);

  async function save(e: FormEvent) {
    e.preventDefault();
    if (!form) return;
    const out = automodFromForm(form);
    setSaved(false);
    setError(null);
    if ("problem" in out) {
      setProblem(out.problem);
      return;
    }
    setProblem(null);
    setSaving(true);
    try {
      const a = await api<Partial<Automod> | undefined>("PUT", `/clubs/${clubId}/automod`, out.value);
      setForm(automodToForm(a ?? out.value));
      setSaved(true);
    } catch (err) {
      setError(err);
    } finally {
      setSaving(false);
    }
  }

  const canModerate = club?.my_role === "owner" || club?.my_role === "moderator";
  return (
    <div className="mx-auto w-full max-w-2xl space-y-4 p-4">
      <BackLink to={`/clubs/${clubId}`}>Back to {club?.name ?? "the club"}</BackLink>
      <PageTitle>Moderation{club ? ` of ${club.name}` : ""}</PageTitle>
      {loadError != null && <LoadError error={loadError} retry={() => setReload((n) => n + 1)} />}
      {club && !canModerate && <AlertText>Only the club's moderators can change its moderation.</AlertText>}
      <p>
        <Link to={`/clubs/${clubId}/reports`} className={linkClass}>
          Open the report queue
        </Link>
      </p>
      {form === null ? (
        loadError == null && <Loading className="" />
      ) : (
        <form onSubmit={(e) => void save(e)} className="space-y-4 rounded-lg border border-slate-200 bg-white p-4" noValidate>
          <h2 className="text-lg font-semibold">Auto-moderation</h2>
          <p className="text-sm text-slate-600">Messages breaking a rule are refused before anyone sees them; the sender is told which rule.</p>
          <Field label="Blocked terms" id="automod-terms" hint={`One a line, at most ${MAX_TERMS}. A message holding one as whole words (any case) is refused.`}>
            <textarea
              id="automod-terms"
              rows={6}
              value={form.terms}
              onChange={(e) => setForm({ ...form, terms: e.target.value })}
              className={inputClass}
            />
          </Field>
          <Field label="Links only after (minutes of membership)" id="automod-links" hint="Empty: anyone may post links.">
            <input
              id="automod-links"
              inputMode="numeric"
              value={form.linkAgeMinutes}
              onChange={(e) => setForm({ ...form, linkAgeMinutes: e.target.value })}
              className={inputClass}
            />
          </Field>
          <Field label="Most mentions in one message" id="automod-mentions" hint="Empty: no limit.">
            <input
              id="automod-mentions"
              inputMode="numeric"
              value={form.maxMentions}
              onChange={(e) => setForm({ ...form, maxMentions: e.target.value })}
              className={inputClass}
            />
          </Field>
          {problem && <AlertText>{problem}</AlertText>}
          <ErrorAlert error={error} />
          {saved && <StatusText>Auto-moderation saved.</StatusText>}
          <Button type="submit" disabled={saving || !canModerate}>
            {saving ? "Saving…" : "Save auto-moderation"}
          </Button>
        </form>
      )}
    </div>
  );
}
