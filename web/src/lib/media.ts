// Media uploads: the rules a file must meet (mirroring the server's), and the upload queue of a composer.
//
// An upload is three steps (the contract of `POST /media/uploads`): the gateway hands out a presigned PUT,
// the browser sends the bytes straight to object storage with it (XMLHttpRequest, for its progress events),
// then `POST /media/{id}/complete`. Processing happens off the request path: `media:ready` on the socket says
// when it is done, and `GET /media/{id}` is polled as a fallback until a deadline.
//
// `UploadQueue` is plain TypeScript (its transport, clock and timers injectable) so it is unit-tested.

import { ApiError, api } from "./api";
import { newUuid } from "./uuid";

export type MediaKind = "image" | "video";

/** An attachment as messages carry it (and a reel's `media`). */
export interface Attachment {
  id: string;
  kind: MediaKind;
  url: string;
  thumbnail_url?: string | null;
  poster_url?: string | null;
  width?: number | null;
  height?: number | null;
  duration_ms?: number | null;
  blurhash?: string | null;
}

/** `GET /media/{id}`. */
export interface MediaItem extends Omit<Attachment, "url"> {
  status: "pending" | "processing" | "ready" | "failed";
  url: string | null;
  error?: string | null;
}

/** The `media:ready` socket event. */
export interface MediaReadyEvent {
  media_id: string;
  status: "ready" | "failed";
  error?: string | { code?: string; message?: string } | null;
}

const MB = 1024 * 1024;

/** What the server accepts (actors/domain/media.py): per kind, the types and the largest size. */
export const MEDIA_RULES: Record<MediaKind, { maxBytes: number; types: readonly string[]; names: string }> = {
  image: { maxBytes: 10 * MB, types: ["image/jpeg", "image/png", "image/webp", "image/gif"], names: "JPEG, PNG, WebP or GIF" },
  video: { maxBytes: 100 * MB, types: ["video/mp4", "video/webm", "video/quicktime"], names: "MP4, WebM or QuickTime" },
};
/** The longest video, checked here when the browser can read its duration (and by processing anyway). */
export const MAX_VIDEO_MS = 60_000;
/** Attachments of one message. */
export const MAX_ATTACHMENTS = 10;

/** The `accept` of a file input for these kinds. */
export function acceptOf(kinds: readonly MediaKind[] = ["image", "video"]): string {
  return kinds.flatMap((k) => MEDIA_RULES[k].types).join(",");
}

const BY_EXTENSION: Record<string, string> = {
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  gif: "image/gif",
  mp4: "video/mp4",
  m4v: "video/mp4",
  webm: "video/webm",
  mov: "video/quicktime",
};

/** What the code needs of a file (a `File` fits). */
export interface FileLike {
  name: string;
  type: string;
  size: number;
}

/** The file's media type: the browser's, else from its extension (some systems give none). */
export function contentTypeOf(file: FileLike): string {
  const declared = (file.type || "").toLowerCase().split(";")[0].trim();
  if (declared) return declared === "image/jpg" ? "image/jpeg" : declared;
  const ext = /\.([a-z0-9]+)$/i.exec(file.name)?.[1]?.toLowerCase() ?? "";
  return BY_EXTENSION[ext] ?? "";
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < MB) return `${Math.round(n / 1024)} KB`;
  const mb = n / MB;
  return `${Number.isInteger(mb) ? mb : mb.toFixed(1)} MB`;
}

