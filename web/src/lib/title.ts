// The document title: the app's name, with the unread count in front so it shows on the browser tab.
export const APP_NAME = "ClubHoloHub";

/** "(3) ClubHoloHub"; "ClubHoloHub" with nothing unread; "(99+) ClubHoloHub" past 99. */
export function formatTitle(unread: number, base: string = APP_NAME): string {
  const n = Math.floor(unread);
  if (!Number.isFinite(n) || n <= 0) return base;
  return `(${n > 99 ? "99+" : n}) ${base}`;
}
