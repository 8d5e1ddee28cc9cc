import { useCallback, useEffect, useState, type FormEvent } from "react";
import { useParams } from "react-router-dom";

import { api } from "../lib/api";
import { useAuth } from "../lib/auth";
import { errorMessage } from "../lib/errors";
import { useSocket } from "../lib/socket";

interface Profile {
  id: number;
  display_name: string;
  bio: string;
  created_at?: string;
}

interface Achievement {
  code: string;
  title: string;
  description: string;
  awarded_at: string;
}

function formatDate(iso: string | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleDateString(undefined, { dateStyle: "medium" });
}

const input =
  "mt-1 w-full rounded border border-slate-300 px-3 py-2 focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500";

export default function ProfilePage() {
  const { userId } = useParams();
  const { user, refreshUser } = useAuth();
  const socket = useSocket();
  const requested = userId !== undefined ? Number(userId) : user?.id;
  const valid = requested !== undefined && Number.isInteger(requested) && requested > 0;
  const own = valid && user != null && requested === user.id;

  const [profile, setProfile] = useState<Profile | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [achievements, setAchievements] = useState<Achievement[] | null>(null);
  const [achError, setAchError] = useState<unknown>(null);

  const [displayName, setDisplayName] = useState("");
  const [bio, setBio] = useState("");
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);

  const loadProfile = useCallback(async () => {
    if (!valid) return;
    setLoadError(null);
    try {
      const p = own ? await api<Profile>("GET", "/me") : await api<Profile>("GET", `/users/${requested}`);
      setProfile(p);
      if (own) {
        setDisplayName(p.display_name);
        setBio(p.bio ?? "");
      }
    } catch (err) {
      setLoadError(err);
    }
  }, [valid, own, requested]);

  const loadAchievements = useCallback(async () => {
    if (!valid) return;
    try {
      const res = await api<{ achievements: Achievement[] }>("GET", `/users/${requested}/achievements`);
      setAchievements(res.achievements);
      setAchError(null);
    } catch (err) {
      setAchError(err);
    }
  }, [valid, requested]);

  useEffect(() => {
    setProfile(null);
    setAchievements(null);
    setSaved(false);
    setSaveError(null);
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
      const me = await api<Profile>("PATCH", "/me", { display_name: name, bio });
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

  if (!valid) {
    return (
      <div className="mx-auto max-w-2xl p-4">
        {userId !== undefined ? <p role="alert">This profile address is not valid.</p> : <p className="text-slate-600">Loading…</p>}
      </div>
    );
  }

  return (
    <div className="mx-auto max-w-2xl space-y-6 p-4">
      {loadError != null && (
        <div role="alert" className="rounded border border-red-300 bg-red-50 p-3 text-red-800">
          {errorMessage(loadError)}{" "}
          <button type="button" onClick={() => void loadProfile()} className="underline">
            Try again
          </button>
        </div>
      )}
      {profile === null && loadError == null && <p className="text-slate-600">Loading the profile…</p>}

      {profile && (
        <section aria-labelledby="profile-name" className="rounded-lg border border-slate-200 bg-white p-4">
          <h1 id="profile-name" className="text-2xl font-semibold">
            {profile.display_name}
          </h1>
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
          <form onSubmit={onSave} className="mt-3 space-y-3" noValidate>
            <label className="block">
              <span className="text-sm font-medium">Display name</span>
              <input
                className={input}
                value={displayName}
                maxLength={50}
                required
                onChange={(e) => {
                  setDisplayName(e.target.value);
                  setSaved(false);
                }}
              />
            </label>
            <label className="block">
              <span className="text-sm font-medium">Bio</span>
              <textarea
                className={input}
                value={bio}
                maxLength={500}
                rows={4}
                onChange={(e) => {
                  setBio(e.target.value);
                  setSaved(false);
                }}
              />
            </label>
            <div className="flex items-center gap-3">
              <button
                type="submit"
                disabled={saving}
                className="rounded bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-700 focus:outline-none focus:ring-2 focus:ring-indigo-500 focus:ring-offset-2 disabled:opacity-50"
              >
                Save
              </button>
              {saved && (
                <p role="status" className="text-green-800">
                  Saved.
                </p>
              )}
            </div>
          </form>
          {saveError != null && (
            <p role="alert" className="mt-3 rounded border border-red-300 bg-red-50 p-3 text-red-800">
              {errorMessage(saveError)}
            </p>
          )}
        </section>
      )}

      <section aria-labelledby="achievements-heading" className="rounded-lg border border-slate-200 bg-white p-4">
        <h2 id="achievements-heading" className="text-lg font-semibold">
          Achievements
        </h2>
        {achError != null && (
          <p role="alert" className="mt-2 rounded border border-red-300 bg-red-50 p-3 text-red-800">
            {errorMessage(achError)}
          </p>
        )}
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