/** "0:07", "1:05" */
export function formatDuration(ms: number | null | undefined): string {
  const s = Math.max(0, Math.round((ms ?? 0) / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export type Checked = { ok: true; kind: MediaKind; contentType: string } | { ok: false; error: string };

/** Whether the server would take this file (its type and size), and as which kind; else why not, in a
 * sentence naming the file. `kinds`: the kinds wanted here (a reel takes videos only). */
export function checkFile(file: FileLike, kinds: readonly MediaKind[] = ["image", "video"]): Checked {
  const name = file.name || "The pasted file";
  const type = contentTypeOf(file);
  const kind = (Object.keys(MEDIA_RULES) as MediaKind[]).find((k) => MEDIA_RULES[k].types.includes(type));
  const allowed = kinds.map((k) => `${k === "image" ? "images" : "videos"} (${MEDIA_RULES[k].names})`).join(" or ");
  if (!kind || !kinds.includes(kind)) {
    return { ok: false, error: `${name} cannot be attached: only ${allowed} can.` };
  }
  const rule = MEDIA_RULES[kind];
  if (file.size < 1) return { ok: false, error: `${name} is empty.` };
  if (file.size > rule.maxBytes) {
    return {
      ok: false,
      error: `${name} is too large (${formatBytes(file.size)}): ${kind}s can be at most ${formatBytes(rule.maxBytes)}.`,
    };
  }
  return { ok: true, kind, contentType: type };
}

/** Why a video of this duration is refused (null when fine or unknown). */
export function durationRefusal(name: string, durationMs: number | null): string | null {
  if (durationMs === null || !Number.isFinite(durationMs) || durationMs <= MAX_VIDEO_MS) return null;
  return `${name || "The video"} is too long (${formatDuration(durationMs)}): videos can be at most ${formatDuration(MAX_VIDEO_MS)}.`;
}

/** The error of a `media:ready` failure or a failed media item, as a sentence. */
export function failureText(error: MediaReadyEvent["error"]): string {
  const text = typeof error === "string" ? error : error?.message ?? "";
  const t = text.trim();
  return t ? `It could not be processed: ${t}` : "It could not be processed.";
}

/** The attachment of a ready media item. */
export function attachmentOf(m: MediaItem): Attachment {
  return {
    id: m.id,
    kind: m.kind,
    url: m.url ?? "",
    thumbnail_url: m.thumbnail_url ?? null,
    poster_url: m.poster_url ?? null,
    width: m.width ?? null,
    height: m.height ?? null,
    duration_ms: m.duration_ms ?? null,
    blurhash: m.blurhash ?? null,
  };
}

/** The attachments of a message as the server sent them: only well-formed ones. */
export function attachmentsOf(raw: unknown): Attachment[] {
  if (!Array.isArray(raw)) return [];
  return raw.filter(
    (a): a is Attachment =>
      !!a && typeof a === "object" && typeof (a as Attachment).id === "string" && typeof (a as Attachment).url === "string" &&
      ((a as Attachment).kind === "image" || (a as Attachment).kind === "video"),
  );
}

/** The width/height ratio to reserve for a media item (4:3 when unknown), kept within sane bounds. */
export function aspectOf(a: Pick<Attachment, "width" | "height">): number {
  const w = a.width ?? 0;
  const h = a.height ?? 0;
  if (w <= 0 || h <= 0) return 4 / 3;
  return Math.min(3, Math.max(1 / 3, w / h));
}

// -- the transport ---------------------------------------------------------------------------------------

export interface PresignedUpload {
  url: string;
  method: "PUT";
  headers: Record<string, string>;
  expires_at?: string;
}

export interface UploadOut {
  media_id: string;
  upload: PresignedUpload;
}

export interface UploadTransport {
  start: (kind: MediaKind, contentType: string, size: number) => Promise<UploadOut>;
  /** Sends the bytes; reports progress as a fraction; rejects (an `ApiError`) on failure or abort. */
  put: (upload: PresignedUpload, file: Blob, onProgress: (fraction: number) => void, signal: AbortSignal) => Promise<void>;
  complete: (mediaId: string) => Promise<{ media_id: string; status: string }>;
  get: (mediaId: string) => Promise<MediaItem>;
  /** The video's duration in ms when the browser can tell (null otherwise). */
  duration?: (file: Blob) => Promise<number | null>;
}

/** Headers a script may not set (the browser sets them itself and refuses to let a script). */
const FORBIDDEN_HEADERS = new Set(["content-length", "host", "connection", "expect", "keep-alive", "transfer-encoding"]);

/** The presigned PUT with XMLHttpRequest (fetch has no upload progress). */
export function xhrPut(upload: PresignedUpload, file: Blob, onProgress: (f: number) => void, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(upload.method || "PUT", upload.url);
    for (const [name, value] of Object.entries(upload.headers ?? {})) {
      if (!FORBIDDEN_HEADERS.has(name.toLowerCase())) xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve();
      } else if (xhr.status === 403) {
        reject(new ApiError(403, "forbidden", "the storage refused the upload (its link may have expired)"));
      } else {
        reject(new ApiError(xhr.status, xhr.status >= 500 ? "unavailable" : "invalid", `the storage answered ${xhr.status}`));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, "network", "could not reach the storage"));
    xhr.ontimeout = () => reject(new ApiError(0, "timeout", "the upload took too long"));
    xhr.onabort = () => reject(new ApiError(0, "aborted", "canceled"));
    if (signal.aborted) {
      reject(new ApiError(0, "aborted", "canceled"));
      return;
    }
    signal.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(file);
  });
}

