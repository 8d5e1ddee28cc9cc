import { describe, expect, it } from "vitest";
import { blockerMessage, pushBlocker, subscriptionBody, urlBase64ToUint8Array } from "./push";

const env = { isSecureContext: true, hasServiceWorker: true, hasPushManager: true, hasNotification: true };

describe("push support", () => {
  it("says what stands in the way", () => {
    expect(pushBlocker({ ...env, permission: "default" })).toBeNull();
    expect(pushBlocker({ ...env, permission: "granted" })).toBeNull();
    expect(pushBlocker({ ...env, permission: "denied" })).toBe("denied");
    expect(pushBlocker({ ...env, hasPushManager: false })).toBe("unsupported");
    expect(pushBlocker({ ...env, isSecureContext: false })).toBe("insecure");
    expect(blockerMessage("unsupported")).toMatch(/does not support push/);
    expect(blockerMessage("denied")).toMatch(/blocked/);
  });

  it("decodes a base64url VAPID key and shapes the subscription for the server", () => {
    // 0xfb 0xff 0xfe: "+//+" in base64, "-__-" in base64url
    expect([...urlBase64ToUint8Array("-__-")]).toEqual([0xfb, 0xff, 0xfe]);
    expect([...urlBase64ToUint8Array("AQ")]).toEqual([1]);
    const sub = { toJSON: () => ({ endpoint: "https://push.example/1", keys: { p256dh: "pk", auth: "au" } }) };
    expect(subscriptionBody(sub)).toEqual({ endpoint: "https://push.example/1", keys: { p256dh: "pk", auth: "au" } });
  });
});
