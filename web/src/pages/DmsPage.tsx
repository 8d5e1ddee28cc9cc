// `/dms` and `/dms/:roomId`: direct messages. The list ("Direct messages", newest activity first, unread
// counts) beside the conversation from `md`; on phones the list alone at `/dms`, the conversation alone at
// `/dms/:roomId` (with a link back). A conversation is the room chat view (ChatRoom), `?seq=N` included.
import { useEffect, useMemo, useState } from "react";
import { Link, Navigate, useLocation, useParams, useSearchParams } from "react-router-dom";
import { useAuth } from "../lib/auth";
import { messageSnippet } from "../lib/chatView";
import { messageTime } from "../lib/dates";
import { dmById, dmTitle, dmUnread, loadDms, useDms, type DmRoom } from "../lib/dms";
import { hub, useRoomSession, useUnread } from "../lib/rooms";
import { ChatRoom, type RoomTarget } from "../components/chat/ChatRoom";
import { UnreadBadge } from "../components/shell/UnreadBadge";
import { useFillViewport } from "../components/shell/fill";
import { WIDE, useMediaQuery } from "../components/shell/useMediaQuery";
import { BackLink, Button, ErrorAlert } from "../components/ui";

/** How many of the newest DMs are held (joined) while the list is on screen: their new messages move the
 * list and count as unread at once; older ones follow the server's counts. */
const HELD_DMS = 20;

function useHeldDms(rooms: readonly DmRoom[]): void {
  const key = rooms
    .slice(0, HELD_DMS)
    .map((r) => r.room_id)
    .join(",");
  useEffect(() => {
    if (!key) return;
    const held = key.split(",").map((id) => hub.acquire(Number(id)));
    return () => held.forEach((s) => hub.release(s));
  }, [key]);
}

function DmList({ selected, meId, now }: { selected: number | null; meId: number; now: number }) {
  const dms = useDms();
  const unread = useUnread();
  const counts = useMemo(() => dmUnread(dms.rooms, unread).byRoom, [dms.rooms, unread]);
  return (
    <nav aria-labelledby="dm-list-title" className="flex min-h-0 flex-col">
      <h2 id="dm-list-title" className="mb-2 text-sm font-semibold uppercase tracking-wide text-slate-600">
        Direct messages
      </h2>
      {dms.error != null && (
        <ErrorAlert error={dms.error} className="mb-2">
          <Button small variant="secondary" className="ml-2" onClick={() => void loadDms()}>
            Try again
          </Button>
        </ErrorAlert>
      )}
      {dms.rooms.length > 0 ? (
        <ul className="space-y-0.5">
          {dms.rooms.map((r) => {
            const n = r.room_id === selected ? 0 : counts.get(r.room_id) ?? 0;
            const current = r.room_id === selected;
            const last = r.last_message;
            return (
              <li key={r.room_id}>
                <Link
                  to={`/dms/${r.room_id}`}
                  aria-current={current ? "page" : undefined}
                  className={`flex min-w-0 flex-col rounded px-2 py-1.5 text-sm no-underline focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 ${
                    current ? "bg-indigo-100 text-indigo-900" : "text-slate-800 hover:bg-slate-200"
                  }`}
                >
                  <span className="flex min-w-0 items-center justify-between gap-2">
                    <span className={`min-w-0 truncate ${n > 0 || current ? "font-semibold" : "font-medium"}`}>{dmTitle(r, meId)}</span>
                    <UnreadBadge count={n} />
                  </span>
                  {last && (
                    <span className="flex min-w-0 gap-2 text-xs text-slate-600">
                      <span className="min-w-0 flex-1 truncate">
                        {last.author?.id === meId ? "You: " : ""}
                        {last.deleted ? "message deleted" : messageSnippet(last, 60)}
                      </span>
                      {typeof last.ts === "number" && <time dateTime={new Date(last.ts).toISOString()}>{messageTime(last.ts, now)}</time>}
                    </span>
                  )}
                </Link>
              </li>
            );
          })}
        </ul>
      ) : (
        <p className="text-sm text-slate-600">
          {dms.loaded ? "No conversations yet. Use “Message” next to a club member to start one." : "Loading conversations…"}
        </p>
      )}
    </nav>
  );
}

