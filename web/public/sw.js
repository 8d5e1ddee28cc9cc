// The service worker of ClubHoloHub (scope "/"): shows the server's Web Push messages and opens what they
// are about when clicked. It is registered by the Settings page only when the person turns push on
// (src/lib/push.ts); it caches nothing. A push's payload is a notification object as JSON:
// {id, kind, created_at, read, room_id?, seq?, event_id?, actor?: {id, display_name}, text}.

const TITLES = {
  mention: "You were mentioned",
  reply: "New reply",
  dm: "New direct message",
  event_reminder: "Event reminder",
  live_started: "Live now",
  report: "New report",
  achievement: "New achievement",
};

/** The app address a notification opens (the same rule as notificationHref in src/lib/notifications.ts). */
function hrefOf(n) {
  if ((n.kind === "event_reminder" || n.kind === "live_started") && n.event_id) return `/events/${n.event_id}`;
  if (n.kind === "achievement") return "/profile";
  if (n.room_id) return `/rooms/${n.room_id}${n.seq ? `?seq=${n.seq}` : ""}`;
  if (n.event_id) return `/events/${n.event_id}`;
  return "/";
}

self.addEventListener("install", () => {
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("push", (event) => {
  let n;
  try {
    n = event.data ? event.data.json() : {};
  } catch {
    n = { text: event.data ? event.data.text() : "" };
  }
  const actor = n.actor && n.actor.display_name ? n.actor.display_name : null;
  const title = TITLES[n.kind] || (actor ? `From ${actor}` : "ClubHoloHub");
  event.waitUntil(
    self.registration.showNotification(title, {
      body: actor && TITLES[n.kind] ? `${actor}: ${n.text || ""}` : n.text || "",
      tag: n.id !== undefined ? `notification-${n.id}` : undefined,
      timestamp: typeof n.created_at === "string" ? Date.parse(n.created_at) || Date.now() : Date.now(),
      data: { url: hrefOf(n), id: n.id },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL((event.notification.data && event.notification.data.url) || "/", self.location.origin).href;
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      // A tab of the app already open: bring it forward and take it there.
      for (const client of windows) {
        if (new URL(client.url).origin !== self.location.origin) continue;
        await client.focus();
        if ("navigate" in client) {
          try {
            await client.navigate(url);
            return;
          } catch {
            break; // an uncontrolled tab cannot be navigated from here: open a new one below
          }
        } else {
          return;
        }
      }
      await self.clients.openWindow(url);
    })(),
  );
});