/** A video's duration as the browser reads it from its metadata (null when it cannot, within 5 s). */
export function videoDuration(file: Blob): Promise<number | null> {
  if (typeof document === "undefined" || typeof URL.createObjectURL !== "function") return Promise.resolve(null);
  return new Promise((resolve) => {
    const url = URL.createObjectURL(file);
    const video = document.createElement("video");
    const done = (ms: number | null) => {
      clearTimeout(timer);
      video.removeAttribute("src");
      video.load();
      URL.revokeObjectURL(url);
      resolve(ms);
    };
    const timer = setTimeout(() => done(null), 5000);
    video.preload = "metadata";
    video.muted = true;
    video.onloadedmetadata = () => done(Number.isFinite(video.duration) ? Math.round(video.duration * 1000) : null);
    video.onerror = () => done(null);
    video.src = url;
  });
}

export const httpTransport: UploadTransport = {
  start: (kind, contentType, size) => api<UploadOut>("POST", "/media/uploads", { kind, content_type: contentType, size }),
  put: xhrPut,
  complete: (id) => api("POST", `/media/${id}/complete`),
  get: (id) => api<MediaItem>("GET", `/media/${id}`),
  duration: videoDuration,
};

// -- the queue -----------------------------------------------------------------------------------------------

export type UploadStatus = "checking" | "waiting" | "uploading" | "processing" | "ready" | "failed" | "canceled";

export interface UploadItem {
  key: string;
  name: string;
  kind: MediaKind;
  contentType: string;
  size: number;
  status: UploadStatus;
  /** 0..1 of the bytes sent. */
  progress: number;
  mediaId?: string;
  /** Once ready. */
  media?: Attachment;
  /** Why it failed, as a sentence. */
  error?: string;
  /** A local preview (an object URL of the file) while it is in the composer. */
  preview?: string;
}

export interface QueueOptions {
  transport?: UploadTransport;
  /** Uploads at a time. */
  concurrency?: number;
  /** Most items held (the attachments of one message). */
  max?: number;
  kinds?: readonly MediaKind[];
  /** Poll `GET /media/{id}` this often while processing (the socket's `media:ready` usually comes first). */
  pollMs?: number;
  /** Give up on processing after this long. */
  deadlineMs?: number;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (t: unknown) => void;
  /** Makes a preview URL of a file (none in tests). */
  preview?: (file: Blob, kind: MediaKind) => string | undefined;
  revoke?: (url: string) => void;
  newKey?: () => string;
}

/** A refusal sentence for the item's failure: the server's words, else a general one. */
function uploadError(name: string, err: unknown): string {
  const e = err as { code?: string; message?: string } | null;
  const detail = (e?.message ?? "").trim();
  const what = name || "The file";
  switch (e?.code) {
    case "too_large":
      return `${what} is too large${detail ? `: ${detail}` : "."}`;
    case "invalid":
      return `${what} was refused${detail ? `: ${detail}` : "."}`;
    case "rate_limited":
      return `${what} was not uploaded: ${detail || "too many uploads, wait a while"}.`;
    case "network":
    case "timeout":
    case "offline":
      return `${what} was not uploaded: the connection failed. Remove it and try again.`;
    case "unavailable":
      return `${what} was not uploaded: media storage is unavailable right now.`;
    default:
      return `${what} was not uploaded${detail ? `: ${detail}` : "."}`;
  }
}

/**
 * The files of one composer on their way to becoming attachments: checked, uploaded (a few at a time, with
 * progress), completed, then processing until `media:ready` (or a poll) says ready or failed. Items can be
 * canceled (the PUT is aborted) and removed; a refused file is an item with its error, so the composer can
 * show it.
 */
export class UploadQueue {
  private items: UploadItem[] = [];
  private snapshot: readonly UploadItem[] = [];
  private listeners = new Set<() => void>();
  private files = new Map<string, Blob>();
  private aborts = new Map<string, AbortController>();
  private polls = new Map<string, { timer: unknown; until: number }>();
  private readonly o: Required<Omit<QueueOptions, "preview" | "revoke">> & Pick<QueueOptions, "preview" | "revoke">;