export default function DmsPage() {
  const params = useParams();
  const roomParam = params.roomId ? Number(params.roomId) : null;
  if (roomParam !== null && !(Number.isInteger(roomParam) && roomParam > 0)) return <Navigate to="/dms" replace />;
  return <DmsView roomId={roomParam} />;
}

function DmsView({ roomId }: { roomId: number | null }) {
  const { user } = useAuth();
  useFillViewport();
  const wide = useMediaQuery(WIDE);
  const dms = useDms();
  useHeldDms(dms.rooms);
  const session = useRoomSession(roomId);
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 60_000);
    return () => clearInterval(t);
  }, []);

  // A conversation not in the list (just opened, or opened on another device): the list again.
  const listed = roomId !== null && dms.rooms.some((r) => r.room_id === roomId);
  useEffect(() => {
    if (roomId !== null && dms.loaded && !listed) void loadDms();
  }, [roomId, dms.loaded, listed]);

  // The conversation on screen: its messages are read, not counted unread.
  useEffect(() => {
    hub.activeRoom = roomId;
    if (roomId !== null) hub.setUnread(roomId, 0);
    return () => {
      if (hub.activeRoom === roomId) hub.activeRoom = null;
    };
  }, [roomId]);

  const [search] = useSearchParams();
  const location = useLocation();
  const seqParam = Number(search.get("seq"));
  const target = useMemo<RoomTarget | null>(
    () => (Number.isInteger(seqParam) && seqParam > 0 ? { seq: seqParam, key: `${location.key}:${seqParam}` } : null),
    [seqParam, location.key],
  );

  const room = roomId !== null ? dms.rooms.find((r) => r.room_id === roomId) ?? dmById(roomId) : undefined;
  const names = useMemo(() => new Map((room?.members ?? []).map((m) => [m.id, m.display_name])), [room]);
  if (!user) return null;
  const title = room ? dmTitle(room, user.id) : "Direct message";

  const list = <DmList selected={roomId} meId={user.id} now={now} />;
  const chat =
    session && roomId !== null ? (
      <ChatRoom session={session} roomName={title} me={user} canModerate={false} canPin names={names} target={target} kind="dm" />
    ) : (
      <div className="flex flex-1 items-center justify-center p-6 text-center text-slate-600">
        <p>Pick a conversation, or use “Message” next to a club member to start one.</p>
      </div>
    );

  // One tree for both widths (the list beside the conversation from md; on phones one of them, with a link
  // back): the conversation is not mounted afresh when the width crosses the breakpoint.
  const showList = wide || roomId === null;
  const showChat = wide || roomId !== null;
  return (
    <div className="mx-auto flex h-full min-h-0 w-full min-w-0 max-w-7xl flex-col">
      <h1 className="sr-only">Direct messages</h1>
      <div
        className={`grid min-h-0 min-w-0 flex-1 grid-rows-[minmax(0,1fr)] ${
          wide ? "grid-cols-[17rem_minmax(0,1fr)]" : "grid-cols-[minmax(0,1fr)]"
        }`}
      >
        {showList ? (
          <aside
            aria-label="Conversations"
            className={`min-h-0 overflow-y-auto p-3 ${wide ? "border-r border-slate-200 bg-slate-50" : "mx-auto w-full max-w-2xl p-4"}`}
          >
            {list}
          </aside>
        ) : null}
        {showChat ? (
          <div className="flex min-h-0 min-w-0 flex-col bg-white">
            {!wide && (
              <div className="shrink-0 border-b border-slate-200 px-3 py-1.5">
                <BackLink to="/dms">All conversations</BackLink>
              </div>
            )}
            {chat}
          </div>
        ) : null}
      </div>
    </div>
  );
}
