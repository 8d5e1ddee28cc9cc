import { useCallback, useEffect, useState, type FormEvent } from "react";
import { useParams } from "react-router-dom";

import { AlertText, Button, ErrorAlert, Field, LoadError, Loading, PageTitle, StatusText, inputClass } from "../components/ui";
import { api, type Achievement, type Schema, type User } from "../lib/api";
import { useAuth } from "../lib/auth";
import { useSocket } from "../lib/socket";
import { MessageButton } from "../components/MessageButton";

/** One's own profile (`GET /me`) or another member's (`GET /users/{id}`): the fields both have. */
type Profile = User;

function formatDate(iso: string | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleDateString(undefined, { dateStyle: "medium" });
}

export default function ProfilePage() {
  const { userId } = useParams();
  const { user } = useAuth();
  const requested = userId !== undefined ? Number(userId) : user?.id;
  if (requested === undefined || !Number.isInteger(requested) || requested <= 0) {
    return (
      <div className="mx-auto max-w-2xl p-4">
        {userId !== undefined ? <AlertText>This profile address is not valid.</AlertText> : <Loading className="" />}
      </div>
    );
  }
  const own = user != null && requested === user.id;
  // Another person (or oneself after all): every piece of state starts afresh.
  return <ProfileView key={`${requested}-${own}`} requested={requested} own={own} />;
}

function ProfileView({ requested, own }: { requested: number; own: boolean }) {
  const { refreshUser } = useAuth();
  const socket = useSocket();

  const [profile, setProfile] = useState<Profile | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [achievements, setAchievements] = useState<Achievement[] | null>(null);
  const [achError, setAchError] = useState<unknown>(null);

  const [displayName, setDisplayName] = useState("");
  const [bio, setBio] = useState("");
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);

  const loadProfile = useCallback(
    () =>
      api<Profile>("GET", own ? "/me" : `/users/${requested}`).then(
        (p) => {
          setProfile(p);
          if (own) {
            setDisplayName(p.display_name);
            setBio(p.bio ?? "");
          }
        },
        (err: unknown) => setLoadError(err),
      ),
    [own, requested],
  );

  const loadAchievements = useCallback(
    () =>
      api<Schema<"AchievementsOut">>("GET", `/users/${requested}/achievements`).then(
        (res) => {
          setAchievements(res.achievements);
          setAchError(null);
        },
        (err: unknown) => setAchError(err),
      ),
    [requested],
  );

  useEffect(() => {
    void loadProfile();
    void loadAchievements();
  }, [loadProfile, loadAchievements]);

  // A new achievement of one's own arrives on the socket: show it.
  useEffect(() => {
    if (!socket || !own) return;
    const onAchievement = () => void loadAchievements();
    socket.on("achievement", onAchievement);
    return () => {
      socket.off("achievement", onAchievement);
    };
  }, [socket, own, loadAchievements]);

  async function onSave(e: FormEvent) {
    e.preventDefault();
    setSaveError(null);
    setSaved(false);
    const name = displayName.trim();
    if (!name) {
      setSaveError(new Error("The display name cannot be empty."));
      return;
    }
    setSaving(true);
    try {
      const me = await api<Schema<"MeOut">>("PATCH", "/me", { display_name: name, bio });
      setProfile(me);
      setDisplayName(me.display_name);
      setBio(me.bio ?? "");
      setSaved(true);
      await refreshUser();
    } catch (err) {
      setSaveError(err);
    } finally {
      setSaving(false);
    }
  }

  return (
    <div className="mx-auto max-w-2xl space-y-6 p-4">
      {loadError != null && (
        <LoadError
          error={loadError}
          retry={() => {
            setLoadError(null);
            void loadProfile();
          }}
        />
      )}
      {profile === null && loadError == null && <p className="text-slate-600">Loading the profile…</p>}

      {profile && (
        <section aria-labelledby="profile-name" className="rounded-lg border border-slate-200 bg-white p-4">
          <div className="flex flex-wrap items-start justify-between gap-2">
            <PageTitle id="profile-name">{profile.display_name}</PageTitle>
            {!own && <MessageButton userId={requested} name={profile.display_name} small={false} />}
          </div>
          {profile.bio ? (
            <p className="mt-2 whitespace-pre-wrap text-slate-800">{profile.bio}</p>
          ) : (
            <p className="mt-2 text-slate-500">{own ? "You have not written a bio yet." : "No bio yet."}</p>
          )}
          {profile.created_at && <p className="mt-2 text-sm text-slate-600">Member since {formatDate(profile.created_at)}</p>}
        </section>
      )}

      {own && profile && (
        <section aria-labelledby="edit-profile" className="rounded-lg border border-slate-200 bg-white p-4">
          <h2 id="edit-profile" className="text-lg font-semibold">
            Edit your profile
          </h2>
          <form onSubmit={(e) => void onSave(e)} className="mt-3 space-y-3" noValidate>
            <Field label="Display name" id="profile-display-name">
              <input
                id="profile-display-name"
                className={inputClass}
                value={displayName}
                maxLength={50}
                required
                onChange={(e) => {
                  setDisplayName(e.target.value);
                  setSaved(false);
                }}
              />
            </Field>
            <Field label="Bio" id="profile-bio">
              <textarea
                id="profile-bio"
                className={inputClass}
                value={bio}
                maxLength={500}
                rows={4}
                onChange={(e) => {
                  setBio(e.target.value);
                  setSaved(false);
                }}
              />
            </Field>
            <div className="flex items-center gap-3">
              <Button type="submit" disabled={saving}>
                Save
              </Button>
              {saved && <StatusText>Saved.</StatusText>}
            </div>
          </form>
          <ErrorAlert error={saveError} className="mt-3" />
        </section>
      )}

      <section aria-labelledby="achievements-heading" className="rounded-lg border border-slate-200 bg-white p-4">
        <h2 id="achievements-heading" className="text-lg font-semibold">
          Achievements
        </h2>
        <ErrorAlert error={achError} className="mt-2" />
        {achievements === null && achError == null && <p className="mt-2 text-slate-600">Loading achievements…</p>}
        {achievements !== null && (
          <ul aria-label="Achievements" className="mt-2 space-y-2">
            {achievements.length === 0 && <li className="text-slate-600">No achievements yet</li>}
            {achievements.map((a) => (
              <li key={a.code} className="rounded border border-slate-200 p-3">
                <p className="font-medium">{a.title}</p>
                <p className="text-sm text-slate-700">{a.description}</p>
                <p className="text-xs text-slate-500">
                  <time dateTime={a.awarded_at}>{formatDate(a.awarded_at)}</time>
                </p>
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
