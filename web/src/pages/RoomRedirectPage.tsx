// `/rooms/:roomId?seq=N`: a room named without its club (a notification, a push message's click) goes to
// `/clubs/{club}/rooms/{room}?seq=N` once the club is known (the hub's, else the person's clubs' room
// lists, fetched again).
import { useEffect, useState } from "react";
import { Link, Navigate, useLocation, useParams } from "react-router-dom";
import { hub } from "../lib/rooms";
import { findClubOfRoom } from "../lib/unreadClubs";
import { isDm, loadDms } from "../lib/dms";
import { ErrorAlert, Loading, PageTitle, linkClass } from "../components/ui";

export default function RoomRedirectPage() {
  const { roomId } = useParams();
  const location = useLocation();
  const id = Number(roomId);
  const valid = Number.isInteger(id) && id > 0;
  const known = valid ? (isDm(id) ? "dm" : hub.clubOf(id)) : undefined;
  // A DM: the conversation (`club` "dm").
  const [club, setClub] = useState<{ room: number; club: number | "dm" | null } | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    if (!valid || known !== undefined) return;
    let live = true;
    const find = async (): Promise<number | "dm" | null> => {
      if (isDm(id)) return "dm";
      const clubId = await findClubOfRoom(id);
      if (clubId !== undefined) return clubId;
      await loadDms();
      return isDm(id) ? "dm" : null;
    };
    find().then(
      (clubId) => {
        if (live) setClub({ room: id, club: clubId });
      },
      (err: unknown) => {
        if (live) setError(err);
      },
    );
    return () => {
      live = false;
    };
  }, [id, valid, known]);

  const clubId = known ?? (club?.room === id ? club.club : undefined);
  if (valid && clubId === "dm") return <Navigate to={`/dms/${id}${location.search}`} replace />;
  if (valid && typeof clubId === "number") {
    return <Navigate to={`/clubs/${clubId}/rooms/${id}${location.search}`} replace />;
  }
  if (valid && clubId === undefined && error === null) return <Loading label="Opening the conversation…" />;
  return (
    <div className="mx-auto max-w-xl space-y-4 p-6">
      <PageTitle>Conversation</PageTitle>
      {error !== null ? (
        <ErrorAlert error={error} />
      ) : (
        <div role="alert" className="rounded border border-amber-300 bg-amber-50 p-4 text-amber-900">
          {valid
            ? "This conversation is not in any of your clubs (or cannot be opened in the web app yet)."
            : "This address names no room."}
        </div>
      )}
      <p>
        <Link to="/clubs" className={linkClass}>
          Go to your clubs
        </Link>
      </p>
    </div>
  );
}
