// Web Push on this device: the service worker (public/sw.js, scope "/"), the browser's permission and the
// subscription the server keeps (`POST`/`DELETE /me/push-subscriptions`, the VAPID key from
// `GET /push/vapid-public-key`). The permission prompt comes only from `enablePush`, which the Settings
// page calls on the person's click.
import { api } from "./api";

export const SW_URL = "/sw.js";

/** Why push cannot be had here, or null when it can. */
export type PushBlocker = "unsupported" | "insecure" | "denied" | null;

interface PushEnv {
  isSecureContext?: boolean;
  hasServiceWorker: boolean;
  hasPushManager: boolean;
  hasNotification: boolean;
  permission?: NotificationPermission;
}

function browserEnv(): PushEnv {
  const w = typeof window !== "undefined" ? window : undefined;
  return {
    isSecureContext: w?.isSecureContext,
    hasServiceWorker: typeof navigator !== "undefined" && "serviceWorker" in navigator,
    hasPushManager: !!w && "PushManager" in w,
    hasNotification: !!w && "Notification" in w,
    permission: w && "Notification" in w ? Notification.permission : undefined,
  };
}

/** What stands in the way of push notifications on this browser (pure, for the tests). */
export function pushBlocker(env: PushEnv = browserEnv()): PushBlocker {
  if (env.isSecureContext === false) return "insecure";
  if (!env.hasServiceWorker || !env.hasPushManager || !env.hasNotification) return "unsupported";
  if (env.permission === "denied") return "denied";
  return null;
}

/** The sentence a blocker is said with. */
export function blockerMessage(blocker: PushBlocker): string {
  switch (blocker) {
    case "unsupported":
      return "This browser does not support push notifications. You still get them in the app while it is open.";
    case "insecure":
      return "Push notifications need a secure (https) connection to this site.";
    case "denied":
      return "Notifications are blocked for this site. Allow them in your browser's site settings, then try again.";
    default:
      return "";
  }
}

/** A base64url VAPID key as the bytes `pushManager.subscribe` takes. */
export function urlBase64ToUint8Array(base64url: string): Uint8Array<ArrayBuffer> {
  const padded = base64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (base64url.length % 4)) % 4);
  const raw = atob(padded);
  const out = new Uint8Array(new ArrayBuffer(raw.length));
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

/** The body of `POST /me/push-subscriptions` for a subscription. */
export function subscriptionBody(sub: { toJSON(): PushSubscriptionJSON }): { endpoint: string; keys: { p256dh: string; auth: string } } {
  const json = sub.toJSON();
  return { endpoint: json.endpoint ?? "", keys: { p256dh: json.keys?.p256dh ?? "", auth: json.keys?.auth ?? "" } };
}

async function registration(): Promise<ServiceWorkerRegistration | undefined> {
  return navigator.serviceWorker.getRegistration("/");
}

/** This device's push subscription, if it has one (and the permission still stands). */
export async function currentSubscription(): Promise<PushSubscription | null> {
  if (pushBlocker() !== null) return null;
  const reg = await registration();
  if (!reg || Notification.permission !== "granted") return null;
  return reg.pushManager.getSubscription();
}

export type EnableOutcome = "enabled" | "denied" | "dismissed";

/** Asks for the permission (call it from the person's click), registers the service worker, subscribes
 * with the server's VAPID key and hands the subscription to the server. */
export async function enablePush(): Promise<EnableOutcome> {
  // First, while the click still counts as the person's gesture.
  const permission = await Notification.requestPermission();
  if (permission === "denied") return "denied";
  if (permission !== "granted") return "dismissed";
  await navigator.serviceWorker.register(SW_URL, { scope: "/" });
  const reg = await navigator.serviceWorker.ready;
  let sub = await reg.pushManager.getSubscription();
  if (!sub) {
    const { key } = await api<{ key: string }>("GET", "/push/vapid-public-key");
    sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: urlBase64ToUint8Array(key) });
  }
  await api("POST", "/me/push-subscriptions", subscriptionBody(sub));
  return "enabled";
}

/** Forgets this device's subscription, on the server and in the browser. */
export async function disablePush(): Promise<void> {
  const reg = await registration();
  const sub = await reg?.pushManager.getSubscription();
  if (!sub) return;
  await api("DELETE", "/me/push-subscriptions", { endpoint: sub.endpoint });
  await sub.unsubscribe();
}
