import { describe, expect, it, vi } from "vitest";

vi.mock("./api", () => ({
  api: vi.fn(),
  ApiError: class ApiError extends Error {
    status: number;
    code: string;
    constructor(status: number, code: string, message: string) {
      super(message);
      this.status = status;
      this.code = code;
    }
  },
}));

import {
  MAX_ATTACHMENTS,
  UploadQueue,
  aspectOf,
  attachmentsOf,
  checkFile,
  contentTypeOf,
  durationRefusal,
  failureText,
  formatDuration,
  type MediaItem,
  type PresignedUpload,
  type UploadTransport,
} from "./media";

const MB = 1024 * 1024;

function file(name: string, type: string, size: number): Blob & { name: string } {
  const f = new Blob([new Uint8Array(Math.min(size, 16))], { type }) as Blob & { name: string };
  Object.defineProperty(f, "size", { value: size });
  Object.defineProperty(f, "name", { value: name });
  return f;
}

function ready(id: string, kind: "image" | "video" = "image"): MediaItem {
  return {
    id,
    kind,
    status: "ready",
    url: `/media/${id}/file`,
    thumbnail_url: kind === "image" ? `/media/${id}/thumbnail` : null,
    poster_url: kind === "video" ? `/media/${id}/poster` : null,
    width: 640,
    height: 480,
    duration_ms: kind === "video" ? 2000 : null,
    blurhash: "LEHV6nWB2yk8pyo0adR*.7kCMdnj",
  };
}

