import { unreadLabel } from "../../lib/unread";

/** "3 unread" as a pill (nothing for 0); `tone` for light or accent backgrounds. */
export function UnreadBadge({ count, className = "" }: { count: number; className?: string }) {
  if (!(count > 0)) return null;
  return (
    <span className={`shrink-0 rounded-full bg-red-600 px-2 py-0.5 text-xs font-semibold leading-none text-white no-underline ${className}`}>
      {unreadLabel(count)}
    </span>
  );
}
