// `/settings`: how the person is notified. Push notifications on this device (the permission prompt only
// on the switch's click; lib/push.ts) and the email digest of unread mentions and messages (`PATCH /me
// {email_digest}`).
import { useEffect, useId, useState, type ReactNode } from "react";
import { ApiError, api } from "../lib/api";
import { blockerMessage, currentSubscription, disablePush, enablePush, pushBlocker, type PushBlocker } from "../lib/push";
import { unblockMember, useBlocks } from "../lib/blocks";
import { AlertText, Button, ErrorAlert, LoadError, PageTitle, StatusText } from "../components/ui";

type DmPolicy = "everyone" | "club_members" | "nobody";

const POLICIES: readonly { policy: DmPolicy; label: string; hint: string }[] = [
  { policy: "everyone", label: "Everyone", hint: "Anyone on ClubHoloHub can start a conversation with you." },
  { policy: "club_members", label: "People in my clubs", hint: "Only people who share a club with you." },
  { policy: "nobody", label: "Nobody", hint: "No one can start a new conversation with you." },
];

function isPolicy(v: unknown): v is DmPolicy {
  return v === "everyone" || v === "club_members" || v === "nobody";
}

/** Who may open a DM with this person (`PATCH /me {dm_policy}`). */
function DmPolicySetting() {
  const [policy, setPolicy] = useState<DmPolicy | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const [reload, setReload] = useState(0);
  const id = useId();

  useEffect(() => {
    let live = true;
    api<{ dm_policy?: unknown }>("GET", "/me").then(
      (me) => {
        if (!live) return;
        setPolicy(isPolicy(me.dm_policy) ? me.dm_policy : "club_members");
        setLoadError(null);
      },
      (err: unknown) => {
        if (live) setLoadError(err);
      },
    );
    return () => {
      live = false;
    };
  }, [reload]);

  async function choose(next: DmPolicy) {
    const before = policy;
    setPolicy(next);
    setBusy(true);
    setSaved(false);
    setError(null);
    try {
      const me = await api<{ dm_policy?: unknown }>("PATCH", "/me", { dm_policy: next });
      setPolicy(isPolicy(me?.dm_policy) ? me.dm_policy : next);
      setSaved(true);
    } catch (err) {
      setPolicy(before);
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="py-3">
      <fieldset disabled={policy === null || busy} aria-busy={busy}>
        <legend className="font-medium text-slate-900">Who can send you direct messages</legend>
        <div className="mt-1 space-y-1">
          {POLICIES.map((p) => (
            <label
              key={p.policy}
              className="flex cursor-pointer items-start gap-2 rounded px-1 py-1 hover:bg-slate-100 has-[:focus-visible]:ring-2 has-[:focus-visible]:ring-indigo-500"
            >
              <input
                type="radio"
                name={`dm-policy-${id}`}
                value={p.policy}
                checked={policy === p.policy}
                onChange={() => void choose(p.policy)}
                aria-describedby={`${id}-${p.policy}`}
                className="mt-1 accent-indigo-600"
              />
              <span>
                <span className="block text-sm font-medium">{p.label}</span>
                <span id={`${id}-${p.policy}`} className="block text-xs text-slate-600">
                  {p.hint}
                </span>
              </span>
            </label>
          ))}
        </div>
      </fieldset>
      {loadError != null && <LoadError error={loadError} retry={() => setReload((n) => n + 1)} />}
      <ErrorAlert error={error} />
      {saved && policy && <StatusText>Saved: {POLICIES.find((p) => p.policy === policy)?.label}.</StatusText>}
    </div>
  );
}

/** The members this person blocked, each with "Unblock". */
function BlockedList() {
  const blocks = useBlocks();
  const [error, setError] = useState<unknown>(null);
  return (
    <div className="py-3">
      <p className="font-medium text-slate-900">Blocked members</p>
      <p className="text-sm text-slate-600">They cannot message you; their messages in shared rooms are hidden until you show them.</p>
      <ErrorAlert error={error ?? blocks.error} className="mt-2" />
      {blocks.list === null ? (
        <p className="mt-2 text-sm text-slate-600">Loading…</p>
      ) : blocks.list.length === 0 ? (
        <p className="mt-2 text-sm text-slate-600">You have not blocked anyone.</p>
      ) : (
        <ul aria-label="Blocked members" className="mt-2 divide-y divide-slate-200">
          {blocks.list.map((b) => (
            <li key={b.user_id} className="flex items-center justify-between gap-2 py-1.5 text-sm">
              <span className="min-w-0 truncate">{b.display_name}</span>
              <Button
                small
                variant="secondary"
                aria-label={`Unblock ${b.display_name}`}
                onClick={() => {
                  setError(null);
                  unblockMember(b.user_id).catch(setError);
                }}
              >
                Unblock
              </Button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** An on/off switch (`role="switch"`) named by its visible label, described by its hint. */
function Switch({
  label,
  hint,
  checked,
  disabled = false,
  busy = false,
  onChange,
  children,
}: {
  label: string;
  hint: string;
  checked: boolean;
  disabled?: boolean;
  busy?: boolean;
  onChange: (next: boolean) => void;
  children?: ReactNode;
}) {
  const id = useId();
  return (
    <div className="flex flex-col gap-2 py-3">
      <div className="flex items-start justify-between gap-4">
        <div className="min-w-0">
          <p id={`${id}-label`} className="font-medium text-slate-900">
            {label}
          </p>
          <p id={`${id}-hint`} className="text-sm text-slate-600">
            {hint}
          </p>
        </div>
        <button
          type="button"
          role="switch"
          aria-checked={checked}
          aria-labelledby={`${id}-label`}
          aria-describedby={`${id}-hint`}
          aria-busy={busy}
          disabled={disabled || busy}
          onClick={() => onChange(!checked)}
          className={`relative mt-1 inline-flex h-7 w-12 shrink-0 items-center rounded-full border-2 transition-colors focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 focus-visible:ring-offset-2 disabled:cursor-not-allowed disabled:opacity-60 ${
            checked ? "border-indigo-600 bg-indigo-600" : "border-slate-500 bg-slate-300"
          }`}
        >
          <span
            aria-hidden="true"
            className={`inline-block h-5 w-5 rounded-full bg-white shadow transition-transform ${checked ? "translate-x-5" : "translate-x-0.5"}`}
          />
          <span className="sr-only">{checked ? "On" : "Off"}</span>
        </button>
      </div>
      {children}
    </div>
  );
}

function PushSetting() {
  const [blocker, setBlocker] = useState<PushBlocker>(() => pushBlocker());
  const [on, setOn] = useState(false);
  const [checked, setChecked] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [note, setNote] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    currentSubscription().then(
      (sub) => {
        if (!live) return;
        setOn(!!sub);
        setChecked(true);
      },
      () => {
        if (live) setChecked(true);
      },
    );
    return () => {
      live = false;
    };
  }, []);

  async function toggle(next: boolean) {
    setBusy(true);
    setError(null);
    setNote(null);
    try {
      if (next) {
        const outcome = await enablePush();
        if (outcome === "enabled") {
          setOn(true);
          setNote("Push notifications are on for this device.");
        } else if (outcome === "denied") {
          setBlocker("denied");
        } else {
          setNote("Push notifications stay off: the browser's question was dismissed.");
        }
      } else {
        await disablePush();
        setOn(false);
        setNote("Push notifications are off for this device.");
      }
    } catch (err) {
      setError(err);
      setBlocker(pushBlocker());
    } finally {
      setBusy(false);
    }
  }

  return (
    <Switch
      label="Push notifications"
      hint="On this device, when the app is closed: mentions, replies, messages and event reminders."
      checked={on && blocker === null}
      disabled={blocker !== null || !checked}
      busy={busy}
      onChange={(next) => void toggle(next)}
    >
      {blocker !== null && <AlertText>{blockerMessage(blocker)}</AlertText>}
      <ErrorAlert
        error={error}
        message={error instanceof ApiError ? undefined : "This browser could not turn push notifications on or off. Try again later."}
      />
      {note && <StatusText>{note}</StatusText>}
    </Switch>
  );
}

function DigestSetting() {
  const [on, setOn] = useState<boolean | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const [unavailable, setUnavailable] = useState(false);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    let live = true;
    api<{ email_digest?: unknown }>("GET", "/me").then(
      (me) => {
        if (!live) return;
        // A server without the setting says nothing about it: the switch stays off and disabled.
        setOn(typeof me.email_digest === "boolean" ? me.email_digest : null);
        setUnavailable(typeof me.email_digest !== "boolean");
        setLoadError(null);
      },
      (err: unknown) => {
        if (live) setLoadError(err);
      },
    );
    return () => {
      live = false;
    };
  }, [reload]);

  async function toggle(next: boolean) {
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      const me = await api<{ email_digest?: unknown }>("PATCH", "/me", { email_digest: next });
      setOn(typeof me?.email_digest === "boolean" ? me.email_digest : next);
      setSaved(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Switch
      label="Email digest"
      hint="One email with the mentions and direct messages you have not read for a while."
      checked={on === true}
      disabled={on === null}
      busy={busy}
      onChange={(next) => void toggle(next)}
    >
      {loadError != null && <LoadError error={loadError} retry={() => setReload((n) => n + 1)} />}
      {unavailable && <p className="text-sm text-slate-600">Email digests are not available on this server.</p>}
      <ErrorAlert error={error} />
      {saved && <StatusText>{on ? "You will get the email digest." : "No more email digests."}</StatusText>}
    </Switch>
  );
}

export default function SettingsPage() {
  return (
    <div className="mx-auto w-full max-w-2xl space-y-6 p-4">
      <PageTitle>Settings</PageTitle>
      <section aria-labelledby="settings-notifications" className="rounded-lg border border-slate-200 bg-white px-4 py-2">
        <h2 id="settings-notifications" className="pt-2 text-lg font-semibold">
          Notifications
        </h2>
        <div className="divide-y divide-slate-200">
          <PushSetting />
          <DigestSetting />
        </div>
        <p className="pb-3 pt-1 text-sm text-slate-600">
          Each room's menu says which of its messages notify you: all, mentions only, or nothing.
        </p>
      </section>
      <section aria-labelledby="settings-privacy" className="rounded-lg border border-slate-200 bg-white px-4 py-2">
        <h2 id="settings-privacy" className="pt-2 text-lg font-semibold">
          Direct messages and privacy
        </h2>
        <div className="divide-y divide-slate-200">
          <DmPolicySetting />
          <BlockedList />
        </div>
      </section>
    </div>
  );
}
