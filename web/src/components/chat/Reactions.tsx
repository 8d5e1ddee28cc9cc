export interface ReactionsProps {
  /** emoji -> ids of the users who reacted with it (ChatMessage.reactions). */
  reactions: Record<string, number[]> | undefined;
  /** The reader's user id. */
  meId: number;
  /** user_id -> display name (the club's members), for "who reacted"; unknown ids read "a member". */
  names?: ReadonlyMap<number, string>;
  /** False hides the "Add reaction" button (a deleted message). Default true. */
  canAdd?: boolean;
  /** Adds (true) or removes (false) the reader's reaction `emoji`. */
  onReact: (emoji: string, add: boolean) => void;
}

/** The reactions under a message; each one toggles the reader's own reaction. */
export function Reactions({ reactions, meId, onReact }: ReactionsProps) {
  const shown = Object.entries(reactions ?? {}).filter(([, users]) => users.length > 0);
  if (shown.length === 0) return null;
  return (
    <ul aria-label="Reactions" className="mt-1 flex flex-wrap gap-1">
      {shown.map(([emoji, users]) => {
        const mine = users.includes(meId);
        return (
          <li key={emoji}>
            <button
              type="button"
              aria-pressed={mine}
              onClick={() => onReact(emoji, !mine)}
              className={`rounded-full border px-2 text-xs ${mine ? "border-indigo-300 bg-indigo-50" : "border-slate-200 bg-white"}`}
            >
              {emoji} {users.length}
            </button>
          </li>
        );
      })}
    </ul>
  );
}
