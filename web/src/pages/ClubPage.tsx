import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore, type FormEvent } from "react";
import { Link, Navigate, useLocation, useParams, useSearchParams } from "react-router-dom";
import { api, type Club, type Member, type Room, type Schema } from "../lib/api";
import { useAuth } from "../lib/auth";
import { hub, useRoomSession, useUnread, type RoomSession, type RoomState } from "../lib/rooms";
import { ChatRoom, type RoomTarget } from "../components/chat/ChatRoom";
import { Drawer, DrawerButton } from "../components/shell/Drawer";
import { UnreadBadge } from "../components/shell/UnreadBadge";
import { useFillViewport } from "../components/shell/fill";
import { WIDE, WIDER, useMediaQuery } from "../components/shell/useMediaQuery";
import { refreshClubs } from "../lib/unreadClubs";
import { parseUnread } from "../lib/unread";
import { parseNotificationCount, setNotificationCount } from "../lib/notifications";
import { removedMessage } from "../lib/errors";
import { PostReelButton } from "../components/media/PostReel";
import { AlertText, Button, ErrorAlert, Field, Loading, PageTitle, inputClass, linkClass } from "../components/ui";
import { MessageButton } from "../components/MessageButton";

type RoomsOut = Schema<"RoomsOut">;
type MembersOut = Schema<"MembersOut">;

/** Holds (joins) every room of the club while the club is on screen: their messages count as unread and
 * their presence shows in the member list. */
function useClubSessions(roomIds: readonly number[]): RoomSession[] {
  const key = roomIds.join(",");
  // The hub keeps a room's session for the whole login, so it can be named before it is held.
  const sessions = useMemo(() => (key ? key.split(",").map((id) => hub.session(Number(id))) : []), [key]);
  useEffect(() => {
    const held = sessions.map((s) => hub.acquire(s.roomId));
    return () => held.forEach((s) => hub.release(s));
  }, [sessions]);
  return sessions;
}

/** The states of the club's room sessions, re-rendering when any of them changes. */
function useSessionStates(sessions: readonly RoomSession[]): RoomState[] {
  const cache = useRef<RoomState[]>([]);
  const subscribe = useCallback(
    (cb: () => void) => {
      const offs = sessions.map((s) => s.subscribe(cb));
      return () => offs.forEach((off) => off());
    },
    [sessions],
  );
  const getSnapshot = useCallback(() => {
    const next = sessions.map((s) => s.getState());
    const prev = cache.current;
    if (next.length === prev.length && next.every((st, i) => st === prev[i])) return prev;
    cache.current = next;
    return next;
  }, [sessions]);
  return useSyncExternalStore(subscribe, getSnapshot);
}

/** Who is online, from the members list and then the presence events of the club's rooms. */
function useOnline(states: readonly RoomState[], members: readonly Member[] | null): Set<number> {
  return useMemo(() => {
    const online = new Set<number>();
    const seen = new Set<number>();
    for (const st of states) {
      for (const id of st.online) online.add(id);
      for (const id of st.presenceSeen) seen.add(id);
    }
    for (const m of members ?? []) if (m.online && !seen.has(m.user_id)) online.add(m.user_id);
    return online;
  }, [states, members]);
}

function ModeratorTools({ club, onRoomCreated }: { club: Club; onRoomCreated: (room: Room) => void }) {
  const [invite, setInvite] = useState<string | null>(null);
  const [inviteError, setInviteError] = useState<unknown>(null);
  const [roomName, setRoomName] = useState("");
  const [roomError, setRoomError] = useState<unknown>(null);

  async function createInvite() {
    setInviteError(null);
    try {
      const out = await api<Schema<"InviteOut">>("POST", `/clubs/${club.id}/invites`, {});
      setInvite(out.code);
    } catch (err) {
      setInviteError(err);
    }
  }

  async function createRoom(e: FormEvent) {
    e.preventDefault();
    setRoomError(null);
    try {
      const room = await api<Room>("POST", `/clubs/${club.id}/rooms`, { name: roomName.trim() });
      setRoomName("");
      onRoomCreated(room);
    } catch (err) {
      setRoomError(err);
    }
  }

  return (
    <details className="mt-4 rounded border border-slate-200 bg-white p-2 text-sm">
      <summary className="cursor-pointer font-medium text-slate-700">Manage club</summary>
      <div className="mt-2 space-y-3">
        <p className="flex flex-col gap-1">
          <Link to={`/clubs/${club.id}/reports`} className={linkClass}>
            Report queue
          </Link>
          <Link to={`/clubs/${club.id}/moderation`} className={linkClass}>
            Moderation settings
          </Link>
        </p>
        <div>
          <Button small variant="secondary" onClick={() => void createInvite()}>
            Create invite code
          </Button>
          {invite && (
            <p className="mt-1 break-all">
              Invite code: <code className="rounded bg-slate-100 px-1">{invite}</code>
            </p>
          )}
          <ErrorAlert error={inviteError} className="mt-1" />
        </div>
        <form onSubmit={(e) => void createRoom(e)} className="space-y-2">
          <Field label="Room name" id="new-room-name">
            <input
              id="new-room-name"
              value={roomName}
              onChange={(e) => setRoomName(e.target.value)}
              maxLength={100}
              className={inputClass}
            />
          </Field>
          <ErrorAlert error={roomError} />
          <Button small type="submit" disabled={!roomName.trim()}>
            Create room
          </Button>
        </form>
      </div>
    </details>
  );
}