  constructor(options: QueueOptions = {}) {
    this.o = {
      transport: httpTransport,
      concurrency: 2,
      max: MAX_ATTACHMENTS,
      kinds: ["image", "video"],
      pollMs: 2000,
      deadlineMs: 5 * 60_000,
      now: () => Date.now(),
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
      newKey: newUuid,
      ...options,
    };
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  getSnapshot = (): readonly UploadItem[] => this.snapshot;

  private changed(): void {
    this.snapshot = this.items.slice();
    for (const l of this.listeners) l();
  }

  private patch(key: string, patch: Partial<UploadItem>): void {
    const i = this.items.findIndex((it) => it.key === key);
    if (i < 0) return;
    this.items[i] = { ...this.items[i], ...patch };
    this.changed();
  }

  get(key: string): UploadItem | undefined {
    return this.items.find((it) => it.key === key);
  }

  /** Items that still count towards a message (not failed or canceled). */
  private live(): UploadItem[] {
    return this.items.filter((it) => it.status !== "failed" && it.status !== "canceled");
  }

  /** Adds files: each becomes an item (a refused one with its error). Returns the new items. */
  add(files: Iterable<File | (Blob & FileLike)>): UploadItem[] {
    const added: UploadItem[] = [];
    for (const file of files) {
      const key = this.o.newKey();
      const checked = checkFile(file, this.o.kinds);
      const base = { key, name: file.name || "pasted file", size: file.size, progress: 0 };
      if (!checked.ok) {
        added.push({ ...base, kind: "image", contentType: file.type, status: "failed", error: checked.error });
        continue;
      }
      if (this.live().length + added.filter((a) => a.status !== "failed").length >= this.o.max) {
        added.push({
          ...base,
          kind: checked.kind,
          contentType: checked.contentType,
          status: "failed",
          error: `${base.name} was not added: a message holds at most ${this.o.max} attachments.`,
        });
        continue;
      }
      this.files.set(key, file);
      added.push({
        ...base,
        kind: checked.kind,
        contentType: checked.contentType,
        status: checked.kind === "video" && this.o.transport.duration ? "checking" : "waiting",
        preview: this.o.preview?.(file, checked.kind),
      });
    }
    this.items.push(...added);
    this.changed();
    for (const it of added) if (it.status === "checking") void this.checkDuration(it.key);
    this.pump();
    return added;
  }

  private async checkDuration(key: string): Promise<void> {
    const file = this.files.get(key);
    const it = this.get(key);
    if (!file || !it || !this.o.transport.duration) return;
    const ms = await this.o.transport.duration(file).catch(() => null);
    if (this.get(key)?.status !== "checking") return; // canceled meanwhile
    const why = durationRefusal(it.name, ms);
    if (why) this.fail(key, why);
    else this.patch(key, { status: "waiting" });
    this.pump();
  }

  /** Starts waiting uploads while fewer than `concurrency` are running. */
  private pump(): void {
    let running = this.items.filter((it) => it.status === "uploading").length;
    for (const it of this.items) {
      if (running >= this.o.concurrency) break;
      if (it.status !== "waiting") continue;
      running++;
      void this.upload(it.key);
    }
  }

  private fail(key: string, error: string): void {
    this.stopPoll(key);
    this.files.delete(key);
    this.aborts.delete(key);
    this.patch(key, { status: "failed", error });
  }

  private async upload(key: string): Promise<void> {
    const it = this.get(key);
    const file = this.files.get(key);
    if (!it || !file) return;
    const abort = new AbortController();
    this.aborts.set(key, abort);
    this.patch(key, { status: "uploading", progress: 0, error: undefined });
    const { transport } = this.o;
    try {
      const out = await transport.start(it.kind, it.contentType, it.size);
      if (abort.signal.aborted) return;
      this.patch(key, { mediaId: out.media_id });
      await transport.put(out.upload, file, (f) => {
        if (!abort.signal.aborted) this.patch(key, { progress: Math.max(0, Math.min(1, f)) });
      }, abort.signal);
      if (abort.signal.aborted) return;
      const done = await transport.complete(out.media_id);
      if (abort.signal.aborted) return;
      this.files.delete(key);
      this.aborts.delete(key);
      this.patch(key, { status: "processing", progress: 1 });
      if (done.status === "ready") await this.fetchReady(key, out.media_id);
      else if (done.status === "failed") this.fail(key, `${it.name}: ${failureText(null)}`);
      else this.startPoll(key);
    } catch (err) {
      if (abort.signal.aborted || (err as { code?: string })?.code === "aborted") return;
      this.fail(key, uploadError(it.name, err));
    } finally {
      this.pump();
    }
  }

  /** `media:ready` from the socket: the item it names is ready (its attachment fetched) or failed. */
  mediaReady(event: MediaReadyEvent): void {
    const it = this.items.find((x) => x.mediaId === event.media_id);
    if (!it || (it.status !== "processing" && it.status !== "uploading")) return;
    if (event.status === "failed") this.fail(it.key, `${it.name}: ${failureText(event.error)}`);
    else if (it.status === "processing") void this.fetchReady(it.key, event.media_id);
  }

  /** Whether this queue holds that media (a `media:ready` for it is ours). */
  owns(mediaId: string): boolean {
    return this.items.some((x) => x.mediaId === mediaId);
  }

  private async fetchReady(key: string, mediaId: string): Promise<void> {
    try {
      const m = await this.o.transport.get(mediaId);
      this.settle(key, m);
    } catch {
      this.startPoll(key);
    }
  }

  /** A fetched media item: ready (the attachment), failed (its error) or still processing. */
  private settle(key: string, m: MediaItem): boolean {
    const it = this.get(key);
    if (!it || it.status !== "processing") return true;
    if (m.status === "ready" && m.url) {
      this.stopPoll(key);
      this.patch(key, { status: "ready", media: attachmentOf(m) });
      return true;
    }
    if (m.status === "failed") {
      this.fail(key, `${it.name}: ${failureText(m.error)}`);
      return true;
    }
    return false;
  }

  private startPoll(key: string): void {
    const held = this.polls.get(key);
    const until = held?.until ?? this.o.now() + this.o.deadlineMs;
    if (held) this.o.clearTimer(held.timer);
    const tick = async () => {
      const it = this.get(key);
      if (!it || it.status !== "processing" || !it.mediaId) return this.stopPoll(key);
      try {
        if (this.settle(key, await this.o.transport.get(it.mediaId))) return;
      } catch {
        // a failed poll: try again until the deadline
      }
      if (this.get(key)?.status !== "processing") return;
      if (this.o.now() >= until) {
        this.fail(key, `${it.name} took too long to process. Remove it and try again.`);
        return;
      }
      this.polls.set(key, { timer: this.o.setTimer(() => void tick(), this.o.pollMs), until });
    };
    this.polls.set(key, { timer: this.o.setTimer(() => void tick(), this.o.pollMs), until });
  }

  private stopPoll(key: string): void {
    const p = this.polls.get(key);
    if (p) this.o.clearTimer(p.timer);
    this.polls.delete(key);
  }

  /** Stops an item's upload (or its wait) and drops it. */
  cancel(key: string): void {
    this.aborts.get(key)?.abort();
    this.remove(key);
  }

  /** Drops an item (its upload aborted, its preview released). */
  remove(key: string): void {
    this.aborts.get(key)?.abort();
    this.aborts.delete(key);
    this.stopPoll(key);
    this.files.delete(key);
    const it = this.get(key);
    if (it?.preview) this.o.revoke?.(it.preview);
    this.items = this.items.filter((x) => x.key !== key);
    this.changed();
    this.pump();
  }

  /** The ready attachments, in the order added. */
  ready(): Attachment[] {
    return this.items.filter((it) => it.status === "ready" && it.media).map((it) => it.media as Attachment);
  }

  /** Items still on their way (checking, waiting, uploading or processing). */
  busy(): UploadItem[] {
    return this.items.filter((it) => ["checking", "waiting", "uploading", "processing"].includes(it.status));
  }

  /** Drops the ready items (sent with a message); failed ones stay until removed. */
  takeReady(): Attachment[] {
    const out = this.ready();
    for (const it of this.items.filter((x) => x.status === "ready")) this.remove(it.key);
    return out;
  }

  /** Drops everything (aborting uploads). */
  clear(): void {
    for (const it of this.items.slice()) this.remove(it.key);
  }
}

// -- one queue per composer, and media:ready -----------------------------------------------------------------

const queues = new Map<string, UploadQueue>();

function browserPreview(file: Blob, kind: MediaKind): string | undefined {
  if (kind !== "image" || typeof URL.createObjectURL !== "function") return undefined;
  return URL.createObjectURL(file);
}

/** The upload queue of a composer (a room's: kept across room switches, like its draft). */
export function uploadQueueFor(key: string, options: QueueOptions = {}): UploadQueue {
  let q = queues.get(key);
  if (!q) {
    q = new UploadQueue({ preview: browserPreview, revoke: (u) => URL.revokeObjectURL(u), ...options });
    queues.set(key, q);
  }
  return q;
}

/** Forgets a queue (its uploads stopped). */
export function dropUploadQueue(key: string): void {
  queues.get(key)?.clear();
  queues.delete(key);
}

/** Hands a `media:ready` event to whichever queue started that upload. */
export function dispatchMediaReady(event: MediaReadyEvent): void {
  if (!event || typeof event.media_id !== "string") return;
  for (const q of queues.values()) if (q.owns(event.media_id)) q.mediaReady(event);
}

/** Every queue's items dropped (logout). */
export function clearUploadQueues(): void {
  for (const key of [...queues.keys()]) dropUploadQueue(key);
}
