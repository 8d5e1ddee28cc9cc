import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import { api, query, type Club, type ClubSearchItem, type ClubSearchOut } from "../lib/api";
import { useAuth } from "../lib/auth";
import { acceptInvite, loadMyClubs, membersLabel, parseInvite } from "../lib/clubs";
import { formatStart } from "../lib/events";
import { Button, Card, ErrorAlert, Field, PageTitle, inputClass, linkClass } from "../components/ui";

const SEARCH_DEBOUNCE_MS = 300;

export default function ClubsPage() {
  const { user } = useAuth();
  const navigate = useNavigate();
  const [params] = useSearchParams();

  // -- my clubs --
  const [mine, setMine] = useState<Club[] | null>(null);
  const [mineError, setMineError] = useState<unknown>(null);
  useEffect(() => {
    if (!user) return;
    let live = true;
    loadMyClubs().then(
      (clubs) => live && setMine(clubs),
      (err) => {
        if (!live) return;
        setMineError(err);
        setMine([]);
      },
    );
    return () => {
      live = false;
    };
  }, [user]);
  const mineIds = useMemo(() => new Set((mine ?? []).map((c) => c.id)), [mine]);

  // -- search (debounced; only the latest answer is shown) --
  const [q, setQ] = useState(params.get("q") ?? "");
  const [results, setResults] = useState<ClubSearchItem[] | null>(null);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [searchError, setSearchError] = useState<unknown>(null);
  const [searching, setSearching] = useState(false);
  const searchSeq = useRef(0);
  useEffect(() => {
    const n = ++searchSeq.current;
    const timer = setTimeout(async () => {
      setSearching(true);
      try {
        const out = await api<ClubSearchOut>("GET", `/clubs${query({ q: q.trim(), limit: 20 })}`);
        if (n !== searchSeq.current) return;
        setResults(out.items);
        setNextCursor(out.next_cursor);
        setSearchError(null);
      } catch (err) {
        if (n === searchSeq.current) setSearchError(err);
      } finally {
        if (n === searchSeq.current) setSearching(false);
      }
    }, q ? SEARCH_DEBOUNCE_MS : 0);
    return () => clearTimeout(timer);
  }, [q]);

  async function loadMore() {
    if (!nextCursor) return;
    const n = searchSeq.current;
    try {
      const out = await api<ClubSearchOut>("GET", `/clubs${query({ q: q.trim(), limit: 20, cursor: nextCursor })}`);
      if (n !== searchSeq.current) return;
      setResults((prev) => [...(prev ?? []), ...out.items.filter((c) => !prev?.some((p) => p.id === c.id))]);
      setNextCursor(out.next_cursor);
    } catch (err) {
      setSearchError(err);
    }
  }

  // -- joining --
  const [joining, setJoining] = useState<number | null>(null);
  const [joinError, setJoinError] = useState<unknown>(null);
  async function join(clubId: number, inviteCode?: string) {
    setJoining(clubId);
    setJoinError(null);
    try {
      const club = await api<Club>("POST", `/clubs/${clubId}/join`, inviteCode ? { invite_code: inviteCode } : {});
      void navigate(`/clubs/${club.id}`);
    } catch (err) {
      setJoinError(err);
      setJoining(null);
    }
  }

  const [invite, setInvite] = useState(params.get("invite") ?? "");
  const [inviteError, setInviteError] = useState<unknown>(null);
  async function joinWithCode(e: FormEvent) {
    e.preventDefault();
    setInviteError(null);
    const code = parseInvite(invite);
    if (!code) {
      setInviteError(new Error("That does not look like an invite code: paste the code (or the link) as you got it"));
      return;
    }
    try {
      const club = await acceptInvite(code);
      void navigate(`/clubs/${club.id}`);
    } catch (err) {
      setInviteError(err);
    }
  }

  // -- creating --
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [visibility, setVisibility] = useState<"public" | "private">("public");
  const [createError, setCreateError] = useState<unknown>(null);
  const [creating, setCreating] = useState(false);
  async function create(e: FormEvent) {
    e.preventDefault();
    setCreating(true);
    setCreateError(null);
    try {
      const club = await api<Club>("POST", "/clubs", { name: name.trim(), description: description.trim(), visibility });
      void navigate(`/clubs/${club.id}`);
    } catch (err) {
      setCreateError(err);
      setCreating(false);
    }
  }

  return (
    <div className="mx-auto grid max-w-6xl gap-6 p-4 md:grid-cols-[1fr_20rem]">
      <div className="space-y-4">
        <PageTitle>Clubs</PageTitle>
        <Field label="Search clubs" id="club-search">
          <input
            id="club-search"
            type="search"
            value={q}
            onChange={(e) => setQ(e.target.value)}
            placeholder="chess, hiking, book club…"
            className={inputClass}
          />
        </Field>
        <ErrorAlert error={searchError} />
        <ErrorAlert error={joinError} />
        {results === null && searching && <p className="text-slate-500">Searching…</p>}
        {results !== null && results.length === 0 && (
          <p className="text-slate-600">{q.trim() ? "No club matches that search." : "There are no clubs yet."}</p>
        )}
        {results !== null && results.length > 0 && (
          <ul aria-label="Club directory" aria-busy={searching} className="space-y-3">
            {results.map((club) => (
              <li key={club.id}>
                <Card className="flex items-start justify-between gap-4">
                  <div className="min-w-0">
                    <h2 className="font-medium text-slate-900">{club.name}</h2>
                    {club.description && <p className="mt-1 line-clamp-2 text-sm text-slate-600">{club.description}</p>}
                    <p className="mt-2 flex flex-wrap items-center gap-x-2 gap-y-1 text-sm text-slate-700">
                      <span>{membersLabel(club.member_count)}</span>
                      {club.visibility === "private" && (
                        <span className="text-xs font-medium uppercase text-slate-600">· private</span>
                      )}
                    </p>
                    {club.next_event ? (
                      <p className="mt-1 text-sm text-slate-700">
                        {club.next_event.status === "live" ? "Live now: " : "Next: "}
                        <Link to={`/events/${club.next_event.id}`} className={linkClass}>
                          {club.next_event.title}
                        </Link>
                        {club.next_event.status !== "live" && (
                          <>
                            {" · "}
                            <time dateTime={club.next_event.starts_at}>{formatStart(club.next_event.starts_at)}</time>
                          </>
                        )}
                      </p>
                    ) : (
                      <p className="mt-1 text-sm text-slate-600">No upcoming events</p>
                    )}
                  </div>
                  {mineIds.has(club.id) || club.my_role ? (
                    <span className="shrink-0 rounded bg-emerald-50 px-2 py-1 text-xs font-medium text-emerald-800">
                      Joined
                    </span>
                  ) : (
                    <Button
                      className="shrink-0"
                      disabled={joining === club.id}
                      onClick={() => void join(club.id)}
                    >
                      Join {club.name}
                    </Button>
                  )}
                </Card>
              </li>
            ))}
          </ul>
        )}
        {nextCursor && (
          <Button variant="secondary" onClick={() => void loadMore()}>
            More clubs
          </Button>
        )}
      </div>

      <aside className="space-y-6">
        <Card>
          <h2 className="mb-2 font-semibold">My clubs</h2>
          <ErrorAlert error={mineError} className="mb-2" />
          {mine === null && <p className="text-sm text-slate-500">Loading…</p>}
          {mine !== null && mine.length === 0 && (
            <p className="text-sm text-slate-600">You have not joined a club yet.</p>
          )}
          {mine !== null && mine.length > 0 && (
            <ul aria-label="My clubs" className="space-y-1">
              {mine.map((club) => (
                <li key={club.id} className="flex items-center justify-between gap-2">
                  <Link to={`/clubs/${club.id}`} className={linkClass}>
                    {club.name}
                  </Link>
                  {club.my_role && club.my_role !== "member" && (
                    <span className="text-xs text-slate-500">{club.my_role}</span>
                  )}
                </li>
              ))}
            </ul>
          )}
        </Card>

        <Card>
          <h2 className="mb-2 font-semibold">Join a private club</h2>
          <form onSubmit={(e) => void joinWithCode(e)} className="space-y-3">
            <Field label="Invite code" id="invite-code" hint="As you got it">
              <input
                id="invite-code"
                value={invite}
                onChange={(e) => setInvite(e.target.value)}
                autoComplete="off"
                className={inputClass}
              />
            </Field>
            <ErrorAlert error={inviteError} />
            <Button type="submit" variant="secondary">
              Join with code
            </Button>
          </form>
        </Card>

        <Card>
          <h2 className="mb-2 font-semibold">Start a club</h2>
          <form onSubmit={(e) => void create(e)} className="space-y-3">
            <Field label="Club name" id="club-name">
              <input
                id="club-name"
                value={name}
                onChange={(e) => setName(e.target.value)}
                maxLength={100}
                required
                className={inputClass}
              />
            </Field>
            <Field label="Description" id="club-description">
              <textarea
                id="club-description"
                value={description}
                onChange={(e) => setDescription(e.target.value)}
                maxLength={2000}
                rows={3}
                className={inputClass}
              />
            </Field>
            <Field label="Visibility" id="club-visibility">
              <select
                id="club-visibility"
                value={visibility}
                onChange={(e) => setVisibility(e.target.value as "public" | "private")}
                className={inputClass}
              >
                <option value="public">Public (anyone can join)</option>
                <option value="private">Private (invite code)</option>
              </select>
            </Field>
            <ErrorAlert error={createError} />
            <Button type="submit" disabled={creating}>
              Create club
            </Button>
          </form>
        </Card>
      </aside>
    </div>
  );
}