export default function ClubPage() {
  const params = useParams();
  const clubId = Number(params.clubId);
  const roomParam = params.roomId ? Number(params.roomId) : null;
  if (!Number.isFinite(clubId)) return <Navigate to="/clubs" replace />;
  // Another club: every piece of state starts afresh.
  return <ClubView key={clubId} clubId={clubId} roomParam={roomParam} />;
}

function ClubView({ clubId, roomParam }: { clubId: number; roomParam: number | null }) {
  const { user } = useAuth();
  useFillViewport();
  const wide = useMediaQuery(WIDE);
  const wider = useMediaQuery(WIDER);
  const [drawer, setDrawer] = useState<"rooms" | "members" | null>(null);

  const [club, setClub] = useState<Club | null>(null);
  const [rooms, setRooms] = useState<Room[] | null>(null);
  const [members, setMembers] = useState<Member[] | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [joinError, setJoinError] = useState<unknown>(null);
  const [reloadKey, setReloadKey] = useState(0);

  const loadMembers = useCallback(
    () =>
      api<MembersOut>("GET", `/clubs/${clubId}/members`).then(
        (out) => setMembers(out.members),
        () => undefined, // the list keeps what it had
      ),
    [clubId],
  );

  useEffect(() => {
    let live = true;
    void (async () => {
      try {
        const c = await api<Club>("GET", `/clubs/${clubId}`);
        if (!live) return;
        setClub(c);
        if (!c.my_role) {
          setRooms([]);
          setMembers(null);
          return;
        }
        const [r, m] = await Promise.all([
          api<RoomsOut>("GET", `/clubs/${clubId}/rooms`),
          api<MembersOut>("GET", `/clubs/${clubId}/members`),
        ]);
        if (!live) return;
        setRooms(r.rooms);
        setMembers(m.members);
        setLoadError(null);
      } catch (err) {
        if (live) setLoadError(err);
      }
    })();
    return () => {
      live = false;
    };
  }, [clubId, reloadKey, user]);

  const isMember = !!club?.my_role;
  const roomIds = useMemo(() => (isMember && rooms ? rooms.map((r) => r.id) : []), [isMember, rooms]);
  const sessions = useClubSessions(roomIds);
  const states = useSessionStates(sessions);
  const online = useOnline(states, members);
  // `room:removed` (banned, or left in another tab): the club is closed to this member.
  const removed = states.find((st) => st.removed)?.removed ?? null;
  const unread = useUnread();

  const selected = rooms && rooms.length ? rooms.find((r) => r.id === roomParam) ?? (roomParam ? null : rooms[0]) : null;
  const session = useRoomSession(isMember && selected ? selected.id : null);

  // `?seq=N` (a notification's message): that message is brought into view and marked; every visit of
  // such an address (location.key) asks again.
  const [search] = useSearchParams();
  const location = useLocation();
  const seqParam = Number(search.get("seq"));
  const target = useMemo<RoomTarget | null>(
    () => (Number.isInteger(seqParam) && seqParam > 0 ? { seq: seqParam, key: `${location.key}:${seqParam}` } : null),
    [seqParam, location.key],
  );

  // Unread counts: from the server on entry, after a reconnect and when another device reads a room.
  useEffect(() => {
    if (!isMember) return;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const fetchUnread = () => {
      // Room ids only: the answer also has `mentions` and `notifications` (lib/unread.ts parseUnread).
      api<unknown>("GET", "/me/unread").then(
        (body) => {
          hub.setUnreadCounts(parseUnread(body));
          const notifications = parseNotificationCount(body);
          if (notifications !== null) setNotificationCount(notifications);
        },
        () => undefined,
      );
    };
    const soon = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(fetchUnread, 300);
    };
    fetchUnread();
    const offRead = hub.onRead(soon);
    // Messages sent before a room was joined arrive in no event: the server's count has them.
    const offJoined = hub.onJoined(soon);
    const offReconnect = hub.onReconnect(() => {
      soon();
      void loadMembers();
    });
    const poll = setInterval(fetchUnread, 60_000);
    return () => {
      offRead();
      offJoined();
      offReconnect();
      clearInterval(poll);
      if (timer) clearTimeout(timer);
    };
  }, [isMember, loadMembers]);

  // This user's own messages never count as unread.
  const myId = user?.id ?? null;
  useEffect(() => {
    hub.me = myId;
  }, [myId]);

  // The room on screen: its messages are read, not counted unread.
  const selectedId = selected?.id ?? null;
  // Picking a room closes the drawer it was picked in (adjusted while rendering).
  const [shownRoom, setShownRoom] = useState(selectedId);
  if (shownRoom !== selectedId) {
    setShownRoom(selectedId);
    setDrawer(null);
  }
  useEffect(() => {
    hub.activeRoom = selectedId;
    if (selectedId !== null) hub.setUnread(selectedId, 0);
    return () => {
      if (hub.activeRoom === selectedId) hub.activeRoom = null;
    };
  }, [selectedId]);

  // Somebody not in the list came online: a new member; fetch the list again.
  useEffect(() => {
    if (!members) return;
    const known = new Set(members.map((m) => m.user_id));
    if ([...online].some((id) => !known.has(id))) void loadMembers();
  }, [online, members, loadMembers]);

  const names = useMemo(() => new Map((members ?? []).map((m) => [m.user_id, m.display_name])), [members]);

  async function joinClub() {
    setJoinError(null);
    setLoadError(null);
    try {
      await api<Club>("POST", `/clubs/${clubId}/join`, {});
      setReloadKey((k) => k + 1);
      void refreshClubs(true);
    } catch (err) {
      setJoinError(err);
    }
  }

  if (loadError && !club) {
    return (
      <div className="mx-auto max-w-xl p-6">
        <ErrorAlert error={loadError} />
        <p className="mt-4">
          <Link to="/clubs" className={linkClass}>
            Back to the club directory
          </Link>
        </p>
      </div>
    );
  }
  if (!club || !user) return <Loading />;

  if (removed !== null) {
    return (
      <div className="mx-auto max-w-xl space-y-4 p-6">
        <PageTitle>{club.name}</PageTitle>
        <AlertText>{removedMessage(removed)}</AlertText>
        <p>
          <Link to="/clubs" className={linkClass}>
            Go to the club directory
          </Link>
        </p>
      </div>
    );
  }

  if (!isMember) {
    return (
      <div className="mx-auto max-w-xl space-y-4 p-6">
        <PageTitle>{club.name}</PageTitle>
        {club.description && <p className="text-slate-700">{club.description}</p>}
        <p className="text-slate-600">Join the club to see its rooms and members.</p>
        <ErrorAlert error={joinError} />
        <Button onClick={() => void joinClub()}>Join {club.name}</Button>
      </div>
    );
  }

  const canModerate = club.my_role === "owner" || club.my_role === "moderator";
  const sortedMembers = [...(members ?? [])].sort(
    (a, b) => Number(online.has(b.user_id)) - Number(online.has(a.user_id)) || a.display_name.localeCompare(b.display_name),
  );
  const unreadElsewhere = (rooms ?? []).reduce((sum, r) => sum + (r.id === selectedId ? 0 : unread.get(r.id) ?? 0), 0);

  const roomsPanel = (
    <>
      <p className="mb-3 text-xs text-slate-600">
        {club.visibility === "private" ? "Private club" : "Public club"}
        {club.my_role !== "member" ? ` · you are ${club.my_role}` : ""}
      </p>
      <nav aria-label="Rooms">
        {rooms && rooms.length > 0 ? (
          <ul className="space-y-0.5">
            {rooms.map((room) => {
              const n = unread.get(room.id) ?? 0;
              const current = room.id === selectedId;
              return (
                <li key={room.id} className="flex min-w-0 items-center justify-between gap-2">
                  <Link
                    to={`/clubs/${club.id}/rooms/${room.id}`}
                    aria-current={current ? "page" : undefined}
                    className={`min-w-0 flex-1 truncate rounded px-2 py-1 text-sm no-underline focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 ${
                      current ? "bg-indigo-100 font-semibold text-indigo-900" : "text-slate-700 hover:bg-slate-200"
                    } ${n > 0 && !current ? "font-semibold" : ""}`}
                  >
                    <span aria-hidden="true">#</span>
                    {room.name}
                  </Link>
                  {!current && <UnreadBadge count={n} />}
                </li>
              );
            })}
          </ul>
        ) : (
          <p className="text-sm text-slate-600">{rooms ? "No rooms yet." : "Loading rooms…"}</p>
        )}
      </nav>
      {canModerate && (
        <ModeratorTools
          club={club}
          onRoomCreated={(room) => {
            setRooms((prev) => [...(prev ?? []), room]);
            void refreshClubs(true);
          }}
        />
      )}
    </>
  );

  const membersPanel =
    members === null ? (
      <p className="text-sm text-slate-600">Loading…</p>
    ) : (
      <ul aria-label="Members" className="space-y-1">
        {sortedMembers.map((m) => {
          const isOnline = online.has(m.user_id);
          return (
            <li key={m.user_id} className="flex min-w-0 items-center gap-2 text-sm">
              <span
                aria-hidden="true"
                className={`inline-block h-2 w-2 shrink-0 rounded-full ${isOnline ? "bg-emerald-500" : "bg-slate-400"}`}
              />
              <Link to={`/users/${m.user_id}`} className="min-w-0 flex-1 truncate text-slate-800 no-underline hover:underline">
                {m.display_name}
              </Link>
              {m.role !== "member" && <span className="shrink-0 text-xs text-slate-600">{m.role}</span>}
              <span className={`shrink-0 text-xs ${isOnline ? "text-emerald-700" : "text-slate-600"}`}>
                {isOnline ? "online" : "offline"}
              </span>
              {m.user_id !== user.id && <MessageButton icon userId={m.user_id} name={m.display_name} className="shrink-0" />}
            </li>
          );
        })}
      </ul>
    );

  // Rooms beside the chat from `md`, members from `lg`; narrower, each in a drawer. min-w-0 and
  // minmax(0, 1fr) everywhere: one long message must not widen the chat past the screen.
  const columns = wider
    ? "grid-cols-[15rem_minmax(0,1fr)_15rem]"
    : wide
      ? "grid-cols-[15rem_minmax(0,1fr)]"
      : "grid-cols-[minmax(0,1fr)]";

  return (
    <div className="mx-auto flex h-full min-h-0 w-full min-w-0 max-w-7xl flex-col">
      <div className="flex min-w-0 shrink-0 items-center gap-2 border-b border-slate-200 bg-white px-3 py-2">
        {!wide && (
          <DrawerButton open={drawer === "rooms"} onOpen={() => setDrawer("rooms")} controls="club-rooms">
            Rooms
            <UnreadBadge count={unreadElsewhere} />
          </DrawerButton>
        )}
        <h1 tabIndex={-1} className="min-w-0 flex-1 truncate text-lg font-semibold" title={club.name}>
          {club.name}
        </h1>
        <Link to={`/clubs/${club.id}/events`} className={`shrink-0 text-sm ${linkClass}`}>
          Events
        </Link>
        <PostReelButton clubId={club.id} clubName={club.name} />
        {!wider && (
          <DrawerButton open={drawer === "members"} onOpen={() => setDrawer("members")} controls="club-members">
            Members
          </DrawerButton>
        )}
      </div>

      <div className={`grid min-h-0 min-w-0 flex-1 grid-rows-[minmax(0,1fr)] ${columns}`}>
        {wide && (
          <aside aria-label="Rooms of the club" className="min-h-0 overflow-y-auto border-r border-slate-200 bg-slate-50 p-3">
            {roomsPanel}
          </aside>
        )}

        <div className="flex min-h-0 min-w-0 flex-col bg-white">
          {loadError != null && <ErrorAlert error={loadError} className="m-3" />}
          {rooms && roomParam && !selected && (
            <ErrorAlert error={new Error("This room is not one of the club's rooms")} className="m-3" />
          )}
          {session && selected ? (
            <ChatRoom
              session={session}
              roomName={selected.name}
              me={user}
              canModerate={canModerate}
              names={names}
              target={target}
            />
          ) : (
            rooms === null && <Loading label="Loading the club…" />
          )}
        </div>

        {wider && (
          <aside aria-labelledby="members-title" className="min-h-0 overflow-y-auto border-l border-slate-200 bg-slate-50 p-3">
            <h2 id="members-title" className="mb-2 text-sm font-semibold uppercase tracking-wide text-slate-600">
              Members
            </h2>
            {membersPanel}
          </aside>
        )}
      </div>

      {!wide && (
        <Drawer open={drawer === "rooms"} onClose={() => setDrawer(null)} label="Rooms" id="club-rooms">
          {roomsPanel}
        </Drawer>
      )}
      {!wider && (
        <Drawer open={drawer === "members"} onClose={() => setDrawer(null)} label="Members" id="club-members" side="right">
          {membersPanel}
        </Drawer>
      )}
    </div>
  );
}