/** A transport whose every step is a deferred promise the test settles. */
function fakeTransport() {
  const puts: { upload: PresignedUpload; progress: (f: number) => void; signal: AbortSignal; resolve: () => void; reject: (e: unknown) => void }[] = [];
  let n = 0;
  const t = {
    start: vi.fn((kind: string, contentType: string, size: number) => {
      void kind;
      n += 1;
      return Promise.resolve({
        media_id: `m${n}`,
        upload: { url: `http://s3.test/up/${n}`, method: "PUT" as const, headers: { "Content-Type": contentType, "Content-Length": String(size) } },
      });
    }),
    put: vi.fn(
      (upload: PresignedUpload, _file: Blob, progress: (f: number) => void, signal: AbortSignal) =>
        new Promise<void>((resolve, reject) => {
          puts.push({ upload, progress, signal, resolve, reject });
          signal.addEventListener("abort", () => reject(Object.assign(new Error("canceled"), { code: "aborted" })));
        }),
    ),
    complete: vi.fn((id: string) => Promise.resolve({ media_id: id, status: "processing" })),
    get: vi.fn((id: string): Promise<MediaItem> => Promise.resolve({ ...ready(id), status: "processing", url: null })),
  } satisfies UploadTransport;
  return { t, puts };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

describe("checkFile mirrors the server's rules", () => {
  it("takes JPEG, PNG, WebP, GIF up to 10 MB and MP4, WebM, QuickTime up to 100 MB", () => {
    expect(checkFile({ name: "a.png", type: "image/png", size: 10 * MB })).toEqual({ ok: true, kind: "image", contentType: "image/png" });
    expect(checkFile({ name: "a.gif", type: "image/gif", size: 1 })).toMatchObject({ ok: true, kind: "image" });
    expect(checkFile({ name: "a.webp", type: "image/webp", size: 5 })).toMatchObject({ ok: true, kind: "image" });
    expect(checkFile({ name: "clip.mov", type: "video/quicktime", size: 100 * MB })).toMatchObject({ ok: true, kind: "video" });
    expect(checkFile({ name: "clip.webm", type: "video/webm", size: 3 })).toMatchObject({ ok: true, kind: "video" });
  });

  it("refuses other types and larger files with a sentence naming the file", () => {
    const big = checkFile({ name: "big.jpg", type: "image/jpeg", size: 10 * MB + 1 });
    expect(big).toEqual({ ok: false, error: "big.jpg is too large (10.0 MB): images can be at most 10 MB." });
    const video = checkFile({ name: "long.mp4", type: "video/mp4", size: 101 * MB });
    expect(video.ok).toBe(false);
    expect(!video.ok && video.error).toMatch(/videos can be at most 100 MB/);
    const heic = checkFile({ name: "photo.heic", type: "image/heic", size: 1000 });
    expect(!heic.ok && heic.error).toBe(
      "photo.heic cannot be attached: only images (JPEG, PNG, WebP or GIF) or videos (MP4, WebM or QuickTime) can.",
    );
    expect(checkFile({ name: "empty.png", type: "image/png", size: 0 })).toEqual({ ok: false, error: "empty.png is empty." });
  });

  it("can be limited to videos (a reel)", () => {
    const r = checkFile({ name: "a.png", type: "image/png", size: 10 }, ["video"]);
    expect(!r.ok && r.error).toBe("a.png cannot be attached: only videos (MP4, WebM or QuickTime) can.");
  });

  it("reads the type from the extension when the browser gives none", () => {
    expect(contentTypeOf({ name: "CLIP.MOV", type: "", size: 1 })).toBe("video/quicktime");
    expect(contentTypeOf({ name: "x.jpg", type: "image/jpg", size: 1 })).toBe("image/jpeg");
    expect(contentTypeOf({ name: "noext", type: "", size: 1 })).toBe("");
  });

  it("refuses videos over 60 s", () => {
    expect(durationRefusal("a.mp4", 60_000)).toBeNull();
    expect(durationRefusal("a.mp4", null)).toBeNull();
    expect(durationRefusal("a.mp4", 61_500)).toBe("a.mp4 is too long (1:02): videos can be at most 1:00.");
  });

  it("words helpers", () => {
    expect(formatDuration(2500)).toBe("0:03");
    expect(failureText({ code: "invalid", message: "the video is longer than 60 s" })).toBe(
      "It could not be processed: the video is longer than 60 s",
    );
    expect(failureText(null)).toBe("It could not be processed.");
    expect(aspectOf({ width: 1920, height: 1080 })).toBeCloseTo(16 / 9);
    expect(aspectOf({ width: null, height: 10 })).toBeCloseTo(4 / 3);
    expect(aspectOf({ width: 10, height: 1000 })).toBeCloseTo(1 / 3);
    expect(attachmentsOf([ready("a"), { id: 3 }, null, { id: "b", kind: "audio", url: "/x" }])).toHaveLength(1);
    expect(attachmentsOf(undefined)).toEqual([]);
  });
});

describe("UploadQueue", () => {
  it("uploads with progress, completes, and is ready on media:ready", async () => {
    const { t, puts } = fakeTransport();
    const q = new UploadQueue({ transport: t, newKey: () => "k1" });
    const seen: string[] = [];
    q.subscribe(() => seen.push(q.getSnapshot()[0]?.status ?? "-"));
    q.add([file("cat.png", "image/png", 2048)]);
    await settle();
    expect(t.start).toHaveBeenCalledWith("image", "image/png", 2048);
    expect(puts).toHaveLength(1);
    expect(q.get("k1")).toMatchObject({ status: "uploading", mediaId: "m1", progress: 0 });
    puts[0].progress(0.5);
    expect(q.get("k1")?.progress).toBe(0.5);
    puts[0].resolve();
    await settle();
    expect(t.complete).toHaveBeenCalledWith("m1");
    expect(q.get("k1")?.status).toBe("processing");
    expect(q.ready()).toEqual([]);
    t.get.mockResolvedValueOnce(ready("m1"));
    q.mediaReady({ media_id: "m1", status: "ready" });
    await settle();
    expect(q.get("k1")).toMatchObject({ status: "ready", media: { id: "m1", url: "/media/m1/file", blurhash: "LEHV6nWB2yk8pyo0adR*.7kCMdnj" } });
    expect(q.ready().map((a) => a.id)).toEqual(["m1"]);
    expect(seen).toContain("uploading");
    expect(seen).toContain("processing");
    // Sent: the ready ones leave the queue.
    expect(q.takeReady().map((a) => a.id)).toEqual(["m1"]);
    expect(q.getSnapshot()).toEqual([]);
  });

  it("refused files stay as items with their error and never reach the server", async () => {
    const { t } = fakeTransport();
    let k = 0;
    const q = new UploadQueue({ transport: t, newKey: () => `k${++k}` });
    q.add([file("notes.pdf", "application/pdf", 100), file("huge.png", "image/png", 11 * MB)]);
    await settle();
    expect(t.start).not.toHaveBeenCalled();
    expect(q.getSnapshot().map((i) => [i.status, i.error])).toEqual([
      ["failed", expect.stringContaining("notes.pdf cannot be attached")],
      ["failed", expect.stringContaining("huge.png is too large")],
    ]);
    expect(q.busy()).toEqual([]);
  });

  it("shows the server's refusal in its words", async () => {
    const { t } = fakeTransport();
    t.start.mockRejectedValueOnce(Object.assign(new Error("daily upload quota reached (1 of 2 bytes in 24 h)"), { code: "rate_limited" }));
    const q = new UploadQueue({ transport: t, newKey: () => "k" });
    q.add([file("a.png", "image/png", 10)]);
    await settle();
    expect(q.get("k")).toMatchObject({
      status: "failed",
      error: "a.png was not uploaded: daily upload quota reached (1 of 2 bytes in 24 h).",
    });
  });

  it("a processing failure (media:ready failed) is said with the reason", async () => {
    const { t, puts } = fakeTransport();
    const q = new UploadQueue({ transport: t, newKey: () => "k" });
    q.add([file("v.mp4", "video/mp4", 10)]);
    await settle();
    puts[0].resolve();
    await settle();
    q.mediaReady({ media_id: "m1", status: "failed", error: { code: "invalid", message: "the video is longer than 60 s" } });
    expect(q.get("k")).toMatchObject({ status: "failed", error: "v.mp4: It could not be processed: the video is longer than 60 s" });
  });

  it("cancel aborts the PUT and drops the item; at most `concurrency` uploads run at once", async () => {
    const { t, puts } = fakeTransport();
    let k = 0;
    const q = new UploadQueue({ transport: t, newKey: () => `k${++k}`, concurrency: 2 });
    q.add([file("1.png", "image/png", 1), file("2.png", "image/png", 1), file("3.png", "image/png", 1)]);
    await settle();
    expect(puts).toHaveLength(2);
    expect(q.get("k3")?.status).toBe("waiting");
    q.cancel("k1");
    expect(puts[0].signal.aborted).toBe(true);
    expect(q.get("k1")).toBeUndefined();
    await settle();
    expect(puts).toHaveLength(3); // the third started in its place
    expect(t.complete).not.toHaveBeenCalled();
  });

  it("polls GET /media/{id} when no media:ready comes, and gives up at the deadline", async () => {
    vi.useFakeTimers();
    try {
      const { t, puts } = fakeTransport();
      let now = 0;
      const q = new UploadQueue({ transport: t, newKey: () => "k", pollMs: 1000, deadlineMs: 5000, now: () => now });
      q.add([file("a.png", "image/png", 5)]);
      await settle();
      puts[0].resolve();
      await settle();
      expect(q.get("k")?.status).toBe("processing");
      now = 1000;
      await vi.advanceTimersByTimeAsync(1000);
      expect(t.get).toHaveBeenCalledTimes(1);
      expect(q.get("k")?.status).toBe("processing");
      t.get.mockResolvedValueOnce(ready("m1"));
      now = 2000;
      await vi.advanceTimersByTimeAsync(1000);
      expect(q.get("k")?.status).toBe("ready");

      // Another never finishes: failed at the deadline with a sentence.
      const q2 = new UploadQueue({ transport: t, newKey: () => "z", pollMs: 1000, deadlineMs: 3000, now: () => now });
      q2.add([file("b.png", "image/png", 5)]);
      await settle();
      puts[1].resolve();
      await settle();
      for (let i = 0; i < 4; i++) {
        now += 1000;
        await vi.advanceTimersByTimeAsync(1000);
      }
      expect(q2.get("z")).toMatchObject({ status: "failed", error: "b.png took too long to process. Remove it and try again." });
    } finally {
      vi.useRealTimers();
    }
  });

  it("refuses a video the browser measures over 60 s, before any upload", async () => {
    const { t } = fakeTransport();
    const q = new UploadQueue({ transport: { ...t, duration: () => Promise.resolve(75_000) }, newKey: () => "k" });
    q.add([file("long.mp4", "video/mp4", 100)]);
    expect(q.get("k")?.status).toBe("checking");
    await settle();
    expect(q.get("k")).toMatchObject({ status: "failed", error: "long.mp4 is too long (1:15): videos can be at most 1:00." });
    expect(t.start).not.toHaveBeenCalled();
  });

  it("holds at most ten attachments", () => {
    const { t } = fakeTransport();
    let k = 0;
    const q = new UploadQueue({ transport: t, newKey: () => `k${++k}` });
    q.add(Array.from({ length: MAX_ATTACHMENTS + 1 }, (_, i) => file(`${i}.png`, "image/png", 1)));
    const items = q.getSnapshot();
    expect(items.filter((i) => i.status !== "failed")).toHaveLength(MAX_ATTACHMENTS);
    expect(items[MAX_ATTACHMENTS]).toMatchObject({ status: "failed", error: "10.png was not added: a message holds at most 10 attachments." });
  });
});
